import { readFileSync } from "node:fs";
import { type Policy, policySchema } from "./schema.js";

/** A policy that failed validation; `problems` name each bad field by its dotted path. */
export class PolicyError extends Error {
  constructor(
    readonly problems: string[],
    source: string,
  ) {
    super(`invalid Phoenix policy (${source}):\n  - ${problems.join("\n  - ")}`);
    this.name = "PolicyError";
  }
}

export function parsePolicy(input: unknown, source = "policy"): Policy {
  const result = policySchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) => {
    const field = ["policy", ...issue.path.map(String)].join(".");
    if (issue.code === "unrecognized_keys") return issue.keys.map((key) => `${field}.${key}: unknown field`);
    return [`${field}: ${issue.message}`];
  });
  throw new PolicyError(problems, source);
}

export const defaultPolicy = (): Policy => parsePolicy({}, "defaults");

/**
 * Reads the policy from PHOENIX_POLICY (inline JSON) or PHOENIX_POLICY_FILE (a JSON file),
 * defaults when neither is set. Lambda handlers call this once per cold start.
 */
export function loadPolicy(env: NodeJS.ProcessEnv = process.env): Policy {
  if (env.PHOENIX_POLICY)
    return parsePolicy(parseJson(env.PHOENIX_POLICY, "PHOENIX_POLICY"), "PHOENIX_POLICY");
  if (env.PHOENIX_POLICY_FILE) return loadPolicyFile(env.PHOENIX_POLICY_FILE);
  return defaultPolicy();
}

export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new PolicyError([`cannot read ${path}: ${(error as Error).message}`], path);
  }
  return parsePolicy(parseJson(text, path), path);
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PolicyError([`not valid JSON: ${(error as Error).message}`], source);
  }
}
