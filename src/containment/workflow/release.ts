import {
  AssociateIamInstanceProfileCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DescribeInstanceAttributeCommand,
  DescribeNetworkInterfacesCommand,
  DisassociateIamInstanceProfileCommand,
  ModifyInstanceAttributeCommand,
  ModifyNetworkInterfaceAttributeCommand,
  ReplaceIamInstanceProfileAssociationCommand,
} from "@aws-sdk/client-ec2";
import { DeleteRolePolicyCommand } from "@aws-sdk/client-iam";
import type { AuditRecord } from "../../audit/audit.js";
import { isAwsError } from "../../aws/errors.js";
import type { PhoenixDeps } from "../../deps.js";
import { fleetDeps, MemberAccessError } from "../../member-access.js";
import {
  attachedInterfaces,
  ebsVolumes,
  findInstance,
  isGone,
  type OwnedInstance,
  tagsOf,
} from "../aws/instance.js";
import { type OriginalState, originalRecordKey, podsOriginalRecordKey } from "../aws/isolation.js";
import type { PodInterface } from "../aws/pod-interfaces.js";
import { type ContainmentItem, getContainment, markReleased } from "../aws/records.js";
import { revocationPolicyName, withdrawFromRole } from "../aws/revocation.js";
import { instanceSubject } from "../core/types.js";
import { type HardenOriginal, hardenOriginalKey } from "./harden.js";

export class ReleaseRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReleaseRefusedError";
  }
}

export interface ReleaseResult {
  instanceId: string;
  containmentId: string;
  /** Whether the instance is still there (not terminated), whatever the containment's status. */
  instanceExists: boolean;
  /** The containment's status before the release: "held" means a hold was dismissed. */
  previousStatus: ContainmentItem["status"];
  /** What was put back, e.g. "security-groups:eni-…", "instance-profile", "tags", "deny-policy". */
  restored: string[];
}

/**
 * A person releases an instance Phoenix contained (a false positive): the original security
 * groups, instance profile, tags and attributes come back from the audit trail if the instance
 * still exists, the inline deny on its role is removed, and new findings on it may open a new
 * containment. A running containment is not released under the workflow's feet; a held one is
 * simply dismissed. Release never re-attaches the instance to its group (a replacement took its
 * place), nor re-associates Elastic IPs (the audit record of the revoke step lists them).
 */
export async function releaseInstance(
  deps: PhoenixDeps,
  instanceId: string,
  actor: string,
  options: {
    accountId?: string;
    /** The instance's region, when the person names it: a containment elsewhere is not released. */
    region?: string;
  } = {},
): Promise<ReleaseResult> {
  const accountId = options.accountId ?? deps.accountId;
  const item = await getContainment(deps, accountId, instanceId);
  if (!item)
    throw new ReleaseRefusedError(
      `Phoenix has no containment of ${instanceId} in account ${accountId}${options.accountId ? "" : " (a member account's instance needs --account)"}.`,
    );
  const region = item.region ?? deps.region;
  if (options.region !== undefined && options.region !== region)
    throw new ReleaseRefusedError(
      `The containment of ${instanceId} in account ${accountId} is in region ${region}, not ${options.region}.`,
    );
  if (item.status === "released") {
    throw new ReleaseRefusedError(`${instanceId} was already released by ${item.releasedBy ?? "someone"}.`);
  }
  if (item.status === "starting" || item.status === "running") {
    throw new ReleaseRefusedError(
      `The containment of ${instanceId} is still running (execution ${item.executionName}); wait for it to end or stop the execution first.`,
    );
  }

  const restored: string[] = [];
  const fleet = reachInstance(deps, item);
  // Asked whatever the status: a held containment changed nothing, but its instance is as real
  // as any (a hold used to skip the lookup and so reported a running instance as gone).
  const instance = await findInstance(fleet, instanceId);
  const instanceExists = instance !== undefined && !isGone(instance);
  if (item.status !== "held") {
    const history = await deps.audit.history(instanceSubject(instanceId));
    const original = detailsOf<OriginalState>(history, originalRecordKey(item.executionName));
    const attributes = detailsOf<HardenOriginal>(history, hardenOriginalKey(item.executionName));
    if (instance && instanceExists && original) {
      restored.push(...(await restoreNetwork(fleet, instance, original)));
      restored.push(
        ...(await restorePods(
          fleet,
          detailsOf<{ interfaces: PodInterface[] }>(history, podsOriginalRecordKey(item.executionName)),
        )),
      );
      restored.push(...(await restoreProfile(fleet, instanceId, original)));
      restored.push(...(await restoreTags(fleet, instance, original)));
      if (attributes) restored.push(...(await restoreAttributes(fleet, instance, attributes)));
    }
    restored.push(...(await removeDeny(fleet, history, item)));
  }

  await markReleased(deps, item, actor);
  await fleet.audit.write(
    {
      subject: instanceSubject(instanceId),
      action: "release",
      outcome: "ok",
      actor,
      execution: item.executionName,
      reason: item.status === "held" ? "hold dismissed" : "released by a person",
      details: { restored, instanceExists, previousStatus: item.status },
    },
    `${item.executionName}#release`,
  );
  return {
    instanceId,
    containmentId: item.executionName,
    instanceExists,
    previousStatus: item.status,
    restored,
  };
}

function detailsOf<T>(history: readonly AuditRecord[], key: string): T | undefined {
  return history.find((record) => record.key === key)?.details as T | undefined;
}

async function restoreNetwork(
  deps: PhoenixDeps,
  instance: OwnedInstance,
  original: OriginalState,
): Promise<string[]> {
  const current = attachedInterfaces(instance);
  const restored = await Promise.all(
    original.interfaces.map(async (eni) => {
      const now = current.find((c) => c.NetworkInterfaceId === eni.networkInterfaceId);
      const groups = (now?.Groups ?? []).map((g) => g.GroupId!).sort();
      if (!now || eni.groupIds.length === 0 || sameSet(groups, eni.groupIds)) return undefined;
      await deps.clients.ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: eni.networkInterfaceId,
          Groups: eni.groupIds,
        }),
      );
      return `security-groups:${eni.networkInterfaceId}`;
    }),
  );
  return restored.filter((r): r is string => r !== undefined);
}

/** The node's pods' interfaces back in their groups: those that still exist (pods come and go). */
async function restorePods(
  deps: PhoenixDeps,
  original: { interfaces: PodInterface[] } | undefined,
): Promise<string[]> {
  const wanted = original?.interfaces ?? [];
  if (wanted.length === 0) return [];
  const { NetworkInterfaces = [] } = await deps.clients.ec2.send(
    new DescribeNetworkInterfacesCommand({
      Filters: [{ Name: "network-interface-id", Values: wanted.map((eni) => eni.networkInterfaceId) }],
    }),
  );
  const restored: string[] = [];
  for (const eni of wanted) {
    const now = NetworkInterfaces.find((n) => n.NetworkInterfaceId === eni.networkInterfaceId);
    const groups = (now?.Groups ?? []).map((g) => g.GroupId!).sort();
    if (!now || eni.groupIds.length === 0 || sameSet(groups, eni.groupIds)) continue;
    await deps.clients.ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: eni.networkInterfaceId,
        Groups: eni.groupIds,
      }),
    );
    restored.push(`security-groups:${eni.networkInterfaceId} (pod)`);
  }
  return restored;
}

async function restoreProfile(
  deps: PhoenixDeps,
  instanceId: string,
  original: OriginalState,
): Promise<string[]> {
  const { IamInstanceProfileAssociations = [] } = await deps.clients.ec2.send(
    new DescribeIamInstanceProfileAssociationsCommand({
      Filters: [{ Name: "instance-id", Values: [instanceId] }],
    }),
  );
  const association = IamInstanceProfileAssociations.find(
    (a) => a.State === "associated" || a.State === "associating",
  );
  const currentArn = association?.IamInstanceProfile?.Arn;
  if (currentArn === original.profileArn) return [];
  if (!original.profileArn) {
    if (!association?.AssociationId) return [];
    await deps.clients.ec2.send(
      new DisassociateIamInstanceProfileCommand({ AssociationId: association.AssociationId }),
    );
    return ["instance-profile:none"];
  }
  if (association?.AssociationId) {
    await deps.clients.ec2.send(
      new ReplaceIamInstanceProfileAssociationCommand({
        AssociationId: association.AssociationId,
        IamInstanceProfile: { Arn: original.profileArn },
      }),
    );
  } else {
    await deps.clients.ec2.send(
      new AssociateIamInstanceProfileCommand({
        InstanceId: instanceId,
        IamInstanceProfile: { Arn: original.profileArn },
      }),
    );
  }
  return ["instance-profile"];
}

async function restoreTags(
  deps: PhoenixDeps,
  instance: OwnedInstance,
  original: OriginalState,
): Promise<string[]> {
  const current = tagsOf(instance.Tags);
  const instanceId = instance.InstanceId!;
  // aws: tags are AWS's own and cannot be written; phoenix:quarantine is among the added ones.
  const changed = Object.entries(original.tags).filter(
    ([key, value]) => !key.startsWith("aws:") && current[key] !== value,
  );
  const added = Object.keys(current).filter((key) => !key.startsWith("aws:") && !(key in original.tags));
  const restored: string[] = [];
  if (added.length > 0) {
    await deps.clients.ec2.send(
      new DeleteTagsCommand({ Resources: [instanceId], Tags: added.map((Key) => ({ Key })) }),
    );
    restored.push(...added.map((key) => `tag-removed:${key}`));
  }
  if (changed.length > 0) {
    await deps.clients.ec2.send(
      new CreateTagsCommand({
        Resources: [instanceId],
        Tags: changed.map(([Key, Value]) => ({ Key, Value })),
      }),
    );
    restored.push(...changed.map(([key]) => `tag:${key}`));
  }
  return restored;
}

async function restoreAttributes(
  deps: PhoenixDeps,
  instance: OwnedInstance,
  original: HardenOriginal,
): Promise<string[]> {
  const ec2 = deps.clients.ec2;
  const InstanceId = instance.InstanceId!;
  const [termination, shutdown] = await Promise.all([
    ec2.send(new DescribeInstanceAttributeCommand({ InstanceId, Attribute: "disableApiTermination" })),
    ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId, Attribute: "instanceInitiatedShutdownBehavior" }),
    ),
  ]);
  const restored: string[] = [];
  const calls: Promise<unknown>[] = [];
  if ((termination.DisableApiTermination?.Value === true) !== original.disableApiTermination) {
    calls.push(
      ec2.send(
        new ModifyInstanceAttributeCommand({
          InstanceId,
          DisableApiTermination: { Value: original.disableApiTermination },
        }),
      ),
    );
    restored.push("termination-protection");
  }
  if ((shutdown.InstanceInitiatedShutdownBehavior?.Value ?? "stop") !== original.shutdownBehavior) {
    calls.push(
      ec2.send(
        new ModifyInstanceAttributeCommand({
          InstanceId,
          InstanceInitiatedShutdownBehavior: { Value: original.shutdownBehavior },
        }),
      ),
    );
    restored.push("shutdown-behavior");
  }
  const volumes = ebsVolumes(instance).filter(
    (v) => original.deleteOnTermination[v.deviceName] === true && !v.deleteOnTermination,
  );
  if (volumes.length > 0) {
    calls.push(
      ec2.send(
        new ModifyInstanceAttributeCommand({
          InstanceId,
          BlockDeviceMappings: volumes.map((v) => ({
            DeviceName: v.deviceName,
            Ebs: { DeleteOnTermination: true },
          })),
        }),
      ),
    );
    restored.push("delete-on-termination");
  }
  await Promise.all(calls);
  return restored;
}

async function removeDeny(
  deps: PhoenixDeps,
  history: readonly AuditRecord[],
  item: ContainmentItem,
): Promise<string[]> {
  const revoke = detailsOf<{
    deny?: { role: string; policy?: string; instanceArn?: string; written?: boolean } | null;
  }>(history, `${item.executionName}#revoke`);
  const deny = revoke?.deny;
  if (!deny || deny.written === false) return [];
  // The role's one revocation policy (src/containment/aws/revocation.ts): take the instance off it.
  if (deny.instanceArn && deny.policy === revocationPolicyName(deps.resources.stateTable)) {
    const withdrawn = await withdrawFromRole(deps, {
      // The account the revocation is kept under is the instance's (its ARN's).
      account: deny.instanceArn.split(":")[4] || item.accountId,
      roleName: deny.role,
      instanceArn: deny.instanceArn,
    });
    return withdrawn ? ["deny-policy"] : [];
  }
  // Containments of an earlier Phoenix wrote one policy per instance.
  if (!deny.policy) return [];
  try {
    await deps.clients.iam.send(
      new DeleteRolePolicyCommand({ RoleName: deny.role, PolicyName: deny.policy }),
    );
    return ["deny-policy"];
  } catch (error) {
    if (isAwsError(error, "NoSuchEntityException", "NoSuchEntity")) return [];
    throw error;
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sortedB = [...b].sort();
  return a.length === b.length && [...a].sort().every((value, i) => value === sortedB[i]);
}

/**
 * The deps to put a member's instance back: in the record's account and region, as the deps given
 * reach it (the CLI's: the person's role, `asPerson`); a refusal, not a reach, for an account the
 * policy no longer lists.
 */
function reachInstance(deps: PhoenixDeps, item: ContainmentItem): PhoenixDeps {
  try {
    return fleetDeps(deps, { accountId: item.accountId, region: item.region ?? deps.region });
  } catch (error) {
    if (error instanceof MemberAccessError) throw new ReleaseRefusedError(error.message);
    throw error;
  }
}
