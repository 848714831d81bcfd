import { CreateTagsCommand, ModifyNetworkInterfaceAttributeCommand } from "@aws-sdk/client-ec2";
import type { PhoenixDeps } from "../../deps.js";
import { TAG_QUARANTINE as QUARANTINE_TAG } from "../../tags.js";
import { protectionHold } from "../protection.js";
import { ContainmentStepError } from "./errors.js";
import { attachedInterfaces, describeLiveInstance, type OwnedInstance, plain, tagsOf } from "./instance.js";
import { isIsolationGroup, isolationGroupsFor } from "./isolation-groups.js";
import {
  ACTOR,
  type ContainState,
  type InterfaceIsolation,
  type IsolateResult,
  instanceSubject,
} from "./types.js";

/** The audit key of the record that release restores from. */
export const originalRecordKey = (containmentId: string): string => `${containmentId}#original`;

export interface OriginalState {
  interfaces: { networkInterfaceId: string; groupIds: string[] }[];
  profileArn?: string;
  tags: Record<string, string>;
  /** The instance as DescribeInstances showed it before Phoenix changed anything (evidence). */
  instance: unknown;
}

/**
 * Steps 1 and 2: look the instance up and cut its network. When the isolation groups exist this
 * is four sequential AWS calls: describe the instance; find the groups (while the original state
 * is written to the audit trail); move every interface, in parallel, to the allow-all group; then
 * every interface to the no-rule group. Only then is the instance tagged.
 */
export async function isolate(deps: PhoenixDeps, state: ContainState): Promise<IsolateResult> {
  const input = state.containment;
  const instance = await describeLiveInstance(deps, input.instanceId);
  // The intake holds protected instances; this catches one protected since, or a hand-started run.
  const protectedReason = protectionHold(tagsOf(instance.Tags));
  if (protectedReason && !input.approvedBy) {
    throw new ContainmentStepError(
      "Phoenix.Refused",
      `${protectedReason} No approval came with this execution.`,
    );
  }
  const interfaces = attachedInterfaces(instance);
  const vpcIds = [...new Set(interfaces.map((eni) => eni.VpcId!))];

  const observed = observedState(instance);
  const [groups] = await Promise.all([
    isolationGroupsFor(deps, vpcIds, input),
    writeOriginal(deps, state, observed),
  ]);
  // On a retry after a partial move, what we see is not the original: the trail has it.
  const touched = observed.interfaces.some((eni) => eni.groupIds.some((id) => isIsolationGroup(groups, id)));
  const original = touched
    ? ((await readOriginal(deps, input.instanceId, input.containmentId)) ?? observed)
    : observed;

  const plan: InterfaceIsolation[] = interfaces.map((eni) => ({
    networkInterfaceId: eni.NetworkInterfaceId!,
    vpcId: eni.VpcId!,
    originalGroupIds:
      original.interfaces.find((o) => o.networkInterfaceId === eni.NetworkInterfaceId)?.groupIds ?? [],
  }));
  const current = new Map(
    interfaces.map((eni) => [eni.NetworkInterfaceId!, (eni.Groups ?? []).map((g) => g.GroupId!)]),
  );
  const quarantined = (eni: InterfaceIsolation) =>
    onlyIn(current.get(eni.networkInterfaceId), groups.quarantine[eni.vpcId]!);
  const inTransition = (eni: InterfaceIsolation) =>
    onlyIn(current.get(eni.networkInterfaceId), groups.transition[eni.vpcId]!);

  // A retried step skips what is done: an interface already quarantined is never moved back.
  const pending = plan.filter((eni) => !quarantined(eni));
  await Promise.all(
    pending
      .filter((eni) => !inTransition(eni))
      .map((eni) => moveInterface(deps, eni.networkInterfaceId, groups.transition[eni.vpcId]!)),
  );
  await Promise.all(
    pending.map((eni) => moveInterface(deps, eni.networkInterfaceId, groups.quarantine[eni.vpcId]!)),
  );
  const isolatedAt = deps.now().toISOString();

  if (tagsOf(instance.Tags)[QUARANTINE_TAG] !== input.findingId) {
    await deps.clients.ec2.send(
      new CreateTagsCommand({
        Resources: [input.instanceId],
        Tags: [{ Key: QUARANTINE_TAG, Value: input.findingId }],
      }),
    );
  }

  const result: IsolateResult = {
    ownerId: instance.ownerId ?? input.accountId,
    interfaces: plan,
    transitionGroupIds: groups.transition,
    quarantineGroupIds: groups.quarantine,
    ...(original.profileArn ? { originalProfileArn: original.profileArn } : {}),
    isolatedAt,
  };
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "isolate",
      outcome: "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      details: {
        interfaces: plan.map((eni) => ({ ...eni, isolatedIn: groups.quarantine[eni.vpcId] })),
        alreadyIsolated: plan.length - pending.length,
        transitionGroupIds: groups.transition,
        quarantineGroupIds: groups.quarantine,
        tag: `${QUARANTINE_TAG}=${input.findingId}`,
        isolatedAt,
      },
    },
    `${input.containmentId}#isolate`,
  );
  return result;
}

function onlyIn(groupIds: readonly string[] | undefined, groupId: string): boolean {
  return groupIds?.length === 1 && groupIds[0] === groupId;
}

async function moveInterface(deps: PhoenixDeps, networkInterfaceId: string, groupId: string): Promise<void> {
  await deps.clients.ec2.send(
    new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: networkInterfaceId, Groups: [groupId] }),
  );
}

function observedState(instance: OwnedInstance): OriginalState {
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

/**
 * Writes the original groups, profile and tags (what release restores) before anything moves.
 * The audit record is first-write-wins, so a retry that sees a half-isolated instance cannot
 * overwrite the first attempt's truth.
 */
async function writeOriginal(deps: PhoenixDeps, state: ContainState, observed: OriginalState): Promise<void> {
  const input = state.containment;
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "record-original",
      outcome: "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      details: observed as unknown as Record<string, unknown>,
    },
    originalRecordKey(input.containmentId),
  );
}

export async function readOriginal(
  deps: PhoenixDeps,
  instanceId: string,
  containmentId: string,
): Promise<OriginalState | undefined> {
  const history = await deps.audit.history(instanceSubject(instanceId));
  const record = history.find((entry) => entry.key === originalRecordKey(containmentId));
  return record?.details as OriginalState | undefined;
}
