import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { main } from "../../cli/main.js";
import type { DemoGroupSpec, SeededFleet } from "../../local/core/seed.js";
import { DEMO_GROUPS, seedDemoFleet } from "../../local/core/seed.js";
import type { CommandIO } from "../../ops/io.js";
import { defaultPolicy, type Policy } from "../../src/policy/index.js";
import { startedForFile } from "../support/lifecycle.js";

const ROOT = resolve(import.meta.dirname, "../..");

/** What one `phoenix …` run printed and how it exited. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

/** Runs the CLI in-process against `env` (never process.env), the way a shell would see it. */
export async function phoenix(argv: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIO = {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    env,
    // Tests never press Ctrl-C.
    interrupted: () => new Promise(() => {}),
  };
  const code = await main(argv, io);
  const stdout = out.join("\n");
  return { code, stdout, stderr: err.join("\n"), json: <T>() => JSON.parse(stdout) as T };
}

/** The demo fleet plus a protected group, so holds can be tested. */
export const TEST_GROUPS: DemoGroupSpec[] = [
  ...DEMO_GROUPS,
  { name: "vault", family: "db", wave: 1, managed: true, protected: true, desired: 2 },
];

export interface CliCloud {
  endpoint: string;
  /**
   * Client config that goes to moto directly, past the gateway: for setup the story must not
   * react to (an image registered here is not announced on the bus, so nothing rolls it out).
   */
  backstage: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  fleet: SeededFleet;
  /** The environment a user of this cloud would export. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** A policy that lets a rollout finish in seconds on a fast clock. */
export function fastPolicy(): Policy {
  const policy = defaultPolicy();
  policy.rollout.waveBakeMinutes = 0.5;
  policy.rollout.refresh.instanceWarmup = 10;
  return policy;
}

/** The CLI cloud of a test file: started in beforeAll, stopped in afterAll (see startCliCloud). */
export function useCliCloud(speed?: number): CliCloud {
  return startedForFile(() => startCliCloud(speed));
}

/**
 * Everything a child (`npm start`, `phoenix demo`) prints, stdout and stderr as they come, and
 * `told`: resolved once it has told its story ("Press Ctrl-C to stop."), rejected, with what it
 * printed, when it exits first or takes longer than `timeoutMs`.
 */
export function storyOf(child: ChildProcess, name: string, timeoutMs: number) {
  let output = "";
  const told = new Promise<void>((ready, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`${name} did not finish its story:\n${output}`)),
      timeoutMs,
    );
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Press Ctrl-C to stop.")) {
        clearTimeout(timer);
        ready();
      }
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    child.on("exit", (code) => fail(new Error(`${name} exited ${code}:\n${output}`)));
  });
  return {
    told,
    /** What it printed so far. */
    output: () => output,
  };
}

/**
 * The local cloud as a user runs it (what `phoenix local` starts, plus the dashboard) in its own
 * process, with Phoenix deployed on it, on a free port. (In-process startTestCloud cannot deploy Phoenix under vitest yet: the
 * stack's dynamic import of functions/ fails in vite.) The fleet is seeded backstage, as the demo
 * does, so that its images do not start rollouts.
 */
export async function startCliCloud(speed = 60): Promise<CliCloud> {
  const policyFile = join(tmpdir(), `phoenix-cli-test-policy-${process.pid}-${Date.now()}.json`);
  writeFileSync(policyFile, JSON.stringify(fastPolicy()));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", resolve(ROOT, "test/cli/serve-cloud.ts"), String(speed), policyFile],
    {
      cwd: ROOT,
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: "WARN" },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so that stop() can end moto with it.
      detached: true,
    },
  );
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  let output = "";
  const endpoint = await new Promise<string>((resolveEndpoint, reject) => {
    const timer = setTimeout(() => reject(new Error(`phoenix local did not start:\n${output}`)), 120_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Local cloud: (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveEndpoint(match[1]!);
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("exit", (code) => reject(new Error(`phoenix local exited ${code}:\n${output}`)));
  });
  // The cloud stops cleanly on SIGTERM, but Lambda steps still in flight (a containment waiting
  // for its replacement) go on retrying against the closed gateway for up to a minute. After a
  // grace period the whole process group goes, moto included: it was started for this file only.
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    child.kill("SIGTERM");
    const grace = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, 5_000);
    await exited;
    clearTimeout(grace);
  };
  try {
    const health = (await (await fetch(`${endpoint}/_phoenix/health`)).json()) as { moto: string };
    const backstage = {
      endpoint: health.moto,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    };
    const fleet = await seedDemoFleet(backstage, TEST_GROUPS);
    await fetch(`${endpoint}/_phoenix/instances/booted`, { method: "POST", body: "{}" });
    return {
      endpoint,
      backstage,
      fleet,
      stop,
      env: {
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        PHOENIX_ACTOR: "tester",
        // The CLI decides with the policy the stage runs (as a user passes --policy or PHOENIX_POLICY).
        PHOENIX_POLICY: JSON.stringify(fastPolicy()),
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
