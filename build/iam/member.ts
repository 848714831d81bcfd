/**
 * The member stack's IAM: the one role Phoenix assumes in a member account (`phoenix-member`
 * unless the policy names another), what it may do there, and whom it trusts.
 *
 * What it may do is derived like every function's policy (used-actions.ts, scopes.ts), from the
 * functions that reach member accounts (those whose code assumes the member role), limited to
 * the fleet's services, and scoped to the member account; an explicit Deny keeps it to the regions
 * the policy lists for that account (IAM, which is global, excepted).
 * contain-trace-image reads only the instance there (it marks and rolls back images in
 * Phoenix's own account), so only its ec2:DescribeInstances counts. One role serves all these
 * functions, so it holds the union of their fleet actions; each function's own role still
 * holds only its own.
 */
import { PHOENIX_FUNCTIONS, type PhoenixFunction } from "../../src/catalog.js";
import type { Policy } from "../../src/policy/index.js";
import { deployedFunctionRoleName, type PolicyContext, policyContext } from "./context.js";
import { type PolicyStatement, statementsFor } from "./policy.js";
import { type DerivedTagWrite, type ReadSource, usedActionsOfFunction } from "./used-actions.js";

/** The services whose clients src/member-access.ts makes in the member account. */
const FLEET_SERVICES = ["ec2", "autoscaling", "iam", "ssm"];

/** Functions that reach a member only for this: not for their other fleet calls. */
const READ_ONLY_IN_MEMBER: Partial<Record<PhoenixFunction, readonly string[]>> = {
  "contain-trace-image": ["ec2:DescribeInstances"],
};

/** The functions whose code assumes member roles (their roles are the ones the member trusts). */
export function memberReachingFunctions(read: ReadSource): PhoenixFunction[] {
  return PHOENIX_FUNCTIONS.filter((name) =>
    usedActionsOfFunction(name, read).actions.includes("sts:AssumeRole"),
  );
}

/** The ARNs a member role's statements are scoped to: the member's account, every region. */
export function memberContext(where: {
  partition: string;
  account: string;
  stage: string;
  policy: Policy;
}): PolicyContext {
  return policyContext({ ...where, region: "*" });
}

/** The member role's permissions. */
export function memberStatements(ctx: PolicyContext, read: ReadSource): PolicyStatement[] {
  const actions = new Set<string>();
  const tagWrites: DerivedTagWrite[] = [];
  for (const name of memberReachingFunctions(read)) {
    const used = usedActionsOfFunction(name, read);
    const only = READ_ONLY_IN_MEMBER[name];
    for (const action of used.actions)
      if (FLEET_SERVICES.includes(action.split(":")[0]!) && (!only || only.includes(action)))
        actions.add(action);
    if (!only) tagWrites.push(...used.tagWrites);
  }
  return statementsFor(actions, ctx, "member role", tagWrites);
}

export interface CentralPhoenix {
  partition: string;
  /** The account Phoenix (the central stack) runs in. */
  account: string;
  /** Its stage: the function roles are named `phoenix-<stage>-Fn<Name>Role-<suffix>`. */
  stage: string;
  /** The AWS Organizations id (o-…), when known: the caller must also be in it. */
  organizationId?: string;
}

/** The ARN of a central function's role (stacks/functions.ts names it so). */
export const functionRoleArn = (central: CentralPhoenix, name: PhoenixFunction): string =>
  `arn:${central.partition}:iam::${central.account}:role/${deployedFunctionRoleName(central.stage, name)}`;

/**
 * Trust: only the roles of the central functions that reach members may assume the member role;
 * no person, no other role of the central account, no other account. The principal is the
 * central account (a role ARN as the principal must exist when the trust policy is written, and
 * the member stack may be deployed first), narrowed by `aws:PrincipalArn` to exactly those roles'
 * ARNs and, where the organization is known, by `aws:PrincipalOrgID`.
 */
export function memberTrustPolicy(central: CentralPhoenix, read: ReadSource) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "PhoenixFunctionsOnly",
        Effect: "Allow",
        Principal: { AWS: `arn:${central.partition}:iam::${central.account}:root` },
        Action: "sts:AssumeRole",
        Condition: {
          ArnEquals: {
            "aws:PrincipalArn": memberReachingFunctions(read).map((name) => functionRoleArn(central, name)),
          },
          ...(central.organizationId
            ? { StringEquals: { "aws:PrincipalOrgID": central.organizationId } }
            : {}),
        },
      },
    ],
  };
}

/**
 * The member role's regions: everything but IAM (global, signed for us-east-1) is denied outside
 * the regions the policy lists for this account. An account the policy does not list gets none.
 */
export function memberRegionGuard(regions: readonly string[]) {
  return {
    Sid: "OnlyTheListedRegions",
    Effect: "Deny",
    NotAction: ["iam:*"],
    Resource: "*",
    Condition: { StringNotEquals: { "aws:RequestedRegion": regions.length > 0 ? [...regions] : ["none"] } },
  };
}
