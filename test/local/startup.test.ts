import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalCloud } from "../../local/cloud.js";
import { MotoUnavailableError, resolveMotoCommand } from "../../local/core/moto.js";
import { PortInUseError } from "../../local/gateway/server.js";

const ROOT = resolve(import.meta.dirname, "../..");

let blocker: Server;
let takenPort: number;
beforeAll(async () => {
  blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  takenPort = (blocker.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => blocker.close(() => r())));

/** Runs the real `phoenix` command (bin/phoenix.mjs on the Node that runs the tests). */
function phoenix(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [resolve(ROOT, "bin/phoenix.mjs"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exit = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, exit, output: () => ({ stdout, stderr }) };
}

describe("local cloud startup errors", () => {
  it("names a taken port and suggests --port", async () => {
    const error = await startLocalCloud({ port: takenPort, plugins: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortInUseError);
    expect((error as Error).message).toContain(`port ${takenPort}`);
    expect((error as Error).message).toContain("--port");
  });

  it("says what to install when there is no Python at all", () => {
    expect(() => resolveMotoCommand({ searchPath: "/nonexistent", venvDir: "/nonexistent/venv" })).toThrow(
      MotoUnavailableError,
    );
    expect(() => resolveMotoCommand({ searchPath: "/nonexistent", venvDir: "/nonexistent/venv" })).toThrow(
      /no python3 was found.*pip install 'moto\[server\]'/s,
    );
  });

  it("says what to install when Python has no moto and installing is not allowed", () => {
    // /usr/bin/python3 is Debian's Python, without moto (moto lives in the pyenv one).
    expect(() =>
      resolveMotoCommand({
        searchPath: "/nonexistent",
        python: "/usr/bin/python3",
        venvDir: "/nonexistent/venv",
        allowVenvInstall: false,
      }),
    ).toThrow(/moto is not installed for \/usr\/bin\/python3.*pip install/s);
  });

  it("`phoenix local` on a taken port exits 3 with the reason", async () => {
    const run = phoenix(["local", "--port", String(takenPort)]);
    const code = await run.exit;
    expect(code).toBe(3);
    expect(run.output().stderr).toContain(`port ${takenPort} on 127.0.0.1 is already in use`);
  });

  it("`phoenix local` rejects a bad flag with usage", async () => {
    const run = phoenix(["local", "--speed", "fast"]);
    expect(await run.exit).toBe(2);
    expect(run.output().stderr).toContain('--speed must be a positive number, got "fast"');
    expect(run.output().stderr).toContain("Usage: phoenix local");
  });

  it("`phoenix local` rejects a bad policy naming the field", async () => {
    const run = phoenix(["local", "--port", "0"], {
      PHOENIX_POLICY: JSON.stringify({ rollout: { maxConcurrentGroups: 0 } }),
    });
    expect(await run.exit).not.toBe(0);
    expect(run.output().stderr).toContain("policy.rollout.maxConcurrentGroups");
  });

  it("`phoenix local` serves health, then stops cleanly on SIGINT", async () => {
    const port = await new Promise<number>((r) => {
      const probe = createServer();
      probe.listen(0, "127.0.0.1", () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => r(p));
      });
    });
    const run = phoenix(["local", "--port", String(port), "--speed", "10"]);
    let health: { status?: string; parts?: Record<string, unknown> } = {};
    // (A first start synthesizes Phoenix's graph, ~10 s; later ones read it from the cache.)
    for (let i = 0; i < 200 && health.status !== "ok"; i++) {
      await new Promise((r) => setTimeout(r, 250));
      health = await fetch(`http://127.0.0.1:${port}/_phoenix/health`)
        .then((r) => (r.ok ? r.json() : {}))
        .catch(() => ({}));
    }
    expect(health.status).toBe("ok");
    expect(Object.keys(health.parts ?? {})).toEqual([
      "iam",
      "primary-eni-groups",
      "launch-template-source-version",
      "register-image-tags",
      "shared-images",
      "autoscaling",
      "stepfunctions",
      "events",
      "notifications",
      "deployment",
      "dashboard",
    ]);
    expect(run.output().stdout).toContain(`AWS_ENDPOINT_URL=http://127.0.0.1:${port}`);
    run.child.kill("SIGINT");
    expect(await run.exit).toBe(0);
    const after = await fetch(`http://127.0.0.1:${port}/_phoenix/health`).catch(() => undefined);
    expect(after).toBeUndefined();
  });
});
