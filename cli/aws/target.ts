import { DEFAULT_LOCAL_PORT } from "../../local/defaults.js";

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
}

export const LOCAL_ENDPOINT = `http://127.0.0.1:${DEFAULT_LOCAL_PORT}`;
export const LOCAL_STAGE = "local";
/** The stage `sst deploy --stage production` creates; sst.config.ts protects that one. */
export const DEFAULT_AWS_STAGE = "production";
const LOCAL_REGION = "us-east-1";

export interface TargetFlags {
  local?: boolean;
  profile?: string;
  region?: string;
  stage?: string;
}

/**
 * `--local` means the local cloud on 127.0.0.1:4566; AWS_ENDPOINT_URL (which the SDK and the AWS
 * CLI honour) points anywhere else, e.g. a local cloud on another port. The stage names
 * Phoenix's resources (phoenix-<stage>-rollout, …): `--stage`, else PHOENIX_STAGE, else "local"
 * against a local endpoint (what the local cloud deploys) and "production" against AWS.
 */
export function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv): Target {
  const endpoint = flags.local ? LOCAL_ENDPOINT : env.AWS_ENDPOINT_URL || undefined;
  const local = endpoint !== undefined && isLoopback(endpoint);
  const stage = flags.stage ?? env.PHOENIX_STAGE ?? (endpoint ? LOCAL_STAGE : DEFAULT_AWS_STAGE);
  const region =
    flags.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (local ? LOCAL_REGION : undefined);
  const credentials = envCredentials(env) ?? (local && !flags.profile ? localCredentials() : undefined);
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(flags.profile ? { profile: flags.profile } : {}),
    ...(credentials ? { credentials } : {}),
    stage,
    local,
  };
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

function isLoopback(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === "127.0.0.1" || host === "localhost" || host === "[::1]" || host === "::1";
  } catch {
    return false;
  }
}

export function describeTarget(target: Target): string {
  return target.endpoint ? `${target.endpoint} (stage ${target.stage})` : `AWS (stage ${target.stage})`;
}
