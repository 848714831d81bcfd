import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EC2Client } from "@aws-sdk/client-ec2";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerImage } from "../../local/seed.js";
import { type CliCloud, phoenix, startCliCloud } from "./support.js";

/**
 * The dashboard as a person sees it: Debian's Chromium, headless, no downloads. `.ci/run`
 * installs Chromium when it is missing. PHOENIX_UPDATE_SCREENSHOT=1 refreshes docs/dashboard.png.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let world: CliCloud;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  }
  [world, browser] = await Promise.all([
    startCliCloud(),
    chromium.launch({
      executablePath: CHROMIUM,
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
    }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await world?.stop();
});

describe("dashboard in a browser", () => {
  it("shows the fleet, then a rollout as it happens, without a reload", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    let navigations = 0;
    page.on("framenavigated", () => {
      navigations++;
    });
    await page.goto(`${world.endpoint}/_phoenix/dashboard`);
    // Expressions as text: they run in the page, where `document` exists (not in Node's types).
    const pageShows = (selector: string, text: string) =>
      `document.querySelector(${JSON.stringify(selector)})?.textContent?.includes(${JSON.stringify(text)})`;
    await page.waitForFunction(pageShows("#fleet", "web-frontend"), null, { timeout: 30_000 });
    const fleetText = (await page.textContent("#fleet")) ?? "";
    for (const group of ["web-frontend", "web-backend", "api"]) expect(fleetText).toContain(group);

    const imageId = await registerImage(new EC2Client(world.backstage), {
      family: "api",
      name: "golden-api-v9",
    });
    expect((await phoenix(["rollout", "--image", imageId], world.env)).code).toBe(0);
    await page.waitForFunction(pageShows("#workflows", `rollout-api-${imageId}`), null, { timeout: 60_000 });
    await page.waitForFunction(pageShows("#workflows", "SUCCEEDED"), null, { timeout: 90_000 });
    expect(navigations).toBe(1);

    const target =
      process.env.PHOENIX_UPDATE_SCREENSHOT === "1"
        ? resolve(import.meta.dirname, "../../docs/dashboard.png")
        : join(tmpdir(), `phoenix-dashboard-${process.pid}.png`);
    const png = await page.screenshot({ path: target, fullPage: true });
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
  });
});
