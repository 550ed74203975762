// The status page in a real browser (Debian's chromium driven by playwright-core): it loads, polls,
// draws its chart, its numbers move with real Sidecar traffic, and customer ids appear only after
// the admin token is entered. Skips, saying why, when chromium is not installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { driveTraffic, startStatusPlane, type StatusPlane } from "../observability/support/statusPlane.ts";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "status-admin-token-0123456789";
/** Set UPDATE_SCREENSHOTS=1 to refresh the README's picture; otherwise it goes to a temp dir. */
const DOCS_SCREENSHOT = new URL("../../docs/status-page.png", import.meta.url).pathname;
const ALLOW_RGB = [0x1f, 0x8a, 0x4c] as const;

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;
if (skip) console.log(`# skipping the status page browser test: ${skip}`);

test("the status page draws live decisions and shows customer ids only with the admin token", { skip, timeout: 60_000 }, async (t) => {
  const { chromium } = await import("playwright-core");
  const plane = await startStatusPlane(t, { statusAdminToken: TOKEN }, { sampleIntervalMs: 250, pollMs: 250, windowSeconds: 20 });

  const profile = await mkdtemp(join(tmpdir(), "eg-status-chromium-"));
  t.after(() => rm(profile, { recursive: true, force: true }));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  // Closed before the control plane (t.after runs later), so no poll is in flight when the HTTP server stops.
  try {
    await exercisePage(browser, plane);
  } finally {
    await browser.close();
  }
});

async function exercisePage(browser: BrowserContext, plane: StatusPlane): Promise<void> {
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text());
  });
  const polls = async (): Promise<number> => Number((await page.locator("body").getAttribute("data-polls")) ?? 0);

  const response = await page.goto(`${plane.baseUrl}/`);
  assert.equal(response?.status(), 200);
  await page.waitForFunction(() => Number(document.body.dataset.polls ?? 0) >= 1);
  assert.equal(await page.textContent("#ready"), "ready");
  assert.equal(await page.textContent("#upstream-kind"), "entitlements file");
  assert.equal(await page.textContent("#cache-entries"), String(plane.cp.store.size));
  assert.equal(await page.textContent("#filters-connected"), "0");
  assert.equal(await page.textContent("#window-allow"), "0");

  const sent = await driveTraffic(plane, 2500);
  await page.waitForFunction((n) => document.getElementById("window-allow")?.textContent === n.toLocaleString("en-US"), sent.allow, { timeout: 5000 });
  assert.equal(await page.textContent("#window-deny"), sent.deny.toLocaleString("en-US"));
  assert.equal(await page.textContent("#window-fallback"), sent.fallback.toLocaleString("en-US"));
  assert.match((await page.locator("#fallbacks").innerText()).replace(/\s+/g, " "), new RegExp(`feature_type_mismatch ${sent.fallback}\\b`));

  // The chart plotted points and the allow line's colour is on the canvas.
  assert.ok(Number(await page.locator("#chart").getAttribute("data-points")) > 0);
  const allowPixels = await page.evaluate((rgb) => {
    const canvas = document.getElementById("chart") as HTMLCanvasElement;
    const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i]! - rgb[0]) < 8 && Math.abs(data[i + 1]! - rgb[1]) < 8 && Math.abs(data[i + 2]! - rgb[2]) < 8 && data[i + 3]! > 200) n++;
    }
    return n;
  }, ALLOW_RGB);
  assert.ok(allowPixels > 50, `only ${allowPixels} pixels of the allow line`);

  // Without the token: no customer id anywhere on the page, and the table stays hidden.
  const start = await polls();
  await page.waitForFunction((p) => Number(document.body.dataset.polls ?? 0) > p + 1, start);
  assert.equal(await page.isHidden("#recent-changes"), true);
  const publicText = await page.locator("body").innerText();
  for (const entry of plane.cp.store.all()) assert.equal(publicText.includes(entry.customerId), false, `${entry.customerId} shown without the token`);

  // A wrong token leaves the public view and says so.
  await page.fill("#admin-token", "definitely-not-the-token");
  await page.click("#admin-unlock");
  await page.waitForFunction(() => (document.getElementById("banner")?.textContent ?? "").includes("not STATUS_ADMIN_TOKEN"));
  assert.equal(await page.isHidden("#recent-changes"), true);

  // The right token shows the recently changed customers.
  await plane.sidecar("ReportUsage", { customer_id: "customer-pro", feature_id: "feature-api-calls", value: 2 });
  await page.fill("#admin-token", TOKEN);
  await page.click("#admin-unlock");
  await page.waitForSelector("#recent-changes", { state: "visible" });
  const firstRow = await page.locator("#recent-changes tbody tr").first().innerText();
  assert.match(firstRow, /^customer-pro\b/);
  assert.match(await page.locator("#recent-changes").innerText(), /customer-free/);
  assert.equal(await page.textContent("#banner"), "");

  const screenshot = process.env.UPDATE_SCREENSHOTS === "1" ? DOCS_SCREENSHOT : join(tmpdir(), `eg-status-page-${process.pid}.png`);
  await page.screenshot({ path: screenshot, fullPage: true });
  assert.ok((await stat(screenshot)).size > 10_000);
  if (screenshot !== DOCS_SCREENSHOT) await rm(screenshot, { force: true });

  // Locking again hides the ids.
  await page.click("#admin-lock");
  await page.waitForSelector("#recent-changes", { state: "hidden" });
  assert.deepEqual(pageErrors, []);
}
