// Latchkey in a real browser: headless Chromium driven by playwright-core, with the
// DevTools Protocol virtual authenticator standing in for a FIDO2 security key (BRIEF §5).
//
// Starts its own latchkeyd (plain HTTP on loopback, public URL http://localhost:PORT, a
// fresh data directory), then: password + TOTP sign-in, register a security key on the
// Security info page, sign out, sign in with the key alone, and an OpenID Connect
// application (this script, over a loopback callback) gets an ID token for the user through
// the code flow with PKCE and checks it against the JWKS with Node's own crypto. Refused:
// a bogus signature, missing user verification, a counter that goes backwards, a removed
// key, an eleventh key, and keys or sign-ins the tenant's settings refuse (the settings
// CLI and API included). Screenshots go to $LATCHKEY_SCREENSHOTS (default
// tests/browser/screenshots). Pages with security keys are checked with axe-core too
// (a11y.mjs); admin.mjs covers the Administration pages, confirmations and error pages.
//
// Env: LATCHKEY_BIN_DIR (the latchkeyd binary), CHROMIUM (default /usr/bin/chromium).
import { spawn, execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { base32Decode, cliOf, freePort, totp } from "./support.mjs";
import { checkAccessible } from "./a11y.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const binDir = process.env.LATCHKEY_BIN_DIR || path.join(os.homedir(), ".cache/latchkey-target/debug");
const latchkeyd = path.join(binDir, "latchkeyd");
const shots = process.env.LATCHKEY_SCREENSHOTS || path.join(here, "screenshots");
const UPN = "alice@example.com";
const PASSWORD = "correct horse battery";
let failures = 0;
let step = 0;

function check(cond, what) {
  if (cond) {
    console.log(`ok   ${what}`);
  } else {
    failures++;
    console.log(`FAIL ${what}`);
  }
}

const cli = cliOf(latchkeyd);

// Each password sign-in needs a TOTP step later than the last one used; the service
// accepts one step of drift either way. The previous step's code stays good only until
// the current step ends, so it is used only with 20 s of that left: a slow machine
// between filling the form and the service's check must not push it out of the window.
let lastStep = -1;
async function freshOtp(secret) {
  for (;;) {
    const seconds = Date.now() / 1000;
    const now = Math.floor(seconds / 30);
    const earliest = seconds - now * 30 < 10 ? now - 1 : now;
    const s = Math.max(earliest, lastStep + 1);
    if (s <= now + 1) {
      lastStep = s;
      return totp(secret, s);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function shot(page, name) {
  step++;
  await page.screenshot({ path: path.join(shots, `${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-browser-"));
  const dataDir = path.join(tmp, "data");
  // Admin commands need an existing data directory: create it as an administrator would.
  cli(dataDir, ["init"]);
  const created = JSON.parse(cli(dataDir, ["--json", "user", "add", UPN, "--password-stdin"], PASSWORD + "\n"));
  const secret = base32Decode(new URL(created.otpauth_uri).searchParams.get("secret"));
  cli(dataDir, ["group", "add", "latchkey-admins"]);
  cli(dataDir, ["group", "member", "add", "latchkey-admins", "--user", UPN]);
  cli(dataDir, ["security-key", "set", "--allow-signin", "true"]);
  const adminToken = JSON.parse(cli(dataDir, ["--json", "admin-token", "create", "--label", "browser test"])).token;
  // A root that no authenticator's attestation chains to (the tenant's settings need one
  // before they can require a trusted root).
  const rootPem = path.join(tmp, "unrelated-root.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path.join(tmp, "root.key"), "-out", rootPem, "-subj", "/CN=Unrelated attestation root", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"], { stdio: "ignore" });
  const appPort = await freePort();
  const redirectUri = `http://localhost:${appPort}/callback`;
  const app = JSON.parse(cli(dataDir, ["--json", "client", "add", "Browser test app", "--redirect-uri", redirectUri, "--public"]));

  const port = await freePort();
  const base = `http://localhost:${port}`;
  const server = spawn(latchkeyd, ["--data-dir", dataDir, "serve", "--insecure-http", "--listen", `127.0.0.1:${port}`, "--public-url", base], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    server.stdout.on("data", (d) => { if (String(d).includes("listening on")) resolve(); });
    server.on("exit", (code) => reject(new Error(`latchkeyd exited with ${code}`)));
  });

  // The application's callback: records the query it is redirected to.
  let callback = null;
  const appServer = http.createServer((req, res) => {
    const url = new URL(req.url, redirectUri);
    if (url.pathname === "/callback") callback = url;
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end("<!DOCTYPE html><title>App</title><h1>Application received the code</h1>");
  });
  await new Promise((r) => appServer.listen(appPort, "127.0.0.1", r));

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"],
  });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const newAuthenticator = async () => (await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { protocol: "ctap2", transport: "usb", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    })).authenticatorId;
    const override = (authenticatorId, bits) => cdp.send("WebAuthn.setResponseOverrideBits", { authenticatorId, isBogusSignature: false, isBadUV: false, isBadUP: false, ...bits });

    const passwordSignIn = async () => {
      await page.goto(`${base}/signin`);
      await page.fill("#upn", UPN);
      await page.fill("#password", PASSWORD);
      await page.fill("#otp", await freshOtp(secret));
      await Promise.all([page.waitForURL((url) => url.pathname !== "/signin"), page.click("#password-signin")]);
      if (!/security-info/.test(page.url())) {
        const said = await page.locator("[role=alert]").allTextContents();
        throw new Error(`password sign-in stayed on ${page.url()}: ${said.join(" | ") || "(no message)"}`);
      }
    };
    const signOut = async () => {
      await Promise.all([page.waitForURL(/signin/), page.click("#signout")]);
    };
    const addKey = async (name) => {
      await page.fill("#key-name", name);
      const navigated = page.waitForNavigation({ timeout: 15000 }).then(() => true).catch(() => false);
      await page.click("#add-key");
      const failed = page.waitForFunction(() => document.getElementById("key-status").className === "error", null, { timeout: 15000 }).then(() => false).catch(() => false);
      await Promise.race([navigated, failed]);
      await page.waitForLoadState("load");
    };
    const keyRows = () => page.locator("#security-keys tbody tr").count();
    // Signs in with a key from the sign-in page; returns the status text ("" when it
    // reached Security info).
    const keySignIn = async (upn) => {
      await page.goto(`${base}/signin`);
      if (upn) await page.fill("#key-upn", upn);
      await page.click("#key-signin");
      await page.waitForFunction(() => location.pathname !== "/signin" || document.getElementById("key-status").className === "error", null, { timeout: 15000 });
      if (new URL(page.url()).pathname !== "/signin") return "";
      return page.textContent("#key-status");
    };

    // 1. Password + TOTP.
    await page.goto(`${base}/signin`);
    await shot(page, "signin-page");
    await passwordSignIn();
    check((await page.textContent("#whoami")) === UPN, "password + TOTP sign-in reaches Security info");
    await shot(page, "security-info-empty");

    // 2. Register a security key.
    const authA = await newAuthenticator();
    await addKey("Blue key");
    check((await keyRows()) === 1, "a security key is registered on Security info");
    await checkAccessible(page, check, "Security info with a security key");
    check((await page.textContent("#security-keys")).includes("Blue key"), "the key carries the name given");
    await shot(page, "security-info-key-added");

    // 3. Sign out, sign in with the key alone (discoverable credential, no user name).
    await signOut();
    check((await keySignIn(null)) === "", "sign-in with the security key alone (discoverable)");
    check((await page.textContent("#whoami")) === UPN, "the key signs in its user");
    await shot(page, "signed-in-with-key");

    // 4. An OpenID Connect application gets an ID token through the code flow + PKCE.
    const verifier = crypto.randomBytes(32).toString("base64url");
    const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
    const nonce = crypto.randomBytes(12).toString("base64url");
    const auth = new URL(`${base}/oauth2/authorize`);
    Object.entries({ response_type: "code", client_id: app.client_id, redirect_uri: redirectUri, scope: "openid profile", state: "xyz", nonce, code_challenge: challenge, code_challenge_method: "S256" })
      .forEach(([k, v]) => auth.searchParams.set(k, v));
    await page.goto(auth.toString());
    await shot(page, "application-callback");
    check(callback && callback.searchParams.get("state") === "xyz" && callback.searchParams.get("code"), "the application is redirected back with a code");
    const discovery = await (await fetch(`${base}/.well-known/openid-configuration`)).json();
    const tokenResponse = await fetch(discovery.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code: callback.searchParams.get("code"), redirect_uri: redirectUri, client_id: app.client_id, code_verifier: verifier }),
    });
    const tokens = await tokenResponse.json();
    check(tokenResponse.status === 200 && tokens.id_token, "the token endpoint returns an ID token");
    const [h, p, s] = tokens.id_token.split(".");
    const header = JSON.parse(Buffer.from(h, "base64url"));
    const claims = JSON.parse(Buffer.from(p, "base64url"));
    const jwks = await (await fetch(discovery.jwks_uri)).json();
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    const valid = crypto.verify("sha256", Buffer.from(`${h}.${p}`), { key: crypto.createPublicKey({ key: jwk, format: "jwk" }), dsaEncoding: "ieee-p1363" }, Buffer.from(s, "base64url"));
    check(valid, "the ID token's ES256 signature verifies with the JWKS");
    check(claims.iss === base && claims.aud === app.client_id && claims.nonce === nonce && claims.upn === UPN, "the ID token names the issuer, the application, the nonce and the user");
    check(["hwk", "pin", "mfa"].every((m) => claims.amr.includes(m)) && !claims.amr.includes("pwd"), `the ID token's amr tells a security-key sign-in (${claims.amr.join(" ")})`);

    // 5. Refused: a bogus signature, missing user verification.
    await page.goto(`${base}/security-info`);
    await signOut();
    await override(authA, { isBogusSignature: true });
    const bogus = await keySignIn(UPN);
    check(bogus.includes("LK-SK-003"), `a bogus signature is refused (${bogus})`);
    await shot(page, "refused-bogus-signature");
    await override(authA, { isBadUV: true });
    const noUv = await keySignIn(UPN);
    check(noUv.includes("LK-SK-008"), `missing user verification is refused (${noUv})`);
    await override(authA, {});

    // 6. Username then key works; then a counter that goes backwards is refused.
    check((await keySignIn(UPN)) === "", "sign-in with user name then security key");
    await signOut();
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: authA });
    const cred = credentials[0];
    await cdp.send("WebAuthn.removeCredential", { authenticatorId: authA, credentialId: cred.credentialId });
    await cdp.send("WebAuthn.addCredential", { authenticatorId: authA, credential: { ...cred, signCount: 0 } });
    const cloned = await keySignIn(null);
    check(cloned.includes("LK-SK-006"), `a counter that goes backwards is refused (${cloned})`);
    await shot(page, "refused-counter-regression");
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: authA });

    // 7. A removed key is refused.
    await passwordSignIn();
    const authB = await newAuthenticator();
    await addKey("Spare key");
    check((await keyRows()) === 2, "a second key is registered");
    await Promise.all([page.waitForURL(/security-info/), page.click('button[aria-label="Remove Spare key"]')]);
    check((await keyRows()) === 1, "the second key is removed on Security info");
    await signOut();
    const removed = await keySignIn(null);
    check(removed.includes("LK-SK-005"), `a removed key is refused (${removed})`);
    await shot(page, "refused-removed-key");
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: authB });

    // 8. The tenant's settings: the settings API refuses callers without an administrator
    // token and malformed settings, changing nothing; an AAGUID allow list without the
    // authenticator's model, a block list with it, and a required trusted root refuse the
    // key at registration (LK-SK-004, no key added); an allow list with it accepts it;
    // security-key sign-in turned off is refused (LK-SK-007) and works again once on.
    const settingsApi = async (method, body, token) => {
      const headers = { "Content-Type": "application/json" };
      if (token) headers.Authorization = `Bearer ${token}`;
      const r = await fetch(`${base}/v1/security-keys/settings`, { method, headers, body });
      return { status: r.status, body: await r.json().catch(() => null) };
    };
    const listed = JSON.parse(cli(dataDir, ["--json", "security-key", "list", "--user", UPN]));
    const { aaguid, format } = listed[0];
    check(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(aaguid), `the registered key's AAGUID is listed (${aaguid}, ${format}, trusted root ${listed[0].trusted_root})`);
    const before = await settingsApi("GET", undefined, adminToken);
    check(before.status === 200 && before.body.aaguid_mode === "any" && before.body.require_trusted_root === false, "GET settings with an administrator token");
    const allowOther = JSON.stringify({ require_trusted_root: false, aaguid_mode: "allow", aaguids: "00000000-0000-0000-0000-00000000000a", roots_pem: "" });
    for (const [what, r, code] of [
      ["GET without a token", await settingsApi("GET"), "LK-AUTH-004"],
      ["PUT without a token", await settingsApi("PUT", allowOther), "LK-AUTH-004"],
      ["PUT with a wrong token", await settingsApi("PUT", allowOther, "not-a-token"), "LK-AUTH-004"],
      ["PUT with a body that is not JSON", await settingsApi("PUT", "{aaguid_mode: allow", adminToken), "LK-REQ-001"],
      ["PUT with an unknown member", await settingsApi("PUT", JSON.stringify({ ...JSON.parse(allowOther), allow_everything: true }), adminToken), "LK-REQ-001"],
      ["PUT with an unknown AAGUID mode", await settingsApi("PUT", JSON.stringify({ ...JSON.parse(allowOther), aaguid_mode: "sometimes" }), adminToken), "LK-POLICY-001"],
      ["PUT with an AAGUID that is not one", await settingsApi("PUT", JSON.stringify({ ...JSON.parse(allowOther), aaguids: "yubikey" }), adminToken), "LK-POLICY-001"],
      ["PUT requiring a trusted root with none configured", await settingsApi("PUT", JSON.stringify({ ...JSON.parse(allowOther), require_trusted_root: true }), adminToken), "LK-POLICY-001"],
    ]) {
      check(r.body && r.body.code === code, `settings API: ${what} is refused with ${code} (${r.status} ${r.body && r.body.code})`);
    }
    const after = await settingsApi("GET", undefined, adminToken);
    check(JSON.stringify(after.body) === JSON.stringify(before.body), "the refused settings requests changed nothing");

    await passwordSignIn();
    const keysBefore = await keyRows();
    // Registers a key on a fresh authenticator; returns [status text, authenticator id].
    const tryKey = async (name) => {
      const id = await newAuthenticator();
      await addKey(name);
      const status = await page.textContent("#key-status");
      return [status, id];
    };
    const refusedKey = async (what, name) => {
      const [status, id] = await tryKey(name);
      check(status.includes("LK-SK-004") && (await keyRows()) === keysBefore, `${what}: the key is refused and not added (${status})`);
      await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: id });
    };
    const put = await settingsApi("PUT", allowOther, adminToken);
    check(put.status === 200 && put.body.aaguid_mode === "allow", "PUT settings: an allow list without this model");
    await refusedKey("AAGUID allow list without its model", "Not allowed");
    cli(dataDir, ["security-key", "set", "--aaguid-mode", "block", "--aaguids", aaguid]);
    await refusedKey("AAGUID block list with its model", "Blocked");
    cli(dataDir, ["security-key", "set", "--aaguid-mode", "any", "--roots", rootPem, "--require-trusted-root", "true"]);
    await refusedKey(`attestation (${format}) not chaining to a configured root`, "Untrusted");
    cli(dataDir, ["security-key", "set", "--require-trusted-root", "false", "--aaguid-mode", "allow", "--aaguids", `00000000-0000-0000-0000-00000000000a,${aaguid.toUpperCase()}`]);
    const [allowedStatus, authC] = await tryKey("Allowed model");
    check((await keyRows()) === keysBefore + 1 && (await page.textContent("#security-keys")).includes("Allowed model"), `AAGUID allow list with its model: the key is added (${allowedStatus})`);

    const off = JSON.parse(cli(dataDir, ["--json", "security-key", "set", "--allow-signin", "false"]));
    check(off.use_security_key_for_signin === false && off.aaguid_mode === "allow", "security-key set --allow-signin false");
    check(cli(dataDir, ["security-key", "settings"]).match(/security-key sign-in:\s+no/), "security-key settings shows sign-in off");
    await signOut();
    const disabledNamed = await keySignIn(UPN);
    check(disabledNamed.includes("LK-SK-007"), `security-key sign-in off: user name then key is refused (${disabledNamed})`);
    const disabledAlone = await keySignIn(null);
    check(disabledAlone.includes("LK-SK-007"), `security-key sign-in off: a discoverable key is refused (${disabledAlone})`);
    cli(dataDir, ["security-key", "set", "--allow-signin", "true", "--aaguid-mode", "any", "--aaguids", ""]);
    check((await keySignIn(UPN)) === "", "security-key sign-in on again: the same key signs in");
    await signOut();
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: authC });

    // 9. Ten keys at most: the eleventh is refused with a clear message.
    await passwordSignIn();
    for (let i = (await keyRows()) + 1; i <= 10; i++) {
      const id = await newAuthenticator();
      await addKey(`Key ${i}`);
      await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: id });
    }
    check((await keyRows()) === 10, "ten keys are registered");
    await newAuthenticator();
    await page.fill("#key-name", "Key 11");
    await page.click("#add-key");
    await page.waitForFunction(() => document.getElementById("key-status").className === "error", null, { timeout: 15000 });
    const eleventh = await page.textContent("#key-status");
    check(eleventh.includes("LK-SK-001") && eleventh.includes("10"), `an eleventh key is refused (${eleventh})`);
    await shot(page, "refused-eleventh-key");

    // 10. Administration shows the keys and the audit trail, the possible clone included.
    await page.goto(`${base}/admin/audit`);
    const auditText = await page.textContent("#audit");
    check(auditText.includes("Security key clone suspected"), "the counter regression is audited as a possible cloned key");
    await checkAccessible(page, check, "the audit log with a possible cloned key");
    await page.goto(`${base}/admin/security-keys`);
    check((await page.locator("#security-keys tbody tr").count()) === 10, "Administration lists the security keys");
    await checkAccessible(page, check, "Administration's security keys, ten of them");
    await shot(page, "administration");
  } finally {
    await browser.close();
    appServer.close();
    server.kill("SIGTERM");
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (failures > 0) {
    console.log(`${failures} check(s) failed`);
    process.exit(1);
  }
  console.log("browser flow: all checks passed");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
