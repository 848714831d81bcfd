import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  type IpPermission,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroup,
} from "@aws-sdk/client-ec2";
import { isAwsError } from "../../aws/errors.js";
import type { PhoenixDeps } from "../../deps.js";
import { declareTagWrite } from "../../iam/tag-writes.js";
import { ContainmentStepError } from "../core/errors.js";
import { ACTOR } from "../core/types.js";

/** Who asks for the groups, for the audit record of one it creates: a containment, or a sweep. */
export interface IsolationGroupsOrigin {
  execution: string;
  findingId?: string;
}

/**
 * The two security groups isolation moves an instance through, one pair per VPC, created on
 * first use and found again by their `phoenix:role` tag.
 *
 * - transition ("allow-all"): all traffic in and out, IPv4 and IPv6. A security group whose
 *   rules allow all traffic both ways does not track connections, so moving an interface here
 *   turns the instance's tracked flows (which survive a rule change for up to 5 days) into
 *   untracked ones;
 * - quarantine ("no-rule"): no rules at all, which then cuts every flow, old and new.
 */
export type IsolationRole = "isolation-transition" | "quarantine";

import { TAG_ROLE } from "../../tags.js";

export const ROLE_TAG = TAG_ROLE;
const NAME_TAG = "Name";

/** The tags of an isolation group, given as it is created (IAM grants exactly these: build/iam). */
export const ISOLATION_GROUP_TAG_WRITE = declareTagWrite({
  resource: "security-group",
  keys: [ROLE_TAG, NAME_TAG],
  atCreation: "CreateSecurityGroup",
});

const ALL_TRAFFIC: IpPermission = {
  IpProtocol: "-1",
  IpRanges: [{ CidrIp: "0.0.0.0/0" }],
  Ipv6Ranges: [{ CidrIpv6: "::/0" }],
};

export interface IsolationGroups {
  transition: Record<string, string>;
  quarantine: Record<string, string>;
}

/** One DescribeSecurityGroups call when the groups exist (the common case, fast path of isolation). */
export async function isolationGroupsFor(
  deps: PhoenixDeps,
  vpcIds: readonly string[],
  origin: IsolationGroupsOrigin,
): Promise<IsolationGroups> {
  const found = await describeIsolationGroups(deps, vpcIds);
  const result: IsolationGroups = { transition: {}, quarantine: {} };
  await Promise.all(
    vpcIds.flatMap((vpcId) =>
      (["isolation-transition", "quarantine"] as const).map(async (role) => {
        const group = found(vpcId, role) ?? (await createGroup(deps, vpcId, role, origin));
        await repairRules(deps, group, role);
        (role === "quarantine" ? result.quarantine : result.transition)[vpcId] = group.GroupId!;
      }),
    ),
  );
  return result;
}

/**
 * The isolation groups of these VPCs if they all exist with exactly the rules their roles need,
 * found with one DescribeSecurityGroups and changing nothing; undefined otherwise (the isolate
 * step then creates or repairs them). The intake uses this to cut the network without waiting
 * for the workflow.
 */
export async function existingIsolationGroups(
  deps: PhoenixDeps,
  vpcIds: readonly string[],
): Promise<IsolationGroups | undefined> {
  if (vpcIds.length === 0) return undefined;
  const found = await describeIsolationGroups(deps, vpcIds);
  const result: IsolationGroups = { transition: {}, quarantine: {} };
  for (const vpcId of vpcIds) {
    for (const role of ["isolation-transition", "quarantine"] as const) {
      const group = found(vpcId, role);
      if (!group?.GroupId || !hasExactRules(group, role)) return undefined;
      (role === "quarantine" ? result.quarantine : result.transition)[vpcId] = group.GroupId;
    }
  }
  return result;
}

function hasExactRules(group: SecurityGroup, role: IsolationRole): boolean {
  if (role === "quarantine") {
    return (group.IpPermissions ?? []).length === 0 && (group.IpPermissionsEgress ?? []).length === 0;
  }
  return (
    missingAllTraffic(group.IpPermissions ?? []) === undefined &&
    missingAllTraffic(group.IpPermissionsEgress ?? []) === undefined
  );
}

/**
 * One DescribeSecurityGroups for the isolation groups of these VPCs; then, per VPC and role, the
 * group to use (the lowest id, should two carry the same role).
 */
async function describeIsolationGroups(
  deps: PhoenixDeps,
  vpcIds: readonly string[],
): Promise<(vpcId: string, role: IsolationRole) => SecurityGroup | undefined> {
  const { SecurityGroups = [] } = await deps.clients.ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: "vpc-id", Values: [...vpcIds] },
        { Name: `tag:${ROLE_TAG}`, Values: ["isolation-transition", "quarantine"] },
      ],
    }),
  );
  return (vpcId, role) =>
    SecurityGroups.filter((group) => group.VpcId === vpcId && roleOf(group) === role).sort((a, b) =>
      (a.GroupId ?? "").localeCompare(b.GroupId ?? ""),
    )[0];
}

function roleOf(group: SecurityGroup): string | undefined {
  return group.Tags?.find((tag) => tag.Key === ROLE_TAG)?.Value;
}

async function createGroup(
  deps: PhoenixDeps,
  vpcId: string,
  role: IsolationRole,
  origin: IsolationGroupsOrigin,
): Promise<SecurityGroup> {
  const policy = deps.policy.containment;
  const name = role === "quarantine" ? policy.quarantineSecurityGroupName : policy.isolationSecurityGroupName;
  try {
    const { GroupId } = await deps.clients.ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: name,
        VpcId: vpcId,
        Description:
          role === "quarantine"
            ? "Phoenix quarantine: no rules, no traffic"
            : "Phoenix isolation transition: all traffic, so flows become untracked before quarantine",
        TagSpecifications: [ISOLATION_GROUP_TAG_WRITE.specification({ [ROLE_TAG]: role, [NAME_TAG]: name })],
      }),
    );
    await deps.audit.write(
      {
        subject: `security-group/${GroupId}`,
        action: "create-isolation-group",
        outcome: "ok",
        actor: ACTOR,
        execution: origin.execution,
        ...(origin.findingId !== undefined ? { findingId: origin.findingId } : {}),
        details: { vpcId, role, name },
      },
      "create",
    );
    // A new group has the default egress rule and no ingress; repairRules sets the rest.
    return {
      GroupId,
      VpcId: vpcId,
      IpPermissions: [],
      IpPermissionsEgress: [{ IpProtocol: "-1", IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
    };
  } catch (error) {
    if (!isAwsError(error, "InvalidGroup.Duplicate")) throw error;
    // Another containment in this VPC created it a moment ago (or a person made one by that name).
    const { SecurityGroups = [] } = await deps.clients.ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: "vpc-id", Values: [vpcId] },
          { Name: "group-name", Values: [name] },
        ],
      }),
    );
    const group = SecurityGroups[0];
    if (!group || roleOf(group) !== role) {
      throw new ContainmentStepError(
        "Phoenix.Refused",
        `A security group named ${name} exists in ${vpcId} without the tag ${ROLE_TAG}=${role}; Phoenix will not use or change it. Rename it, or tag it if it is Phoenix's.`,
      );
    }
    return group;
  }
}

/**
 * Makes a group's rules exactly what its role needs. Normally nothing to do (one describe already
 * showed them); after a creator crashed half-way, or someone edited the group, it repairs them.
 */
async function repairRules(deps: PhoenixDeps, group: SecurityGroup, role: IsolationRole): Promise<void> {
  const GroupId = group.GroupId!;
  const ec2 = deps.clients.ec2;
  if (role === "quarantine") {
    const ingress = group.IpPermissions ?? [];
    const egress = group.IpPermissionsEgress ?? [];
    await Promise.all([
      ingress.length > 0
        ? ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId, IpPermissions: ingress }))
        : undefined,
      egress.length > 0
        ? ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId, IpPermissions: egress }))
        : undefined,
    ]);
    return;
  }
  const missingIngress = missingAllTraffic(group.IpPermissions ?? []);
  const missingEgress = missingAllTraffic(group.IpPermissionsEgress ?? []);
  await Promise.all([
    missingIngress
      ? ignoreDuplicate(
          ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions: [missingIngress] })),
        )
      : undefined,
    missingEgress
      ? ignoreDuplicate(
          ec2.send(new AuthorizeSecurityGroupEgressCommand({ GroupId, IpPermissions: [missingEgress] })),
        )
      : undefined,
  ]);
}

/** The part of "all traffic from/to anywhere" (IPv4 and IPv6) that the rules lack, if any. */
function missingAllTraffic(rules: readonly IpPermission[]): IpPermission | undefined {
  const all = rules.filter((rule) => rule.IpProtocol === "-1");
  const hasV4 = all.some((rule) => rule.IpRanges?.some((range) => range.CidrIp === "0.0.0.0/0"));
  const hasV6 = all.some((rule) => rule.Ipv6Ranges?.some((range) => range.CidrIpv6 === "::/0"));
  if (hasV4 && hasV6) return undefined;
  return {
    IpProtocol: "-1",
    ...(hasV4 ? {} : { IpRanges: ALL_TRAFFIC.IpRanges }),
    ...(hasV6 ? {} : { Ipv6Ranges: ALL_TRAFFIC.Ipv6Ranges }),
  };
}

async function ignoreDuplicate(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!isAwsError(error, "InvalidPermission.Duplicate")) throw error;
  }
}

/** Whether a group id is one of Phoenix's isolation groups. */
export function isIsolationGroup(groups: IsolationGroups, groupId: string): boolean {
  return (
    Object.values(groups.transition).includes(groupId) || Object.values(groups.quarantine).includes(groupId)
  );
}
