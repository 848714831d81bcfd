import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import type { SynthGraph } from "../../build/synth/graph.js";
import type { Policy } from "../../src/policy/index.js";

const run = promisify(execFile);

export const ROOT = resolve(import.meta.dirname, "../..");

/**
 * Where the graph the local cloud deploys comes from: the real SST program run offline
 * (`build/synth/main.ts`, the same CLI as `npm run synth`), in a child process since Pulumi's
 * runtime is one per process, cached by a digest of everything the graph depends on, so a test
 * suite synthesizes each stage and policy once (and a second `phoenix local` not at all).
 */
export interface GraphRequest {
  stage: string;
  /** The policy the functions run with (its JSON goes into their environment and the rules). */
  policy: Policy;
  /** PHOENIX_FLEET_ROLE_ARNS as the deploy would see it (an IAM grant, not part of the policy). */
  fleetRoleArns?: string;
  root?: string;
  /** `.phoenix/synth/cache` by default. */
  cacheDir?: string;
  /**
   * The member stack (`npm run synth -- --member`) for this member account, trusting the
   * central Phoenix of this account and stage, instead of the central stack.
   */
  member?: { account: string; centralAccount: string; centralStage: string };
  log?: (message: string) => void;
}

export interface LoadedGraph {
  graph: SynthGraph;
  /** `synth` (ran the program now), `cache` (a graph of the same inputs), `file` (given). */
  source: "synth" | "cache" | "file";
  digest?: string;
  /** Real ms it took to have the graph. */
  ms: number;
  path?: string;
}

export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GraphError";
  }
}

/** What the graph depends on (besides stage, policy and fleet roles): the program and its code. */
const INPUT_FILES = ["sst.config.ts", "package-lock.json"];
const INPUT_DIRS = ["stacks", "src", "functions", "workflows", "build/synth"];
/** Cached graphs kept; older ones are removed when a new one is written. */
const KEEP = 40;
/** A lock older than this is a synth that died without removing it. */
const STALE_LOCK_MS = 5 * 60_000;
const SYNTH_TIMEOUT_MS = 5 * 60_000;

function walk(root: string, dir: string, out: string[]): void {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(join(root, dir), { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules" && !entry.name.startsWith(".")) walk(root, path, out);
    } else if (entry.isFile()) out.push(path);
  }
}

/** The digest of one graph's inputs: the program's files, stage, policy and fleet roles. */
export function graphDigest(request: GraphRequest): string {
  const root = request.root ?? ROOT;
  const files: string[] = [...INPUT_FILES.filter((f) => existsSync(join(root, f)))];
  for (const dir of INPUT_DIRS) walk(root, dir, files);
  const hash = createHash("sha256");
  hash.update(`synth --no-bundle\0stage=${request.stage}\0`);
  hash.update(`policy=${JSON.stringify(request.policy)}\0`);
  hash.update(`fleet=${request.fleetRoleArns ?? ""}\0`);
  if (request.member) hash.update(`member=${JSON.stringify(request.member)}\0`);
  for (const file of files.sort()) {
    hash.update(`${relative(root, join(root, file))}\0`);
    hash.update(readFileSync(join(root, file)));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 32);
}

/** Reads a graph in the synth format (`npm run synth`'s output) and checks its shape. */
export function readGraphFile(path: string): SynthGraph {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new GraphError(`cannot read the graph ${path}: ${(error as Error).message}`);
  }
  return checkGraph(parsed, path);
}

export function checkGraph(value: unknown, source: string): SynthGraph {
  const graph = value as SynthGraph;
  if (
    graph === null ||
    typeof graph !== "object" ||
    typeof graph.stage !== "string" ||
    !Array.isArray(graph.resources) ||
    graph.resources.some(
      (r) =>
        r === null ||
        typeof r !== "object" ||
        typeof r.type !== "string" ||
        typeof r.name !== "string" ||
        r.inputs === null ||
        typeof r.inputs !== "object",
    )
  ) {
    throw new GraphError(
      `${source} is not a resource graph ({"stage": …, "resources": [{"type", "name", "inputs"}]})`,
    );
  }
  return graph;
}

/** The graph of these inputs: from the cache when it has it, else synthesized now (and cached). */
export async function loadGraph(request: GraphRequest): Promise<LoadedGraph> {
  const started = Date.now();
  const root = request.root ?? ROOT;
  const cacheDir = request.cacheDir ?? join(root, ".phoenix/synth/cache");
  const digest = graphDigest(request);
  const file = join(cacheDir, `${digest}.json`);
  const cached = tryRead(file);
  if (cached) return { graph: cached, source: "cache", digest, ms: Date.now() - started, path: file };

  mkdirSync(cacheDir, { recursive: true });
  const lock = `${file}.lock`;
  // Another process (a second test worker) may be synthesizing the same graph: wait for it.
  for (;;) {
    if (takeLock(lock)) break;
    const ready = tryRead(file);
    if (ready) return { graph: ready, source: "cache", digest, ms: Date.now() - started, path: file };
    if (Date.now() - started > SYNTH_TIMEOUT_MS)
      throw new GraphError(`timed out waiting for another process synthesizing ${file}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    const again = tryRead(file);
    if (again) return { graph: again, source: "cache", digest, ms: Date.now() - started, path: file };
    const what = request.member ? `the member stack for ${request.member.account}` : `stage ${request.stage}`;
    request.log?.(`synthesizing ${what} (the SST program, offline; cached as ${digest})`);
    const graph = await synthesize(root, request, cacheDir, digest);
    const temporary = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(graph)}\n`);
    renameSync(temporary, file);
    prune(cacheDir);
    return { graph, source: "synth", digest, ms: Date.now() - started, path: file };
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // gone already
    }
  }
}

function tryRead(file: string): SynthGraph | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return checkGraph(JSON.parse(readFileSync(file, "utf8")), file);
  } catch {
    return undefined;
  }
}

function takeLock(lock: string): boolean {
  try {
    const fd = openSync(lock, "wx");
    writeFileSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch {
    // Held: by a live process, or left by one that died.
    try {
      const pid = Number(readFileSync(lock, "utf8"));
      const old = Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS;
      if (old || !alive(pid)) unlinkSync(lock);
    } catch {
      // released meanwhile
    }
    return false;
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function prune(cacheDir: string): void {
  try {
    const graphs = readdirSync(cacheDir)
      .filter((name) => /^[0-9a-f]{32}\.json$/.test(name))
      .map((name) => ({ name, at: statSync(join(cacheDir, name)).mtimeMs }))
      .sort((a, b) => b.at - a.at);
    for (const old of graphs.slice(KEEP)) {
      unlinkSync(join(cacheDir, old.name));
      try {
        unlinkSync(join(cacheDir, old.name.replace(/\.json$/, ".policy.json")));
      } catch {
        // none
      }
    }
  } catch {
    // pruning is housekeeping
  }
}

/** Runs `npm run synth`'s two steps (the offline `sst install`, then build/synth/main.ts). */
async function synthesize(
  root: string,
  request: GraphRequest,
  cacheDir: string,
  digest: string,
): Promise<SynthGraph> {
  const policyFile = join(cacheDir, `${digest}.policy.json`);
  writeFileSync(policyFile, `${JSON.stringify(request.policy, null, 2)}\n`);
  const out = join(cacheDir, `${digest}.${process.pid}.${randomUUID().slice(0, 8)}.out.json`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.PHOENIX_POLICY;
  delete env.PHOENIX_POLICY_FILE;
  if (request.fleetRoleArns === undefined) delete env.PHOENIX_FLEET_ROLE_ARNS;
  else env.PHOENIX_FLEET_ROLE_ARNS = request.fleetRoleArns;
  try {
    await run("bash", [join(root, "scripts/sst-types.sh")], { cwd: root, env, timeout: SYNTH_TIMEOUT_MS });
  } catch (error) {
    throw new GraphError(`the offline \`sst install\` (scripts/sst-types.sh) failed: ${output(error)}`);
  }
  try {
    await run(
      process.execPath,
      [
        "--import",
        "tsx",
        join(root, "build/synth/main.ts"),
        "--stage",
        request.stage,
        "--policy",
        policyFile,
        "--no-bundle",
        "--out",
        out,
        ...(request.member
          ? [
              "--member",
              "--account",
              request.member.account,
              "--central-account",
              request.member.centralAccount,
              "--central-stage",
              request.member.centralStage,
            ]
          : []),
      ],
      { cwd: root, env, timeout: SYNTH_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    throw new GraphError(`synthesizing stage ${request.stage} failed: ${output(error)}`);
  }
  try {
    return readGraphFile(out);
  } finally {
    try {
      unlinkSync(out);
    } catch {
      // not written
    }
  }
}

function output(error: unknown): string {
  const e = error as { stderr?: string; message?: string };
  const stderr = (e.stderr ?? "").trim();
  return stderr ? stderr.split("\n").slice(-12).join("\n") : (e.message ?? String(error));
}
