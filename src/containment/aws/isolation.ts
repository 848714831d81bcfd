import { CreateTagsCommand, ModifyNetworkInterfaceAttributeCommand } from "@aws-sdk/client-ec2";
import type { PhoenixDeps } from "../../deps.js";
import { declareTagWrite } from "../../iam/tag-writes.js";
import { TAG_QUARANTINE } from "../../tags.js";
import type { InterfaceIsolation } from "../core/types.js";
import { attachedInterfaces, type OwnedInstance, plain, tagsOf } from "./instance.js";
import { type IsolationGroups, isIsolationGroup } from "./isolation-groups.js";

/**
 * The network cut itself, shared by the intake (which isolates as soon as the containment is
 * opened) and the isolate step (which does it when the intake could not, and otherwise only
 * confirms it): every interface to the allow-all group, then every interface to the no-rule one.
 */

/** The audit key of the record that release restores from. */
export const originalRecordKey = (containmentId: string): string => `${containmentId}#original`;

/** The audit key of the record of the node's pods' interfaces before isolation (release restores them). */
export const podsOriginalRecordKey = (containmentId: string): string => `${containmentId}#pods-original`;

/** The audit key of the isolation record (written by whichever of intake and step isolates). */
export const isolateRecordKey = (containmentId: string): string => `${containmentId}#isolate`;

export interface OriginalState {
  interfaces: { networkInterfaceId: string; groupIds: string[] }[];
  profileArn?: string;
  tags: Record<string, string>;
  /** The instance as DescribeInstances showed it before Phoenix changed anything (evidence). */
  instance: unknown;
}

/** The instance's network, profile and tags as described: what release would restore. */
export function observedState(instance: OwnedInstance): OriginalState {
  return {
    interfaces: attachedInterfaces(instance).map((eni) => ({
      networkInterfaceId: eni.NetworkInterfaceId!,
      groupIds: (eni.Groups ?? []).map((g) => g.GroupId!),
    })),
    ...(instance.IamInstanceProfile?.Arn ? { profileArn: instance.IamInstanceProfile.Arn } : {}),
    tags: tagsOf(instance.Tags),
    instance: plain(instance),
  };
}

/** The details of an isolate audit record, the same whether the intake or the step cut. */
export function isolateRecordDetails(
  plan: readonly InterfaceIsolation[],
  groups: IsolationGroups,
  facts: { alreadyIsolated: number; tag: string | null; isolatedAt: string; by?: "intake" },
): Record<string, unknown> {
  return {
    interfaces: plan.map((eni) => ({ ...eni, isolatedIn: groups.quarantine[eni.vpcId] })),
    alreadyIsolated: facts.alreadyIsolated,
    transitionGroupIds: groups.transition,
    quarantineGroupIds: groups.quarantine,
    tag: facts.tag,
    isolatedAt: facts.isolatedAt,
    ...(facts.by ? { by: facts.by } : {}),
  };
}

/** Whether any interface already sits in an isolation group (a retry, or the intake got there first). */
export function touchedByIsolation(observed: OriginalState, groups: IsolationGroups): boolean {
  return observed.interfaces.some((eni) => eni.groupIds.some((id) => isIsolationGroup(groups, id)));
}

/** What each attached interface becomes, with the groups release gives back. */
export function isolationPlan(instance: OwnedInstance, original: OriginalState): InterfaceIsolation[] {
  return attachedInterfaces(instance).map((eni) => ({
    networkInterfaceId: eni.NetworkInterfaceId!,
    vpcId: eni.VpcId!,
    originalGroupIds:
      original.interfaces.find((o) => o.networkInterfaceId === eni.NetworkInterfaceId)?.groupIds ?? [],
  }));
}

/**
 * Moves the plan's interfaces through the two groups, in two rounds of parallel calls. An
 * interface already in the no-rule group is never moved back; one already in the allow-all
 * group skips the first round. Returns how many interfaces were already isolated.
 */
export async function cutNetwork(
  deps: PhoenixDeps,
  instance: OwnedInstance,
  plan: readonly InterfaceIsolation[],
  groups: IsolationGroups,
): Promise<{ alreadyIsolated: number }> {
  const current = new Map(
    attachedInterfaces(instance).map((eni) => [
      eni.NetworkInterfaceId!,
      (eni.Groups ?? []).map((g) => g.GroupId!),
    ]),
  );
  const onlyIn = (eni: InterfaceIsolation, groupId: string | undefined) => {
    const ids = current.get(eni.networkInterfaceId);
    return ids?.length === 1 && ids[0] === groupId;
  };
  const pending = plan.filter((eni) => !onlyIn(eni, groups.quarantine[eni.vpcId]));
  await Promise.all(
    pending
      .filter((eni) => !onlyIn(eni, groups.transition[eni.vpcId]))
      .map((eni) => moveInterface(deps, eni.networkInterfaceId, groups.transition[eni.vpcId]!)),
  );
  await Promise.all(
    pending.map((eni) => moveInterface(deps, eni.networkInterfaceId, groups.quarantine[eni.vpcId]!)),
  );
  return { alreadyIsolated: plan.length - pending.length };
}

/** The one tag isolation writes, on the instance (IAM grants CreateTags for it alone: build/iam). */
export const QUARANTINE_TAG_WRITE = declareTagWrite({ resource: "instance", keys: [TAG_QUARANTINE] });

/**
 * Marks the instance with the finding it was isolated for, unless it already carries that mark.
 * Returns whether it wrote the mark.
 */
export async function tagQuarantined(
  deps: PhoenixDeps,
  instance: OwnedInstance,
  findingId: string,
): Promise<boolean> {
  if (tagsOf(instance.Tags)[TAG_QUARANTINE] === findingId) return false;
  await deps.clients.ec2.send(
    new CreateTagsCommand({
      Resources: [instance.InstanceId!],
      Tags: QUARANTINE_TAG_WRITE.tags({ [TAG_QUARANTINE]: findingId }),
    }),
  );
  return true;
}

async function moveInterface(deps: PhoenixDeps, networkInterfaceId: string, groupId: string): Promise<void> {
  await deps.clients.ec2.send(
    new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: networkInterfaceId, Groups: [groupId] }),
  );
}
