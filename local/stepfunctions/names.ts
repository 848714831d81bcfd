import { SfnApiError } from "./errors.js";

// AWS's rule for state machine and execution names: 1–80 characters, none of whitespace,
// brackets, wildcards, the listed punctuation, or control characters (Unicode Cc).
const FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]/u;
const MAX_NAME_LENGTH = 80;

export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > MAX_NAME_LENGTH)
    return `must be at most ${MAX_NAME_LENGTH} characters (got ${name.length})`;
  const bad = FORBIDDEN.exec(name);
  if (bad) return `must not contain ${JSON.stringify(bad[0])}`;
  return undefined;
}

export function assertValidName(name: string, what: "state machine" | "execution"): void {
  const problem = nameProblem(name);
  if (problem) throw new SfnApiError("InvalidName", `Invalid Name: '${name}' (${what} name ${problem})`);
}

export interface Scope {
  region: string;
  accountId: string;
}

export function stateMachineArn(scope: Scope, name: string): string {
  return `arn:aws:states:${scope.region}:${scope.accountId}:stateMachine:${name}`;
}

export function executionArn(scope: Scope, stateMachineName: string, name: string): string {
  return `arn:aws:states:${scope.region}:${scope.accountId}:execution:${stateMachineName}:${name}`;
}

const STATE_MACHINE_ARN = /^arn:aws[\w-]*:states:[\w-]+:\d{12}:stateMachine:([^:]+)$/;
const EXECUTION_ARN = /^arn:aws[\w-]*:states:[\w-]+:\d{12}:execution:([^:]+):([^:]+)$/;

function required(value: unknown, parameter: string): string {
  if (typeof value !== "string" || value === "") {
    throw new SfnApiError("MissingRequiredParameter", `Missing required parameter: ${parameter}`);
  }
  return value;
}

/** The state machine name in a well-formed ARN; `InvalidArn` otherwise, as AWS answers. */
export function stateMachineNameOf(arn: unknown, parameter = "stateMachineArn"): string {
  const value = required(arn, parameter);
  const match = STATE_MACHINE_ARN.exec(value);
  if (!match?.[1]) throw new SfnApiError("InvalidArn", `Invalid Arn: '${value}'`);
  return match[1];
}

export function executionNameOf(
  arn: unknown,
  parameter = "executionArn",
): { stateMachine: string; name: string } {
  const value = required(arn, parameter);
  const match = EXECUTION_ARN.exec(value);
  if (!match?.[1] || !match[2]) throw new SfnApiError("InvalidArn", `Invalid Arn: '${value}'`);
  return { stateMachine: match[1], name: match[2] };
}
