/**
 * The IAM statements of each function and state machine, built from the actions their code and
 * ASL use (used-actions.ts) and the scope of each action (scopes.ts). The stack grants exactly
 * these; the least-privilege test checks them without SST.
 *
 * `source: "platform"` marks what the runtime needs beside the code's own calls (the finding
 * handler polling its queue, a state machine delivering its logs): not derived from code, and
 * kept apart so the code-derived set can be compared exactly.
 */
import type { PhoenixFunction, PhoenixStateMachine } from "../../src/catalog.js";
import { EVENT_TARGETS } from "../../src/events/targets.js";
import type { TagWrite } from "../../src/iam/tag-writes.js";
import type { PolicyContext } from "./context.js";
import { type IamCondition, SCOPE_RULES } from "./scopes.js";
import { type ReadSource, stateMachineUses, usedActionsOfFunction } from "./used-actions.js";

export interface PolicyStatement {
  sid: string;
  actions: string[];
  resources: string[];
  conditions?: IamCondition[];
  /** Why the statement carries no narrowing condition (see scopes.ts). */
  reason?: string;
  /** An explicit Deny (scopes.ts): absent means Allow. */
  effect?: "Deny";
  source: "code" | "platform";
}

export class UnscopedActionError extends Error {
  constructor(action: string, where: string) {
    super(`${where}: no scope for ${action}; add one to build/iam/scopes.ts (never a bare "*")`);
    this.name = "UnscopedActionError";
  }
}

/** Statements for a set of actions, one per distinct scope. */
export function statementsFor(
  actions: Iterable<string>,
  ctx: PolicyContext,
  where: string,
  tagWrites: readonly TagWrite[] = [],
): PolicyStatement[] {
  const used = new Set(actions);
  const byScope = new Map<string, PolicyStatement>();
  for (const action of [...used].sort()) {
    const rule = SCOPE_RULES[action];
    if (!rule) throw new UnscopedActionError(action, where);
    for (const scope of rule(ctx, { actions: used, tagWrites })) {
      // A scope with no resources grants nothing (e.g. ssm:GetParameter when the policy names no
      // image parameters): left out, since IAM refuses a statement without Resource
      // (MalformedPolicyDocument) and the whole deploy with it.
      if (scope.resources.length === 0) continue;
      const key = JSON.stringify([
        scope.id,
        scope.resources,
        scope.conditions ?? [],
        scope.effect ?? "Allow",
      ]);
      const existing = byScope.get(key);
      if (existing) {
        existing.actions.push(action);
        continue;
      }
      byScope.set(key, {
        sid: scope.id,
        actions: [action],
        resources: scope.resources,
        ...(scope.conditions ? { conditions: scope.conditions } : {}),
        ...(scope.reason ? { reason: scope.reason } : {}),
        ...(scope.effect ? { effect: scope.effect } : {}),
        source: "code",
      });
    }
  }
  return [...byScope.values()];
}

export function functionPolicy(
  name: PhoenixFunction,
  ctx: PolicyContext,
  read: ReadSource,
): PolicyStatement[] {
  const used = usedActionsOfFunction(name, read);
  const statements = statementsFor(used.actions, ctx, `function ${name}`, used.tagWrites);
  for (const target of Object.values(EVENT_TARGETS)) {
    if (target.function !== name) continue;
    if (target.delivery.kind === "buffered") {
      // The event source mapping polls the target's buffer with the function's role.
      statements.push({
        sid: "PlatformEventBuffer",
        actions: [
          "sqs:ReceiveMessage",
          "sqs:DeleteMessage",
          "sqs:GetQueueAttributes",
          "sqs:ChangeMessageVisibility",
        ],
        resources: [ctx.eventBufferArn(target.delivery.queue)],
        source: "platform",
      });
    } else {
      // Asynchronous invocations that still fail after Lambda's retries go to the event DLQ.
      statements.push({
        sid: "PlatformAsyncFailureDestination",
        actions: ["sqs:SendMessage"],
        resources: [ctx.eventDeadLetterQueueArn],
        source: "platform",
      });
    }
  }
  return statements;
}

/**
 * CloudWatch Logs delivery for a state machine's execution logs. AWS documents these actions
 * as requiring Resource "*" (log delivery is configured through a vended-logs API).
 */
const LOG_DELIVERY_ACTIONS = [
  "logs:CreateLogDelivery",
  "logs:GetLogDelivery",
  "logs:UpdateLogDelivery",
  "logs:DeleteLogDelivery",
  "logs:ListLogDeliveries",
  "logs:PutResourcePolicy",
  "logs:DescribeResourcePolicies",
  "logs:DescribeLogGroups",
];

export function stateMachinePolicy(
  machine: PhoenixStateMachine,
  definition: unknown,
  ctx: PolicyContext,
): PolicyStatement[] {
  const uses = stateMachineUses(definition, `workflow ${machine}`);
  const statements: PolicyStatement[] = [];
  if (uses.functions.length > 0) {
    const arns = uses.functions.map(ctx.functionArn);
    statements.push({
      sid: "InvokeWorkflowFunctions",
      actions: ["lambda:InvokeFunction"],
      // The function and its versions/aliases (lambda:invoke may name a qualified ARN).
      resources: arns.flatMap((arn) => [arn, `${arn}:*`]),
      source: "code",
    });
  }
  const integrations = uses.actions.filter((action) => action !== "lambda:InvokeFunction");
  statements.push(...statementsFor(integrations, ctx, `workflow ${machine}`));
  statements.push({
    sid: "PlatformExecutionLogs",
    actions: LOG_DELIVERY_ACTIONS,
    resources: ["*"],
    reason: "CloudWatch Logs vended delivery actions support no resource-level permissions",
    source: "platform",
  });
  return statements;
}

/** The actions a set of statements allows, sorted (code-derived ones unless asked otherwise). */
export function grantedActions(
  statements: PolicyStatement[],
  source: PolicyStatement["source"] = "code",
): string[] {
  return [
    ...new Set(
      statements.filter((s) => s.source === source && s.effect !== "Deny").flatMap((s) => s.actions),
    ),
  ].sort();
}

/** An IAM policy document (for review, `sst diff`, or a test), Sids made unique. */
export function policyDocument(statements: PolicyStatement[]) {
  const seen = new Map<string, number>();
  return {
    Version: "2012-10-17",
    Statement: statements.map((s) => {
      const count = (seen.get(s.sid) ?? 0) + 1;
      seen.set(s.sid, count);
      return {
        Sid: count === 1 ? s.sid : `${s.sid}${count}`,
        Effect: s.effect ?? "Allow",
        Action: s.actions,
        Resource: s.resources,
        ...(s.conditions
          ? {
              Condition: s.conditions.reduce<Record<string, Record<string, string[]>>>((all, c) => {
                all[c.test] = { ...(all[c.test] ?? {}), [c.variable]: c.values };
                return all;
              }, {}),
            }
          : {}),
      };
    }),
  };
}
