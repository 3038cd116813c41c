// What the browser tests share: a free loopback port, the latchkeyd command line on a data
// directory, and the TOTP codes (RFC 6238, SHA-1, 6 digits) of a base32 secret.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import net from "node:net";

/// A function that runs `latchkeyd --data-dir DIR ARGS...` with `input` on stdin.
export function cliOf(latchkeyd) {
  return (dataDir, args, input) =>
    execFileSync(latchkeyd, ["--data-dir", dataDir, ...args], { input, encoding: "utf8" });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, "")) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

export function totp(secret, stepNo) {
  const counter = Buffer.alloc(8);
  counter.writeBigInt64BE(BigInt(stepNo));
  const mac = crypto.createHmac("sha1", secret).update(counter).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1000000).padStart(6, "0");
}
