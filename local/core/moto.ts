import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Starts moto (the AWS emulator) on a private loopback port. moto is preinstalled on Phoenix's
 * machines; elsewhere it is installed once into a project-local virtualenv.
 */
/** Python modules loaded into the moto server at start-up. */
const MOTO_PYTHON_DIR = fileURLToPath(new URL("./moto-python", import.meta.url));

export class MotoUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MotoUnavailableError";
  }
}

export interface MotoOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Explicit command, e.g. ["moto_server"]; otherwise found on PATH, then via Python. */
  command?: string[];
  python?: string;
  /** PATH to search (defaults to process.env.PATH). */
  searchPath?: string;
  /** Where a project-local virtualenv lives (created only if moto is found nowhere else). */
  venvDir?: string;
  allowVenvInstall?: boolean;
  readyTimeoutMs?: number;
}

export interface MotoServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

function onPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function pythonHasMoto(python: string): boolean {
  const probe = spawnSync(python, ["-c", "import moto.server, flask"], { stdio: "ignore", timeout: 20_000 });
  return probe.status === 0;
}

export function resolveMotoCommand(options: MotoOptions = {}): string[] {
  if (options.command) return options.command;
  const searchPath = options.searchPath ?? process.env.PATH ?? "";
  const onPathMoto = onPath("moto_server", searchPath);
  if (onPathMoto) return [onPathMoto];

  const venvDir = resolve(options.venvDir ?? ".phoenix/venv");
  const venvMoto = join(venvDir, "bin", "moto_server");
  if (existsSync(venvMoto)) return [venvMoto];

  const python = options.python ?? onPath("python3", searchPath);
  if (!python || !existsSync(python)) {
    throw new MotoUnavailableError(
      "the local cloud needs moto, which needs Python 3, and no python3 was found on PATH. " +
        "Install Python 3 (e.g. `apt-get install python3 python3-venv`), then run `pip install 'moto[server]'` " +
        "or start Phoenix again to have it installed into .phoenix/venv.",
    );
  }
  if (pythonHasMoto(python)) return [python, "-m", "moto.server"];
  if (options.allowVenvInstall === false) {
    throw new MotoUnavailableError(
      `moto is not installed for ${python}. Run \`pip install 'moto[server]'\` (or allow Phoenix to install it into ${venvDir}).`,
    );
  }
  process.stderr.write(`phoenix: moto not found; installing moto[server] into ${venvDir} (once)…\n`);
  const venv = spawnSync(python, ["-m", "venv", venvDir], { encoding: "utf8" });
  if (venv.status !== 0) {
    throw new MotoUnavailableError(
      `could not create a virtualenv at ${venvDir} with ${python}: ${venv.stderr.trim()}. Install python3-venv, or run \`pip install 'moto[server]'\`.`,
    );
  }
  const pip = spawnSync(join(venvDir, "bin", "pip"), ["install", "--quiet", "moto[server]"], {
    encoding: "utf8",
  });
  if (pip.status !== 0 || !existsSync(venvMoto)) {
    throw new MotoUnavailableError(
      `installing moto[server] into ${venvDir} failed: ${(pip.stderr || pip.stdout).trim().split("\n").slice(-3).join(" ")}. ` +
        "Install it yourself with `pip install 'moto[server]'`.",
    );
  }
  return [venvMoto];
}

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export async function startMoto(options: MotoOptions = {}): Promise<MotoServer> {
  // A free port can be taken by another process between the pick and moto's bind: moto then
  // exits, and a readiness probe would reach the other process's moto. Picked ports are retried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startMotoOnce(options);
    } catch (error) {
      if (!(error instanceof PortTakenError) || options.port || attempt >= 5) throw error;
    }
  }
}

class PortTakenError extends MotoUnavailableError {}

async function startMotoOnce(options: MotoOptions): Promise<MotoServer> {
  const host = options.host ?? "127.0.0.1";
  const command = resolveMotoCommand(options);
  const port = options.port || (await freePort(host));
  const token = randomUUID();
  const [executable, ...args] = command as [string, ...string[]];
  const child = spawn(executable, [...args, "-H", host, "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    // No CORS: moto would let any web page read its answers (the gateway refuses them too). AWS's
    // managed policies exist, as in AWS (Phoenix's Lambda roles attach AWSLambdaBasicExecutionRole);
    // moto loads them on the first IAM call (about a second).
    env: {
      ...process.env,
      // One request at a time, as AWS applies each call atomically (moto-python/sitecustomize.py).
      PYTHONPATH: [MOTO_PYTHON_DIR, process.env.PYTHONPATH].filter(Boolean).join(delimiter),
      MOTO_CALL_RESET_API: "true",
      MOTO_DISABLE_GLOBAL_CORS: "true",
      MOTO_IAM_LOAD_MANAGED_POLICIES: "true",
      // Signs every answer (sitecustomize.py): the probe below knows its own moto.
      PHOENIX_MOTO_TOKEN: token,
    },
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  const killOnExit = () => child.kill("SIGTERM");
  process.once("exit", killOnExit);

  const url = `http://${host}:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  let ready = false;
  let foreign = false;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const response = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      // Only an answer signed with this start's token is this moto's: any other (another
      // moto's token, or none) is some other server on the port.
      if (response.headers.get("x-phoenix-moto-token") !== token) {
        foreign = true;
        break;
      }
      if (response.ok) {
        ready = true;
        break;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!ready) {
    child.kill("SIGKILL");
    // What moto printed before it exited (a bind error) may still be on its way.
    await Promise.race([
      new Promise((r) => child.stderr?.once("end", r)),
      new Promise((r) => setTimeout(r, 500)),
    ]);
    if (foreign || /address already in use/i.test(stderr)) {
      process.removeListener("exit", killOnExit);
      throw new PortTakenError(`port ${port} was taken by another server before moto could bind it`);
    }
    const why =
      child.exitCode !== null ? `it exited with code ${child.exitCode}` : "it did not answer in time";
    throw new MotoUnavailableError(
      `moto server (${command.join(" ")}) failed to start on ${url}: ${why}. ${stderr.trim().split("\n").slice(-3).join(" ")}`,
    );
  }
  return {
    url,
    port,
    process: child,
    stop: async () => {
      process.removeListener("exit", killOnExit);
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
