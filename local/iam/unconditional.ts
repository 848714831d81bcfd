import type { PolicySet } from "./evaluator.js";

/**
 * For an operation the local cloud has no request-context builder for (contexts.ts), the one case
 * it can still decide as AWS would: an administrator's policy, every action on every resource
 * with no condition, and nothing that could deny (no Deny statement at all, and a boundary, if
 * any, that is as wide). Then AWS allows the call whatever its resources and
 * context, and whatever checks it implies (iam:PassRole behind RunInstances, say): an
 * administrator's session (OrganizationAccountAccessRole) works on every call. A narrower grant
 * (`ec2:*`, a single action) is not enough: the call may need an implied permission the
 * local cloud cannot name, so it stays denied. Pure.
 */
export function unconditionalGrant(
  policies: Pick<PolicySet, "identity" | "boundary">,
): { policy: string; sid?: string } | undefined {
  // Any Deny at all: it may name an action the call implies (iam:PassRole behind CreateFunction,
  // say), which the local cloud cannot list without a builder.
  const denies = (doc: unknown) => statementsOf(doc).some((s) => s.Effect === "Deny");
  if (policies.identity.some((p) => denies(p.policy))) return undefined;
  if (policies.boundary && (denies(policies.boundary.policy) || !grantIn(policies.boundary.policy)))
    return undefined;
  for (const { name, policy } of policies.identity) {
    const grant = grantIn(policy);
    if (grant) return { policy: name, ...(grant.Sid ? { sid: grant.Sid } : {}) };
  }
  return undefined;
}

interface Statement {
  Sid?: string;
  Effect?: string;
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  Condition?: unknown;
}

function grantIn(policy: unknown): Statement | undefined {
  return statementsOf(policy).find(
    (s) =>
      s.Effect === "Allow" &&
      s.Condition === undefined &&
      listOf(s.Resource).includes("*") &&
      listOf(s.Action).some((a) => a === "*" || a === "*:*"),
  );
}

function statementsOf(policy: unknown): Statement[] {
  const statements = (policy as { Statement?: unknown } | undefined)?.Statement;
  const list = Array.isArray(statements) ? statements : statements ? [statements] : [];
  return list.filter((s): s is Statement => typeof s === "object" && s !== null);
}

const listOf = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter(
    (v): v is string => typeof v === "string",
  );
