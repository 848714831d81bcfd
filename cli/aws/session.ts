import { loadPolicy, loadPolicyFile, type Policy, PolicyError } from "../../src/policy/index.js";
import { booleanFlag, type ParsedArgs, stringFlag } from "../args.js";
import { CliError, type CommandIO, EXIT } from "../io.js";
import { type Connection, connect } from "./connect.js";
import { resolveTarget } from "./target.js";

/**
 * The policy the CLI decides with (plans, budgets of a manual containment): `--policy file`, else
 * PHOENIX_POLICY / PHOENIX_POLICY_FILE as the functions read them, else the safe defaults. Use
 * the file the stage was deployed with, or the plan may differ from what the functions do.
 */
export function policyFrom(parsed: ParsedArgs, env: NodeJS.ProcessEnv): Policy {
  const file = stringFlag(parsed, "policy");
  try {
    return file ? loadPolicyFile(file) : loadPolicy(env);
  } catch (error) {
    if (error instanceof PolicyError) throw new CliError(error.message, EXIT.usage);
    throw error;
  }
}

/** Connects to Phoenix where the flags and environment say it runs. */
export function openConnection(parsed: ParsedArgs, io: CommandIO): Promise<Connection> {
  const target = resolveTarget(
    {
      local: booleanFlag(parsed, "local"),
      ...optional("profile", stringFlag(parsed, "profile")),
      ...optional("region", stringFlag(parsed, "region")),
      ...optional("stage", stringFlag(parsed, "stage")),
    },
    io.env,
  );
  return connect(target, policyFrom(parsed, io.env));
}

/** Who is acting, for the audit trail: PHOENIX_ACTOR, else the login name. */
export function actorOf(env: NodeJS.ProcessEnv): string {
  return `user:${env.PHOENIX_ACTOR ?? env.USER ?? env.USERNAME ?? "unknown"}`;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}
