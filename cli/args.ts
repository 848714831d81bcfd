import { parseArgs } from "node:util";
import { UsageError } from "./io.js";

/** Flags every command that talks to Phoenix understands: where it runs and how to print. */
export const CONNECTION_FLAGS = {
  local: { type: "boolean" },
  profile: { type: "string" },
  region: { type: "string" },
  stage: { type: "string" },
  policy: { type: "string" },
} as const;

export const JSON_FLAG = { json: { type: "boolean" } } as const;

export const CONNECTION_USAGE = "[--local] [--profile p] [--region r] [--stage s] [--policy file]";

type OptionSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** node:util parseArgs, strict, with its errors turned into usage errors (exit 2). */
export function parseCommandArgs(args: string[], options: OptionSpec, maxPositionals = 0): ParsedArgs {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: maxPositionals > 0 }) as ParsedArgs;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[maxPositionals]}"`);
  }
  return parsed;
}

export function stringFlag(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === "string" ? value : undefined;
}

export function listFlag(parsed: ParsedArgs, name: string): string[] {
  const value = parsed.values[name];
  if (Array.isArray(value)) return value;
  return typeof value === "string" ? [value] : [];
}

export function booleanFlag(parsed: ParsedArgs, name: string): boolean {
  return parsed.values[name] === true;
}

const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const IMAGE_ID = /^ami-[0-9a-f]{8,17}$/;

export function requireInstanceId(value: string | undefined, what = "an instance id"): string {
  if (!value) throw new UsageError(`give ${what} (i-…)`);
  if (!INSTANCE_ID.test(value))
    throw new UsageError(`"${value}" is not an EC2 instance id (i- followed by 8 or 17 hex digits)`);
  return value;
}

export function requireImageId(value: string | undefined): string {
  if (!value) throw new UsageError("give the image with --image ami-…");
  if (!IMAGE_ID.test(value))
    throw new UsageError(`"${value}" is not an AMI id (ami- followed by hex digits)`);
  return value;
}

/** "24h", "90m", "7d", "30s" → milliseconds. */
export function parseDuration(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(value.trim());
  if (!match) throw new UsageError(`${flag} must be a duration like 30m, 24h or 7d, got "${value}"`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}
