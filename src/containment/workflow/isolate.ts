import type { PhoenixDeps } from "../../deps.js";
import { TAG_QUARANTINE as QUARANTINE_TAG } from "../../tags.js";
import { attachedInterfaces, describeLiveInstance, type OwnedInstance, tagsOf } from "../aws/instance.js";
import {
  cutNetwork,
  isolateRecordDetails,
  isolateRecordKey,
  isolationPlan,
  type OriginalState,
  observedState,
  originalRecordKey,
  podsOriginalRecordKey,
  tagQuarantined,
  touchedByIsolation,
} from "../aws/isolation.js";
import { type IsolationGroups, isolationGroupsFor } from "../aws/isolation-groups.js";
import { cutPodInterfaces, podInterfaces } from "../aws/pod-interfaces.js";
import { ContainmentStepError } from "../core/errors.js";
import { protectionHold } from "../core/protection.js";
import {
  ACTOR,
  type ContainState,
  type InterfaceIsolation,
  type IsolateResult,
  instanceSubject,
} from "../core/types.js";

/**
 * Steps 1 and 2: look the instance up and cut its network. Usually the intake has already cut it
 * (on-finding isolates as soon as the containment is opened) and this step only confirms it and
 * reports the intake's time; otherwise (a held containment approved, the intake's attempt
 * failed, the first containment in a VPC) it isolates in four sequential AWS calls when the
 * isolation groups exist: describe the instance; find the groups (while the original state is
 * written to the audit trail); every interface, in parallel, to the allow-all group; then every
 * interface to the no-rule group. Only then is the instance tagged.
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
  const vpcIds = [...new Set(attachedInterfaces(instance).map((eni) => eni.VpcId!))];

  const observed = observedState(instance);
  const [groups] = await Promise.all([
    isolationGroupsFor(deps, vpcIds, { execution: input.containmentId, findingId: input.findingId }),
    writeOriginal(deps, state, observed),
  ]);
  // On a retry after a partial move, or after the intake's cut, what we see is not the original:
  // the trail has it (and the time the intake finished, if it did).
  const earlier = touchedByIsolation(observed, groups)
    ? await earlierRecords(deps, input.instanceId, input.containmentId)
    : {};
  const original = earlier.original ?? observed;
  const plan = isolationPlan(instance, original);
  const { alreadyIsolated } = await cutNetwork(deps, instance, plan, groups);
  const isolatedAt =
    alreadyIsolated === plan.length && earlier.isolatedAt ? earlier.isolatedAt : deps.now().toISOString();
  const podPlan = await isolatePods(deps, state, instance, groups);
  const tagged = await tagQuarantined(deps, instance, input.findingId);
  // The intake's record keeps its key (first write wins): what this step changed after it needs
  // a record of its own.
  const changedAfterIntake =
    earlier.isolatedAt !== undefined && (alreadyIsolated < plan.length || tagged || podPlan.length > 0);

  const result: IsolateResult = {
    ownerId: instance.ownerId ?? input.accountId,
    interfaces: plan,
    ...(podPlan.length > 0 ? { podInterfaces: podPlan } : {}),
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
        ...isolateRecordDetails(plan, groups, {
          alreadyIsolated,
          tag: `${QUARANTINE_TAG}=${input.findingId}`,
          isolatedAt,
        }),
        ...(podPlan.length > 0 ? { podInterfaces: podPlan } : {}),
      },
    },
    changedAfterIntake
      ? `${isolateRecordKey(input.containmentId)}#step`
      : isolateRecordKey(input.containmentId),
  );
  return result;
}

/**
 * The node's pods with interfaces of their own (security groups for pods) are cut off too, right
 * after the node: their branch interfaces go through the same two groups. Their groups before are
 * recorded first (first write wins, like the node's), for release.
 */
async function isolatePods(
  deps: PhoenixDeps,
  state: ContainState,
  instance: OwnedInstance,
  nodeGroups: IsolationGroups,
): Promise<InterfaceIsolation[]> {
  const pods = await podInterfaces(deps, instance);
  if (pods.length === 0) return [];
  const input = state.containment;
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "record-original-pods",
      outcome: "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      details: { interfaces: pods },
    },
    podsOriginalRecordKey(input.containmentId),
  );
  const missing = [...new Set(pods.map((p) => p.vpcId))].filter((vpc) => !nodeGroups.quarantine[vpc]);
  const groups =
    missing.length === 0
      ? nodeGroups
      : await isolationGroupsFor(deps, [...new Set([...Object.keys(nodeGroups.quarantine), ...missing])], {
          execution: input.containmentId,
          findingId: input.findingId,
        });
  return cutPodInterfaces(deps, pods, pods, groups);
}

/**
 * Writes the original groups, profile and tags (what release restores) before anything moves.
 * The audit record is first-write-wins, so a retry that sees a half-isolated instance cannot
 * overwrite the first attempt's truth (nor this step the one the intake wrote when it opened).
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

async function earlierRecords(
  deps: PhoenixDeps,
  instanceId: string,
  containmentId: string,
): Promise<{ original?: OriginalState; isolatedAt?: string }> {
  const history = await deps.audit.history(instanceSubject(instanceId));
  const original = history.find((entry) => entry.key === originalRecordKey(containmentId));
  const isolated = history.find((entry) => entry.key === isolateRecordKey(containmentId));
  const isolatedAt = isolated?.details?.["isolatedAt"];
  return {
    ...(original ? { original: original.details as unknown as OriginalState } : {}),
    ...(typeof isolatedAt === "string" ? { isolatedAt } : {}),
  };
}
