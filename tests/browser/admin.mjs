// The web administration in a real browser (headless Chromium, playwright-core), with an
// axe-core accessibility check of every page at a desktop and a phone viewport (a11y.mjs):
// the sign-in page, Security info, every Administration page, the confirmation pages, the
// page that shows a new sign-in code secret, and the error pages (404, 403, 401, an
// unknown id). Exercises the confirmations (Cancel keeps, confirming does) without any
// script of the page's own. Screenshots go to $LATCHKEY_SCREENSHOTS (default
// tests/browser/screenshots), prefixed "admin-".
//
// Env: LATCHKEY_BIN_DIR (the latchkeyd binary), CHROMIUM (default /usr/bin/chromium).
import { spawn } from "node:child_process";
import fs from "node:fs";
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
const ADMIN = "root@example.com";
const USER = "kim@example.com";
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

// One TOTP step per sign-in per user (see flow.mjs for the window rule).
const lastStep = new Map();
async function freshOtp(upn, secret) {
  for (;;) {
    const seconds = Date.now() / 1000;
    const now = Math.floor(seconds / 30);
    const earliest = seconds - now * 30 < 10 ? now - 1 : now;
    const s = Math.max(earliest, (lastStep.get(upn) ?? -1) + 1);
    if (s <= now + 1) {
      lastStep.set(upn, s);
      return totp(secret, s);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function shot(page, name) {
  step++;
  await page.screenshot({ path: path.join(shots, `admin-${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
}

function secretOf(created) {
  return base32Decode(new URL(created.otpauth_uri).searchParams.get("secret"));
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-admin-browser-"));
  const dataDir = path.join(tmp, "data");
  cli(dataDir, ["init"]);
  const adminSecret = secretOf(JSON.parse(cli(dataDir, ["--json", "user", "add", ADMIN, "--password-stdin"], PASSWORD + "\n")));
  const userSecret = secretOf(JSON.parse(cli(dataDir, ["--json", "user", "add", USER, "--password-stdin"], PASSWORD + "\n")));
  cli(dataDir, ["group", "add", "latchkey-admins"]);
  cli(dataDir, ["group", "member", "add", "latchkey-admins", "--user", ADMIN]);

  const port = await freePort();
  const base = `http://localhost:${port}`;
  const server = spawn(latchkeyd, ["--data-dir", dataDir, "serve", "--insecure-http", "--listen", `127.0.0.1:${port}`, "--public-url", base], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    server.stdout.on("data", (d) => { if (String(d).includes("listening on")) resolve(); });
    server.on("exit", (code) => reject(new Error(`latchkeyd exited with ${code}`)));
  });

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const signIn = async (upn, secret) => {
      await page.goto(`${base}/signin`);
      await page.fill("#upn", upn);
      await page.fill("#password", PASSWORD);
      await page.fill("#otp", await freshOtp(upn, secret));
      await Promise.all([page.waitForURL((url) => url.pathname !== "/signin"), page.click("#password-signin")]);
    };
    const visit = async (pathName, name) => {
      const response = await page.goto(`${base}${pathName}`);
      await checkAccessible(page, check, name);
      await shot(page, name.replace(/[^a-z0-9]+/gi, "-").toLowerCase());
      return response.status();
    };

    // Signed out: the sign-in page, and an Administration page says to sign in (401).
    check((await visit("/signin", "the sign-in page")) === 200, "the sign-in page answers");
    check((await visit("/admin/users", "the 401 page")) === 401, "Administration signed out is 401 with a page");
    check(await page.isVisible("a[href='/signin']"), "the 401 page links to sign-in");

    // An employee: Security info, and Administration is refused (403).
    await signIn(USER, userSecret);
    check((await visit("/security-info", "Security info")) === 200, "Security info answers");
    check((await visit("/admin", "the 403 page")) === 403, "Administration is 403 for an employee");
    check((await page.textContent("main")).includes("LK-WEB-003"), "the 403 page shows its error code");
    await page.goto(`${base}/security-info`);
    await Promise.all([page.waitForURL(/signin/), page.click("#signout")]);

    // The administrator: every Administration page.
    await signIn(ADMIN, adminSecret);
    for (const [p, name] of [
      ["/admin", "Administration overview"],
      ["/admin/users", "Users"],
      ["/admin/devices", "Devices"],
      ["/admin/keys", "Windows Hello keys"],
      ["/admin/security-keys", "Security keys"],
      ["/admin/certificates", "Certificates"],
      ["/admin/policy", "Policy"],
      ["/admin/audit", "Audit log"],
    ]) {
      check((await visit(p, name)) === 200, `${name} answers`);
    }
    check((await page.textContent("#audit")).includes("Web sign-in"), "the audit log says Web sign-in, not web_signin");
    check((await visit("/admin/nope", "the 404 page")) === 404, "an unknown Administration page is 404 with a page");
    check((await page.textContent("h1")).includes("Page not found"), "the 404 page says so");
    check(await page.isVisible("header .brand"), "the 404 page has the site's header");

    // Search.
    await page.goto(`${base}/admin/users`);
    await page.fill("#q", "kim");
    await Promise.all([page.waitForURL(/q=kim/), page.click("form.search button")]);
    check((await page.locator("#users tbody tr").count()) === 1, "searching for kim lists one user");

    // Disable: the confirmation page; Cancel keeps the user active.
    const disable = `button[aria-label="Disable ${USER}"]`;
    await Promise.all([page.waitForURL(/\/admin\/users\/disable/), page.click(disable)]);
    check((await page.textContent("h2")).includes("Disable this user?"), "disabling asks first");
    await checkAccessible(page, check, "the confirmation page");
    await shot(page, "confirm-disable");
    await Promise.all([page.waitForURL(/\/admin\/users$/), page.click("#cancel")]);
    check((await page.textContent("#users")).includes("Active"), "Cancel keeps the user active");
    // Confirm disables.
    await Promise.all([page.waitForURL(/\/admin\/users\/disable/), page.click(disable)]);
    await Promise.all([page.waitForURL(/\/admin\/users$/), page.click("#confirm")]);
    const kimRow = page.locator("#users tbody tr", { hasText: USER });
    check((await kimRow.textContent()).includes("Disabled"), "confirming disables the user");
    await shot(page, "user-disabled");
    // Enable (not destructive: no confirmation).
    await Promise.all([page.waitForURL(/\/admin\/users$/), page.click(`button[aria-label="Enable ${USER}"]`)]);
    check((await kimRow.textContent()).includes("Active"), "enabling needs no confirmation");

    // Reset MFA: confirm, then the new secret's page with its QR code.
    await Promise.all([page.waitForURL(/reset-mfa/), page.click(`button[aria-label="Reset MFA ${USER}"]`)]);
    await Promise.all([page.waitForLoadState("load"), page.click("#confirm")]);
    check((await page.inputValue("#otpauth")).startsWith("otpauth://totp/"), "reset MFA shows the new otpauth URI");
    check(await page.isVisible("svg.qr"), "reset MFA shows a QR code");
    await checkAccessible(page, check, "the new secret page");
    await shot(page, "reset-mfa-secret");

    // An unknown id (the user was removed meanwhile): the 404 page, nothing changed.
    await page.goto(`${base}/admin/users`);
    await page.evaluate(() => { document.querySelector("form[action='/admin/users/disable'] input[name=upn]").value = "gone@example.com"; });
    await Promise.all([page.waitForLoadState("load"), page.locator("form[action='/admin/users/disable'] button").first().click()]);
    check((await page.textContent("main")).includes("LK-WEB-004"), "an unknown user is the 404 page with LK-WEB-004");
    await checkAccessible(page, check, "the unknown-object page");
    await shot(page, "unknown-user");
  } finally {
    await browser.close();
    server.kill("SIGTERM");
  }
  console.log(failures === 0 ? "all browser admin checks passed" : `${failures} browser admin check(s) FAILED`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
