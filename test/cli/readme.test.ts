import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storyOf } from "./support.js";

/**
 * The README, followed as a newcomer would: `npm start -- --port <not 4566>`, then every shell
 * line of the README as written (its placeholders filled in from what `npm start` printed), the
 * AWS CLI lines included, in one shell environment; then the mistakes people make; then Ctrl-C.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");

let port: number;
let runDir: string;
let work: string;
let demo: ChildProcess;
let exited: Promise<number | null>;
// npm start's own exit code after Ctrl-C is npm's business; what is printed is the demo's.
let story: ReturnType<typeof storyOf>;
const printed = { standalone: "", webImage: "", apiImage: "" };

/** A shell like a person's: no AWS_* or PHOENIX_* settings, the demo's run directory. */
function shellEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.startsWith("AWS_") && !key.startsWith("PHOENIX_") && !key.startsWith("VITEST")) env[key] = value;
  return {
    ...env,
    PHOENIX_RUN_DIR: runDir,
    AWS_PAGER: "",
    AWS_CONFIG_FILE: "/nonexistent",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
  };
}

function sh(script: string, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      "bash",
      ["-c", script],
      { cwd: work, env: shellEnv(), timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) =>
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port: p } = server.address() as { port: number };
    await new Promise<void>((r) => server.close(() => r()));
    if (p !== 4566) return p;
  }
}

/** The shell lines of the README's ```sh blocks, in order. */
function readmeLines(): string[] {
  const lines: string[] = [];
  for (const block of README.matchAll(/```sh\n([\s\S]*?)```/g))
    for (const line of block[1]!.split("\n")) if (line.trim()) lines.push(line.trim());
  return lines;
}

beforeAll(async () => {
  port = await freePort();
  runDir = mkdtempSync(join(tmpdir(), "phoenix-readme-run-"));
  // The commands run from a directory of their own (finding.json lands there), through the
  // checkout's npx, as from a clone: `npx phoenix` resolves the package in the current directory.
  work = ROOT;
  demo = spawn("npm", ["start", "--", "--port", String(port), "--speed", "60"], {
    cwd: ROOT,
    env: shellEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  // "close": npm, the demo under it and moto have all let go of the output.
  exited = new Promise((r) => demo.on("close", (code, signal) => r(code ?? (signal ? 128 : null))));
  story = storyOf(demo, "npm start", 150_000);
  await story.told;
  const output = story.output();
  printed.standalone = /standalone\s+(i-[0-9a-f]+)/.exec(output)![1]!;
  printed.webImage = /web=(ami-[0-9a-f]+)/.exec(output)![1]!;
  printed.apiImage = /api=(ami-[0-9a-f]+)/.exec(output)![1]!;
}, 180_000);

afterAll(async () => {
  if (demo?.pid !== undefined && demo.exitCode === null) {
    try {
      process.kill(-demo.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  rmSync(join(ROOT, "finding.json"), { force: true });
  if (runDir) rmSync(runDir, { recursive: true, force: true });
});

describe("the README, on a port other than 4566", () => {
  it("npm start told the story on that port and says how to reach it", () => {
    const output = story.output();
    expect(output).toContain(`Local cloud up on http://127.0.0.1:${port}`);
    expect(output).toContain("3 of 3 acts went as Phoenix intends");
    expect(output).toMatch(/group web-legacy\s+1 instance\n/);
    expect(output).not.toContain("Waves 2 not started");
    expect(output).toContain(
      `export AWS_ENDPOINT_URL=http://127.0.0.1:${port} AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1`,
    );
    // Its record, which --local finds.
    expect(readdirSync(runDir)).toEqual([`local-cloud-${port}.json`]);
  });

  it("runs every shell line of the README as written", async () => {
    const lines = readmeLines();
    expect(lines.some((l) => l.startsWith("aws "))).toBe(true);
    const values: Record<string, string> = {
      "<instance-id>": printed.standalone,
      "<ami-id>": printed.webImage,
    };
    // What the shell keeps between lines: the environment the README's eval/export lines set.
    const setup: string[] = [];
    const ran: string[] = [];
    for (const line of lines) {
      const command = line.replace(/<[a-z-]+>/g, (placeholder) => {
        const value = values[placeholder];
        if (!value) throw new Error(`README placeholder ${placeholder} has no value in this test`);
        return value;
      });
      if (/^npm (start|test)\b/.test(command)) continue; // npm start is running; npm test is this
      const result = await sh([...setup, command].join("\n"));
      expect({ line, code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({
        line,
        code: 0,
        stderr: "",
      });
      if (/^(eval|export) /.test(command)) setup.push(command);
      ran.push(command);
      check(command, result.stdout, result.stderr);
    }
    expect(ran.length).toBeGreaterThanOrEqual(10);
  }, 300_000);

  it("`phoenix local env` prints what the README says, for this port", async () => {
    const result = await sh("npx phoenix local env");
    expect(result.stdout.trim()).toBe(
      `export AWS_ENDPOINT_URL=http://127.0.0.1:${port} AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`,
    );
    expect(README).toContain(
      "`export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`",
    );
  });

  it("the mistakes people make get an answer that says what to do", async () => {
    const typo = await sh(`npx phoenix contain ${printed.standalone} --reson "x" --local`);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown option --reson: did you mean --reason?");
    const command = await sh("npx phoenix stauts --local");
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('unknown command "stauts": did you mean "status"?');
    expect(command.stderr).not.toContain("Commands:");
    const policy = await sh("npx phoenix config check ../nope.json");
    expect(policy.code).toBe(2);
    expect(policy.stderr).toContain("does not exist");
    expect(policy.stderr).not.toContain("invalid");
    const elsewhere = await freePort();
    const notRunning = await sh(`npx phoenix status --port ${elsewhere}`);
    expect(notRunning.code).toBe(3);
    expect(notRunning.stderr).toContain(`npx phoenix local --port ${elsewhere}`);
    // The old README's export, for 4566, while the cloud runs elsewhere: --local refuses to guess.
    const stale = await sh("export AWS_ENDPOINT_URL=http://127.0.0.1:4566\nnpx phoenix status --local");
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain(`--port ${port}`);
    // Two local clouds from one checkout: --local asks which.
    const other = join(runDir, "local-cloud-1.json");
    writeFileSync(
      other,
      JSON.stringify({
        endpoint: "http://127.0.0.1:1",
        port: 1,
        pid: process.pid,
        command: "phoenix local",
        startedAt: new Date().toISOString(),
        speed: 1,
        stage: "local",
        user: "x",
        root: ROOT,
      }),
    );
    try {
      const ambiguous = await sh("npx phoenix status --local");
      expect(ambiguous.code).toBe(2);
      expect(ambiguous.stderr).toContain("--local is ambiguous");
      expect(ambiguous.stderr).toContain(`--port ${port}`);
      expect((await sh(`npx phoenix status --port ${port}`)).code).toBe(0);
    } finally {
      rmSync(other, { force: true });
    }
  }, 120_000);

  it("Ctrl-C says what stops and that the state is discarded", async () => {
    // What a terminal does: SIGINT to the whole foreground group (npm, the demo, moto).
    process.kill(-demo.pid!, "SIGINT");
    await exited;
    const output = story.output();
    expect(output).toContain(`Ctrl-C: stopping the local cloud on http://127.0.0.1:${port}`);
    expect(output).toContain("discarded");
    expect(existsSync(join(runDir, `local-cloud-${port}.json`))).toBe(false);
  }, 30_000);
});

/** What each README line must show beyond exiting 0. */
function check(command: string, stdout: string, stderr: string): void {
  const endpoint = `http://127.0.0.1:${port}`;
  if (command.startsWith("npx phoenix status")) {
    expect(stdout).toContain(`Phoenix local in us-east-1/123456789012 (${endpoint})`);
    expect(stdout).toContain("Held for approval:");
    expect(stdout).toContain("Not acted on since");
  } else if (command.startsWith("npx phoenix plan")) expect(stdout).toContain(printed.webImage);
  else if (command.startsWith("npx phoenix contain"))
    expect(stdout).toMatch(/SUCCEEDED|already in containment/);
  else if (command.startsWith("npx phoenix holds")) expect(stdout).toContain("held for approval");
  else if (command.startsWith("npx phoenix audit"))
    expect(stdout).toMatch(/^Audit trail of everything since/);
  else if (command.startsWith("npx phoenix local finding") && command.includes("--put"))
    expect(stdout).toContain(`on the bus of ${endpoint}`);
  else if (command.startsWith("npx phoenix local finding")) {
    expect(stderr).toContain("# Phoenix will");
    expect(JSON.parse(readFileSync(join(work, "finding.json"), "utf8"))[0].Source).toBe("aws.guardduty");
  } else if (command.startsWith("npx phoenix local notifications"))
    expect(stdout).toMatch(/notifications? published to Phoenix's topic/);
  else if (command.startsWith("aws ec2 describe-instances")) expect(stdout).toContain(printed.standalone);
  else if (command.startsWith("aws autoscaling describe-instance-refreshes"))
    expect(stdout).toContain("InstanceRefreshes");
  else if (command.startsWith("aws stepfunctions list-state-machines"))
    expect(stdout).toContain("phoenix-local-contain");
  else if (command.startsWith("aws events put-events")) expect(JSON.parse(stdout).FailedEntryCount).toBe(0);
}
