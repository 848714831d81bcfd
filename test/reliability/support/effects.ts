import { type ManagedScope, managedScope, routeFinding } from "../../../src/containment/core/route.js";
import { parseGuardDutyEvent } from "../../../src/findings/guardduty.js";
import type { Policy } from "../../../src/policy/index.js";

/**
 * What a trigger may do to the world for one event, as Phoenix's own pure core decides it:
 * writes to Phoenix's own tables are bookkeeping (audit of a refused event, dedupe) and always
 * allowed; beyond that a finding routed to "contain" may start an execution (or publish, when
 * it is held for a person), one routed to "notify" may publish; an image or refresh event that is malformed may do neither.
 */
export type Effect = "states:StartExecution" | "sns:Publish";

export function allowedFindingEffects(
  body: string,
  policy: Policy,
  scope: ManagedScope = managedScope({ accountId: "123456789012", region: "us-east-1" }),
): Set<Effect> {
  let event: unknown;
  try {
    event = JSON.parse(body);
  } catch {
    return new Set();
  }
  const parsed = parseGuardDutyEvent(event);
  if (!parsed.ok) return new Set();
  const action = routeFinding(parsed.finding, policy.containment, scope).action;
  // Contain starts an execution, or holds it (budget, protected tag) and notifies a person.
  if (action === "contain") return new Set(["states:StartExecution", "sns:Publish"]);
  if (action === "notify") return new Set(["sns:Publish"]);
  return new Set();
}

/** Phoenix's own bookkeeping: never a change to the fleet. */
export const isBookkeeping = (service: string): boolean => service === "dynamodb";

export const READ_ONLY =
  /^(Describe|Get|List|Receive|Query|Scan|BatchGet|Verify|Test|Search|Lookup|Simulate|Check|Validate|Decrypt|Encrypt|Generate|Sign$)/;

/** The calls among `calls` that changed something they were not allowed to. */
export function forbiddenCalls(
  calls: readonly { service: string; action: string }[],
  allowed: ReadonlySet<string>,
): string[] {
  return calls
    .filter((c) => !READ_ONLY.test(c.action) && !isBookkeeping(c.service))
    .map((c) => `${c.service}:${c.action}`)
    .filter((name) => !allowed.has(name));
}
