import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";

/**
 * Where the local clouds started from this checkout say they run. `phoenix local` and
 * `phoenix demo` write one small JSON file per cloud while it is up (removed when it stops; a
 * file whose process is gone is ignored and cleaned up), so that `phoenix … --local` goes to the
 * cloud that was started, whatever its port, and refuses to guess when there are several.
 *
 * The directory is the checkout's own (`.phoenix/run`, git-ignored): another person's checkout
 * on a shared machine has its own, so `--local` never finds their cloud. PHOENIX_RUN_DIR moves
 * it (tests use a directory of their own).
 */
export interface LocalCloudRecord {
  endpoint: string;
  port: number;
  /** The process serving it (the `phoenix local` or `phoenix demo` that started it). */
  pid: number;
  /** "phoenix local", "phoenix demo". */
  command: string;
  startedAt: string;
  speed: number;
  stage: string;
  user: string;
  /** The checkout it was started from. */
  root: string;
  /** The policy Phoenix runs with on it (defaults filled in). */
  policy?: unknown;
}

const ROOT = resolve(import.meta.dirname, "..");

export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PHOENIX_RUN_DIR ? resolve(env.PHOENIX_RUN_DIR) : join(ROOT, ".phoenix", "run");
}

const fileOf = (dir: string, port: number) => join(dir, `local-cloud-${port}.json`);

/** Records a running local cloud; the returned function removes the record (idempotent). */
export function recordLocalCloud(
  record: Omit<LocalCloudRecord, "pid" | "user" | "root" | "startedAt"> & Partial<LocalCloudRecord>,
  env: NodeJS.ProcessEnv = process.env,
): () => void {
  const dir = runDir(env);
  const full: LocalCloudRecord = {
    pid: process.pid,
    user: currentUser(),
    root: ROOT,
    startedAt: new Date().toISOString(),
    ...record,
  };
  const file = fileOf(dir, full.port);
  try {
    mkdirSync(dir, { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(full, null, 2)}\n`);
    renameSync(temporary, file);
  } catch {
    // Not being able to record is no reason not to run: --port and --endpoint still find it.
    return () => {};
  }
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    process.off("exit", remove);
    try {
      const current = JSON.parse(readFileSync(file, "utf8")) as LocalCloudRecord;
      if (current.pid === full.pid) unlinkSync(file);
    } catch {
      // Already gone.
    }
  };
  // Also when the process ends without stopping the cloud (an uncaught error, process.exit).
  process.on("exit", remove);
  return remove;
}

/** The local clouds recorded in the run directory whose process is still alive, by port. */
export function liveLocalClouds(env: NodeJS.ProcessEnv = process.env): LocalCloudRecord[] {
  const dir = runDir(env);
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => /^local-cloud-\d+\.json$/.test(name));
  } catch {
    return [];
  }
  const live: LocalCloudRecord[] = [];
  for (const name of names) {
    const file = join(dir, name);
    let record: LocalCloudRecord;
    try {
      record = JSON.parse(readFileSync(file, "utf8")) as LocalCloudRecord;
    } catch {
      continue;
    }
    if (typeof record.endpoint !== "string" || typeof record.pid !== "number") continue;
    if (isAlive(record.pid)) live.push(record);
    else {
      try {
        unlinkSync(file);
      } catch {
        // Someone else cleaned it up.
      }
    }
  }
  return live.sort((a, b) => a.port - b.port);
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}

/** One line about a recorded cloud, for messages that list them. */
export function describeRecord(record: LocalCloudRecord): string {
  return `${record.endpoint} (\`${record.command}\`, pid ${record.pid}, started ${record.startedAt.slice(0, 19).replace("T", " ")} UTC)`;
}
