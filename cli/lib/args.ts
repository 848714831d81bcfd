import { parseArgs } from "node:util";
import { UsageError } from "../../ops/io.js";
import { closest } from "./suggest.js";

/** Flags every command that talks to Phoenix understands: where it runs and how to print. */
export const CONNECTION_FLAGS = {
  local: { type: "boolean" },
  endpoint: { type: "string" },
  port: { type: "string" },
  profile: { type: "string" },
  region: { type: "string" },
  stage: { type: "string" },
  policy: { type: "string" },
} as const;

export const JSON_FLAG = { json: { type: "boolean" } } as const;

export const CONNECTION_USAGE =
  "[--local | --port N | --endpoint URL] [--profile p] [--region r] [--stage s] [--policy file]";

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
    throw new UsageError(parseErrorMessage(error, options));
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[maxPositionals]}"`);
  }
  return parsed;
}

/**
 * parseArgs' own words, made shorter and helpful: an unknown option says which one was probably
 * meant ("unknown option --reson: did you mean --reason?") instead of explaining `--`.
 */
export function parseErrorMessage(error: unknown, options: OptionSpec): string {
  const { code, message } = error as { code?: string; message: string };
  const names = Object.entries(options).flatMap(([name, spec]) => [
    `--${name}`,
    ...(spec.short ? [`-${spec.short}`] : []),
  ]);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const typed = /'([^']+)'/.exec(message)?.[1] ?? "";
    const option = typed.split("=")[0] ?? typed;
    const suggestion = closest(option, names);
    return suggestion
      ? `unknown option ${option}: did you mean ${suggestion}?`
      : `unknown option ${option} (this command takes ${names.filter((n) => n.startsWith("--")).join(", ") || "no options"})`;
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const typed = /'([^']+)'/.exec(message)?.[1];
    return typed ? `unexpected argument "${typed}" (this command takes none)` : message;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const option = /'(--?[^' ]+)/.exec(message)?.[1];
    if (option && /argument missing/.test(message)) return `${option} needs a value`;
    if (option && /does not take an argument/.test(message)) return `${option} takes no value`;
  }
  return message;
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

/**
 * The role a person reaches a member account through to put an instance back: the one AWS
 * Organizations creates, unless --member-role or PHOENIX_MEMBER_ACCESS_ROLE name another. Never
 * the member role: that one trusts only Phoenix's functions.
 */
export const MEMBER_ACCESS_ROLE = "OrganizationAccountAccessRole";

/** --account: the member account of the instance (default: Phoenix's own), checked. */
export function memberAccountFlag(parsed: ParsedArgs): string | undefined {
  const account = stringFlag(parsed, "account");
  if (account !== undefined && !/^\d{12}$/.test(account))
    throw new UsageError(`--account must be a 12-digit AWS account id, got "${account}"`);
  return account;
}

/** --member-role (or PHOENIX_MEMBER_ACCESS_ROLE, or MEMBER_ACCESS_ROLE), checked. */
export function memberRoleFlag(parsed: ParsedArgs, env: NodeJS.ProcessEnv): string {
  const role = stringFlag(parsed, "member-role") ?? env.PHOENIX_MEMBER_ACCESS_ROLE ?? MEMBER_ACCESS_ROLE;
  if (!/^[\w+=,.@-]{1,64}$/.test(role))
    throw new UsageError(`--member-role must be an IAM role name, got "${role}"`);
  return role;
}

/** --region, when it names an instance's region (a member's), checked as a region name. */
export function instanceRegionFlag(parsed: ParsedArgs): string | undefined {
  const region = stringFlag(parsed, "region");
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region))
    throw new UsageError(`--region must be an AWS region name (e.g. eu-west-1), got "${region}"`);
  return region;
}
