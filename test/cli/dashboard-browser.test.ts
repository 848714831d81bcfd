import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CreateTagsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { phoenix, storyOf } from "./support.js";

/**
 * The dashboard as a person sees it after `npm start`: the real demo (its fleet and story), then
 * what an on-call engineer does next: contain the standalone instance (its Replace and Dispose
 * are skipped) and put a finding on a protected instance (held for approval). Debian's Chromium,
 * headless, no downloads (`.ci/run` installs it when missing). The screenshot in the README,
 * docs/dashboard.png, is taken here, from this demo, on every run: it cannot go stale.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROOT = resolve(import.meta.dirname, "../..");
const SCREENSHOT = resolve(ROOT, "docs/dashboard.png");

let browser: Browser;
let demo: ChildProcess;
let endpoint: string;
let standalone: string;
let runDir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  }
  runDir = mkdtempSync(join(tmpdir(), "phoenix-dashboard-run-"));
  env = {
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    PHOENIX_RUN_DIR: runDir,
    PHOENIX_ACTOR: "oncall",
  };
  demo = spawn(process.execPath, [resolve(ROOT, "bin/phoenix.mjs"), "demo", "--port", "0", "--speed", "60"], {
    cwd: ROOT,
    env: { ...process.env, PHOENIX_RUN_DIR: runDir },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const story = storyOf(demo, "the demo", 150_000);
  [browser] = await Promise.all([
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
    story.told,
  ]);
  const output = story.output();
  endpoint = /Local cloud up on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
  standalone = /standalone\s+(i-[0-9a-f]+)/.exec(output)![1]!;
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (demo?.pid !== undefined && demo.exitCode === null) {
    const gone = new Promise((r) => demo.on("exit", r));
    process.kill(-demo.pid, "SIGINT");
    const kill = setTimeout(() => process.kill(-demo.pid!, "SIGKILL"), 5_000);
    await gone;
    clearTimeout(kill);
  }
  if (runDir) rmSync(runDir, { recursive: true, force: true });
});

// Expressions as text: they run in the page, where `document` exists (not in Node's types).
const pageShows = (selector: string, text: string) =>
  `document.querySelector(${JSON.stringify(selector)})?.textContent?.includes(${JSON.stringify(text)})`;

describe("dashboard in a browser, after the demo", () => {
  let page: Page;
  let navigations = 0;

  it("arrives drawn: the demo's fleet at once, no 'loading…', ids shown, unmanaged apart, a legend apart", async () => {
    page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    page.on("framenavigated", () => {
      navigations++;
    });
    // No script has run yet when the HTML arrives: it holds the fleet already.
    const html = await (await page.request.get(`${endpoint}/_phoenix/dashboard`)).text();
    expect(html).not.toContain("loading…");
    expect(html).toContain('data-group="web-frontend"');
    await page.goto(`${endpoint}/_phoenix/dashboard`, { waitUntil: "domcontentloaded" });
    const fleet = (await page.textContent("#fleet")) ?? "";
    for (const group of ["web-frontend", "web-backend", "api", "web-legacy"]) expect(fleet).toContain(group);
    expect(fleet).not.toContain("vault");
    // Instance ids are on the page, shortened, not only on hover.
    expect(fleet).toContain(`i-…${standalone.slice(-6)}`);
    // The unmanaged group says so instead of "wave 1".
    expect(await page.textContent('[data-group="web-legacy"] .wave')).toBe("unmanaged");
    // The legend is its own row, labelled, outside the fleet.
    expect(await page.textContent("#legend")).toMatch(/images.*marks/s);
    expect(await page.locator("#fleet #legend").count()).toBe(0);
  });

  it("shows skipped steps, held containments with the approve command, timestamps, without a reload", async () => {
    // The standalone instance: contained, kept isolated; nothing replaces or disposes of it.
    const contained = await phoenix(
      ["contain", standalone, "--reason", "dashboard test", "--watch", "--interval", "0.3s", "--local"],
      env,
    );
    expect(contained.code).toBe(0);
    // A protected instance of api: the finding's containment is held for a person.
    const state = (await (await fetch(`${endpoint}/_phoenix/dashboard/state`)).json()) as {
      groups: { name: string; instances: { id: string }[] }[];
    };
    const [victim] = state.groups.find((g) => g.name === "api")!.instances;
    await new EC2Client({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    }).send(
      new CreateTagsCommand({ Resources: [victim!.id], Tags: [{ Key: "phoenix:protected", Value: "true" }] }),
    );
    const put = await phoenix(["local", "finding", victim!.id, "--put"], env);
    expect(put.code).toBe(0);
    expect(put.stdout).toContain("hold the containment for a person's approval");

    await page.waitForFunction(pageShows("#holds", "npx phoenix approve hold-"), null, { timeout: 60_000 });
    const holds = (await page.textContent("#holds")) ?? "";
    expect(holds).toContain(victim!.id);
    expect(holds).toContain(`--port ${new URL(endpoint).port}`);
    await page.waitForFunction(
      `document.querySelector('[data-execution*=${JSON.stringify(standalone)}] [data-step="Dispose"]')?.classList.contains("skipped")`,
      null,
      { timeout: 60_000 },
    );
    const containment = page.locator(`[data-execution*="${standalone}"]`);
    expect(await containment.locator('[data-step="Replace"]').getAttribute("class")).toContain("skipped");
    expect(await containment.locator('[data-step="Isolate"]').getAttribute("class")).not.toContain("skipped");
    expect(await containment.locator(".steps").textContent()).toContain("Replace (skipped)");
    // Every workflow says when it started (and ended), as a <time> with the full ISO time.
    const started = await page.locator("#workflows .workflow .when time").first().getAttribute("datetime");
    expect(started).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    const workflows = await page.locator("#workflows .workflow").count();
    expect(workflows).toBeGreaterThanOrEqual(4);
    expect(await page.locator("#workflows .workflow .when time:first-child").count()).toBe(workflows);
    await page.waitForFunction(pageShows("#notifications", "Held for approval"), null, { timeout: 30_000 });
    expect(navigations).toBe(1);

    const png = await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
  });
});
