import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * `phoenix … | head -1`: the reader goes away while the CLI still writes. The CLI must stop
 * quietly (no EPIPE stack trace), for every command: the guard is in cli/io.ts's processIO.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const BIN = resolve(ROOT, "bin/phoenix.mjs");

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the CLI with its stdout read end closed before it writes anything. */
function withClosedStdout(args: string[]): Promise<Exit> {
  return new Promise((resolveExit, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolveExit({ code, signal, stderr }));
  });
}

/** The shell's `phoenix … | head -1`. */
function headOne(args: string[]): Promise<Exit & { stdout: string }> {
  return new Promise((resolveExit, reject) => {
    const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    const child = spawn("sh", ["-c", `${quoted} | head -1`], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolveExit({ code, signal, stdout, stderr }));
  });
}

describe("a closed stdout", () => {
  const policy = join(tmpdir(), `phoenix-pipe-test-${process.pid}.json`);
  writeFileSync(policy, "{}");

  it.each(
    [["config", "check", "--help"], ["config", "check", policy], ["--help"]].map((a) => [a.join(" "), a]),
  )("ends `phoenix %s` quietly", async (_, args) => {
    const exit = await withClosedStdout(args as string[]);
    expect(exit.stderr).toBe("");
    expect(exit.code).toBe(0);
  });

  it("lets `phoenix config check policy.json | head -1` print its first line and nothing else", async () => {
    const run = await headOne(["config", "check", policy]);
    expect(run.stdout).toBe(`Policy ${policy} is valid. Effective values:\n`);
    expect(run.stderr).not.toMatch(/EPIPE|Error/);
    expect(run.code).toBe(0);
  });
});
