// Accessibility checks with axe-core (pinned in package.json / package-lock.json): the
// script from node_modules is evaluated in the page through the DevTools protocol (no CDN,
// and no <script> element, which the pages' CSP rightly blocks: the CSP stays on),
// axe.run() checks the whole document, and any violation of impact "serious" or
// "critical" fails the check.
import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

// Runs axe on the page as it is; returns the serious and critical violations, each as
// "rule-id (impact): help [selectors]".
export async function axeViolations(page) {
  const injected = await page.evaluate(() => typeof window.axe !== "undefined");
  if (!injected) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) }));
  });
  return result
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} [${v.targets.slice(0, 3).join(", ")}]`);
}

// The viewports every page is checked at: a desktop and a phone.
export const VIEWPORTS = [
  { name: "desktop", width: 1280, height: 900 },
  { name: "phone", width: 375, height: 740 },
];

// Checks `page` at every viewport with `check(cond, what)`; `what` names the page.
export async function checkAccessible(page, check, what) {
  const original = page.viewportSize();
  for (const v of VIEWPORTS) {
    await page.setViewportSize({ width: v.width, height: v.height });
    const found = await axeViolations(page);
    check(found.length === 0, `axe: no serious or critical violations on ${what} (${v.name})${found.length ? ": " + found.join("; ") : ""}`);
    if (v.name === "phone") {
      // Nothing wider than the screen but the tables' own scrolling regions.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      check(!overflow, `${what} fits a phone's width (tables scroll inside their region)`);
    }
  }
  if (original) await page.setViewportSize(original);
}
