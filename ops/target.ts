import { CliError, EXIT } from "./io.js";
import { DEFAULT_LOCAL_PORT } from "./local-defaults.js";
import { describeRecord, type LocalCloudRecord, liveLocalClouds, runDir } from "./registry.js";

/** Where the CLI's AWS calls go, decided from flags and the environment before any call. */
export interface Target {
  /** Undefined: the real AWS endpoints. */
  endpoint?: string;
  /** Undefined: the SDK's own resolution (AWS_REGION, the profile's region). */
  region?: string;
  profile?: string;
  stage: string;
  /** The endpoint is a local cloud (so "connection refused" means it is not running). */
  local: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** How the endpoint was chosen, for messages: "--endpoint", "--port", "--local", "AWS_ENDPOINT_URL". */
  via?: "--endpoint" | "--port" | "--local" | "AWS_ENDPOINT_URL";
  /** The local cloud's own record, when it was started from this checkout. */
  cloud?: LocalCloudRecord;
}

export const LOCAL_ENDPOINT = `http://127.0.0.1:${DEFAULT_LOCAL_PORT}`;
export const LOCAL_STAGE = "local";
/** The stage `sst deploy --stage production` creates; sst.config.ts protects that one. */
export const DEFAULT_AWS_STAGE = "production";
const LOCAL_REGION = "us-east-1";

export interface TargetFlags {
  local?: boolean;
  /** Any endpoint URL (a local cloud elsewhere, a VPC endpoint). */
  endpoint?: string;
  /** The local cloud on 127.0.0.1:<port>. */
  port?: string;
  profile?: string;
  region?: string;
  stage?: string;
}

export interface TargetOptions {
  /** The local clouds running from this checkout (default: the run directory's live records). */
  clouds?: () => LocalCloudRecord[];
}

/**
 * Where the CLI goes:
 * - `--endpoint URL`: there; `--port N`: the local cloud on 127.0.0.1:N;
 * - `--local`: the local cloud started from this checkout (it records its endpoint while it is
 *   up, whatever its port). Several running, or one that AWS_ENDPOINT_URL contradicts: refused,
 *   naming them (say which with --port). None recorded: AWS_ENDPOINT_URL if it is a loopback
 *   address, else refused (never a guess at 4566, which may be someone else's cloud);
 * - nothing: AWS_ENDPOINT_URL (which the SDK and the AWS CLI honour) if set, else AWS.
 * The stage names Phoenix's resources (phoenix-<stage>-rollout, …): `--stage`, else
 * PHOENIX_STAGE, else "local" against an endpoint (what the local cloud deploys) and
 * "production" against AWS.
 */
export function resolveTarget(
  flags: TargetFlags,
  env: NodeJS.ProcessEnv,
  options: TargetOptions = {},
): Target {
  const clouds = options.clouds ?? (() => liveLocalClouds(env));
  const chosen = chooseEndpoint(flags, env, clouds);
  const endpoint = chosen?.endpoint;
  const local = endpoint !== undefined && isLoopback(endpoint);
  const cloud = chosen?.cloud ?? recordFor(endpoint, clouds);
  const stage =
    flags.stage ?? env.PHOENIX_STAGE ?? cloud?.stage ?? (endpoint ? LOCAL_STAGE : DEFAULT_AWS_STAGE);
  const region =
    flags.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (local ? LOCAL_REGION : undefined);
  const credentials = envCredentials(env) ?? (local && !flags.profile ? localCredentials() : undefined);
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(flags.profile ? { profile: flags.profile } : {}),
    ...(credentials ? { credentials } : {}),
    ...(chosen?.via ? { via: chosen.via } : {}),
    ...(cloud ? { cloud } : {}),
    stage,
    local,
  };
}

function chooseEndpoint(
  flags: TargetFlags,
  env: NodeJS.ProcessEnv,
  clouds: () => LocalCloudRecord[],
): { endpoint: string; via: NonNullable<Target["via"]>; cloud?: LocalCloudRecord } | undefined {
  if (flags.endpoint !== undefined && flags.port !== undefined)
    throw new CliError(
      "give --endpoint URL or --port N, not both (--port N means --endpoint http://127.0.0.1:N)",
      EXIT.usage,
    );
  if (flags.endpoint !== undefined) {
    const endpoint = endpointUrl(flags.endpoint, "--endpoint");
    if (flags.local && !isLoopback(endpoint))
      throw new CliError(
        `--local means a local cloud on this machine, and ${endpoint} is not a loopback address: drop --local to use it`,
        EXIT.usage,
      );
    return { endpoint, via: "--endpoint" };
  }
  if (flags.port !== undefined)
    return { endpoint: `http://127.0.0.1:${portNumber(flags.port)}`, via: "--port" };
  const fromEnv = env.AWS_ENDPOINT_URL ? endpointUrl(env.AWS_ENDPOINT_URL, "AWS_ENDPOINT_URL") : undefined;
  if (!flags.local) return fromEnv ? { endpoint: fromEnv, via: "AWS_ENDPOINT_URL" } : undefined;

  const running = clouds();
  const envLocal = fromEnv && isLoopback(fromEnv) ? fromEnv : undefined;
  const pick = (record: LocalCloudRecord) => ({
    endpoint: record.endpoint,
    via: "--local" as const,
    cloud: record,
  });
  if (running.length === 1) {
    const only = running[0]!;
    if (envLocal && envLocal !== only.endpoint)
      throw new CliError(
        `--local is ambiguous: the local cloud started from this checkout runs on ${only.endpoint}, but AWS_ENDPOINT_URL says ${envLocal}. Say which: --port ${only.port}, or --endpoint ${envLocal} (or unset AWS_ENDPOINT_URL).`,
        EXIT.usage,
      );
    return pick(only);
  }
  if (running.length > 1) {
    const named = running.find((record) => record.endpoint === envLocal);
    if (named) return pick(named);
    throw new CliError(
      `--local is ambiguous: ${running.length} local clouds run from this checkout:\n${running
        .map((record) => `  --port ${record.port}   ${describeRecord(record)}`)
        .join("\n")}\nSay which with --port N (or --endpoint URL).`,
      EXIT.usage,
    );
  }
  if (envLocal) return { endpoint: envLocal, via: "AWS_ENDPOINT_URL" };
  throw new CliError(
    `No local cloud is running from this checkout (none is recorded in ${runDir(env)}): start one with \`npx phoenix local\` (or \`npm start\` for the demo). For a local cloud started elsewhere, name it: --port N or --endpoint URL.`,
    EXIT.environment,
  );
}

function recordFor(
  endpoint: string | undefined,
  clouds: () => LocalCloudRecord[],
): LocalCloudRecord | undefined {
  if (!endpoint || !isLoopback(endpoint)) return undefined;
  return clouds().find((record) => record.endpoint === endpoint);
}

/** A URL as the SDK takes it: http(s), no trailing slash. */
function endpointUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`${source} must be a URL like http://127.0.0.1:4566, got "${value}"`, EXIT.usage);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new CliError(`${source} must be an http:// or https:// URL, got "${value}"`, EXIT.usage);
  return value.replace(/\/+$/, "");
}

function portNumber(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new CliError(`--port must be a port number 1–65535, got "${value}"`, EXIT.usage);
  return port;
}

/** Keys given in the command's environment win over the SDK's chain (tests pass their own). */
function envCredentials(env: NodeJS.ProcessEnv): Target["credentials"] {
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) return undefined;
  return {
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
}

/** The local cloud accepts any keys; nobody should have to invent some to try it. */
const localCredentials = () => ({ accessKeyId: "test", secretAccessKey: "test" });

export function isLoopback(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === "127.0.0.1" || host === "localhost" || host === "[::1]" || host === "::1";
  } catch {
    return false;
  }
}

/** The port of an endpoint URL (its scheme's default when none is written). */
export function portOf(endpoint: string): number {
  const url = new URL(endpoint);
  return url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

/** The flag that names this target's local cloud unambiguously: "--port N" (or "--endpoint URL"). */
export function localFlagOf(target: Pick<Target, "endpoint">): string {
  if (!target.endpoint) return "";
  const url = new URL(target.endpoint);
  return url.hostname === "127.0.0.1" && url.protocol === "http:"
    ? `--port ${portOf(target.endpoint)}`
    : `--endpoint ${target.endpoint}`;
}

export function describeTarget(target: Target): string {
  return target.endpoint ? `${target.endpoint} (stage ${target.stage})` : `AWS (stage ${target.stage})`;
}
