import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { type Connection, connect } from "../../ops/connect.js";
import { CliError, type CommandIO, EXIT } from "../../ops/io.js";
import { resolveTarget, type Target } from "../../ops/target.js";
import { loadPolicy, loadPolicyFile, type Policy, PolicyError, parsePolicy } from "../../src/policy/index.js";
import {
  booleanFlag,
  instanceRegionFlag,
  memberAccountFlag,
  type ParsedArgs,
  stringFlag,
} from "../lib/args.js";
import { callerArn } from "./identity.js";

/**
 * The policy the CLI decides with (plans, budgets of a manual containment): `--policy file`, else
 * PHOENIX_POLICY / PHOENIX_POLICY_FILE as the functions read them, else the policy a local cloud
 * started from this checkout runs with (it records it), else the safe defaults. Against AWS, use
 * the file the stage was deployed with, or the plan may differ from what the functions do.
 */
export function policyFrom(parsed: ParsedArgs, env: NodeJS.ProcessEnv, target?: Target): Policy {
  const file = stringFlag(parsed, "policy");
  try {
    if (file) return readPolicyFile(file, "--policy");
    if (env.PHOENIX_POLICY) return loadPolicy(env);
    if (env.PHOENIX_POLICY_FILE) return readPolicyFile(env.PHOENIX_POLICY_FILE, "PHOENIX_POLICY_FILE");
    if (target?.cloud?.policy !== undefined)
      return parsePolicy(target.cloud.policy, `the policy of the local cloud on ${target.cloud.endpoint}`);
    return loadPolicy({});
  } catch (error) {
    if (error instanceof PolicyError) throw new CliError(error.message, EXIT.usage);
    throw error;
  }
}

/** A policy file, or an error that says it does not exist (rather than that it is invalid). */
export function readPolicyFile(file: string, source: string): Policy {
  if (!existsSync(file))
    throw new CliError(`${source}: the policy file ${file} does not exist (${resolve(file)})`, EXIT.usage);
  return loadPolicyFile(file);
}

/** Where the flags and the environment say Phoenix runs. */
export function targetFrom(parsed: ParsedArgs, env: NodeJS.ProcessEnv): Target {
  return resolveTarget(
    {
      local: booleanFlag(parsed, "local"),
      ...optional("endpoint", stringFlag(parsed, "endpoint")),
      ...optional("port", stringFlag(parsed, "port")),
      ...optional("profile", stringFlag(parsed, "profile")),
      ...optional("region", stringFlag(parsed, "region")),
      ...optional("stage", stringFlag(parsed, "stage")),
    },
    env,
  );
}

/** Connects to Phoenix where the flags and environment say it runs. */
export function openConnection(parsed: ParsedArgs, io: CommandIO): Promise<Connection> {
  const target = targetFrom(parsed, io.env);
  return connect(target, policyFrom(parsed, io.env, target));
}

/**
 * Who is acting, for the audit trail: PHOENIX_ACTOR, else the login name ($USER, $USERNAME,
 * $LOGNAME), else the caller's AWS identity (its ARN), else the account name of the process.
 */
export async function actorOf(env: NodeJS.ProcessEnv, connection?: Connection): Promise<string> {
  const named = env.PHOENIX_ACTOR || env.USER || env.USERNAME || env.LOGNAME;
  if (named) return `user:${named}`;
  if (connection) {
    const arn = await callerArn({
      region: connection.region,
      credentials: connection.credentials,
      ...(connection.target.endpoint ? { endpoint: connection.target.endpoint } : {}),
    });
    if (arn) return `user:${arn}`;
  }
  try {
    const { userInfo } = await import("node:os");
    return `user:${userInfo().username}`;
  } catch {
    return "user:unknown";
  }
}

/** The flags that name where this command ran, to repeat in a command it suggests. */
export function whereFlags(parsed: ParsedArgs): string {
  const flags: string[] = [];
  if (booleanFlag(parsed, "local")) flags.push("--local");
  for (const name of ["port", "endpoint", "profile", "region", "stage"]) {
    const value = stringFlag(parsed, name);
    if (value !== undefined)
      flags.push(`--${name} ${/^[\w@%+=:,./-]+$/.test(value) ? value : JSON.stringify(value)}`);
  }
  return flags.join(" ");
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

/**
 * Where a command about one instance acts (contain, release, approve). --account names a member
 * account, and then --region names the instance's region there, while Phoenix itself is reached
 * in the default region (the profile's, AWS_REGION, the local cloud's). Without --account,
 * --region is Phoenix's region, as for every command.
 */
export function instancePlace(parsed: ParsedArgs): {
  accountId?: string;
  region?: string;
  /** The arguments to connect to Phoenix with. */
  connection: ParsedArgs;
} {
  const accountId = memberAccountFlag(parsed);
  if (accountId === undefined) return { connection: parsed };
  const region = instanceRegionFlag(parsed);
  const { region: _instanceRegion, ...values } = parsed.values;
  return { accountId, ...(region ? { region } : {}), connection: { ...parsed, values } };
}
