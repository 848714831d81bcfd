/**
 * Whether a resource policy lets an AWS service act on a resource, as AWS decides when
 * EventBridge sends to a queue or invokes a function: an explicit Deny wins, else some Allow must
 * match principal, action, resource and every condition. Only what such policies use is known
 * (service principals, `*`, ArnEquals/ArnLike/StringEquals/StringLike on aws:SourceArn and
 * aws:SourceAccount); a condition on anything else is not satisfied, so the local cloud never
 * allows what AWS might refuse. (Identity policies are another matter: see issue 13.)
 */

export interface ServiceRequest {
  /** e.g. events.amazonaws.com */
  principal: string;
  action: string;
  resource: string;
  sourceArn?: string;
  sourceAccount?: string;
}

interface Statement {
  Effect?: unknown;
  Principal?: unknown;
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: unknown;
}

const list = (value: unknown): string[] =>
  typeof value === "string"
    ? [value]
    : Array.isArray(value)
      ? value.filter((v) => typeof v === "string")
      : [];

/** IAM's wildcards: `*` any run of characters, `?` one. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`, caseInsensitive ? "i" : "").test(value);
}

function principalMatches(principal: unknown, service: string): boolean {
  if (principal === "*") return true;
  if (principal === null || typeof principal !== "object") return false;
  const p = principal as Record<string, unknown>;
  return list(p.Service).includes(service) || list(p.AWS).includes("*");
}

function conditionHolds(condition: unknown, request: ServiceRequest): boolean {
  if (condition === undefined) return true;
  if (condition === null || typeof condition !== "object") return false;
  const context: Record<string, string | undefined> = {
    "aws:sourcearn": request.sourceArn,
    "aws:sourceaccount": request.sourceAccount,
  };
  for (const [operator, tests] of Object.entries(condition as Record<string, unknown>)) {
    if (tests === null || typeof tests !== "object") return false;
    for (const [key, expected] of Object.entries(tests as Record<string, unknown>)) {
      const actual = context[key.toLowerCase()];
      if (actual === undefined) return false;
      const values = list(expected);
      const match = (() => {
        switch (operator) {
          case "ArnEquals":
          case "StringEquals":
            return values.includes(actual);
          case "ArnLike":
          case "StringLike":
            return values.some((v) => wildcardMatch(v, actual));
          default:
            return false;
        }
      })();
      if (!match) return false;
    }
  }
  return true;
}

function statementMatches(statement: Statement, request: ServiceRequest): boolean {
  if (!principalMatches(statement.Principal, request.principal)) return false;
  const actions = list(statement.Action);
  if (statement.NotAction !== undefined) {
    if (list(statement.NotAction).some((a) => wildcardMatch(a, request.action, true))) return false;
  } else if (!actions.some((a) => wildcardMatch(a, request.action, true))) return false;
  if (statement.NotResource !== undefined) {
    if (list(statement.NotResource).some((r) => wildcardMatch(r, request.resource))) return false;
  } else if (statement.Resource !== undefined) {
    if (!list(statement.Resource).some((r) => wildcardMatch(r, request.resource))) return false;
  }
  return conditionHolds(statement.Condition, request);
}

/** Allowed by the policy (a JSON document), with why not when it is not. */
export function resourcePolicyAllows(
  policy: string | undefined,
  request: ServiceRequest,
): { allowed: boolean; reason?: string } {
  if (!policy) return { allowed: false, reason: "the resource has no policy" };
  let statements: Statement[];
  try {
    const parsed = JSON.parse(policy) as { Statement?: unknown };
    const s = parsed.Statement;
    statements = (Array.isArray(s) ? s : s && typeof s === "object" ? [s] : []) as Statement[];
  } catch {
    return { allowed: false, reason: "the resource policy is not JSON" };
  }
  const matching = statements.filter((s) => statementMatches(s, request));
  if (matching.some((s) => s.Effect === "Deny"))
    return { allowed: false, reason: "an explicit Deny matches" };
  if (matching.some((s) => s.Effect === "Allow")) return { allowed: true };
  return {
    allowed: false,
    reason: `no statement allows ${request.principal} to ${request.action} on ${request.resource}${request.sourceArn ? ` from ${request.sourceArn}` : ""}`,
  };
}
