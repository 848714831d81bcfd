import {
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from "@aws-sdk/client-auto-scaling";
import { awsErrorCode } from "../../aws/errors.js";
import type { PhoenixDeps } from "../../deps.js";
import type { Finding, Tags } from "../../findings/guardduty.js";
import { fleetDeps } from "../../member-access.js";
import { ASG_NAME_TAG, TAG_QUARANTINE } from "../../tags.js";
import { readPreviousStarts } from "../aws/budget-counters.js";
import { startContainment } from "../aws/execution.js";
import { attachedInterfaces, findInstance, isGone, type OwnedInstance, tagsOf } from "../aws/instance.js";
import {
  cutNetwork,
  isolateRecordDetails,
  isolateRecordKey,
  isolationPlan,
  type OriginalState,
  observedState,
  tagQuarantined,
  touchedByIsolation,
} from "../aws/isolation.js";
import { existingIsolationGroups, type IsolationGroups } from "../aws/isolation-groups.js";
import { claimNotification, once } from "../aws/once.js";
import {
  type ContainmentItem,
  type FindingSighting,
  getContainment,
  isOpen,
  joinContainment,
  openContainment,
} from "../aws/records.js";
import { protectionHold } from "../core/protection.js";
import { managedScope, type RouteDecision, routeFinding, unmanagedNodeReason } from "../core/route.js";
import { instanceSubject } from "../core/types.js";

/** What Phoenix did with one finding. Each kind is audited. */
export type IntakeOutcome =
  | { kind: "ignored" | "logged" | "notified"; reason: string }
  /**
   * Phoenix will not act: the finding is for an account or region it does not manage, or the
   * instance cannot be contained (unknown or terminated). A clear error, nothing changed.
   */
  | { kind: "refused"; reason: string }
  | { kind: "held"; holdId: string; reason: string }
  | { kind: "started"; executionName: string; executionArn: string }
  /** Joined the instance's open containment: no second one. */
  | { kind: "joined"; executionName: string; status: ContainmentItem["status"] };

export interface Delivery {
  /** The SQS message id: the same on every redelivery of the message. */
  id: string;
  receivedAt: string;
}

const ACTOR = "phoenix:on-finding";

/**
 * A "starting" record whose opener vanished (crashed between the record and StartExecution) is
 * started by a later finding once it is this old. The opener's own redelivery starts it at once.
 */
export const STALE_START_MS = 2 * 60_000;

/** Decides and acts on one validated finding: route, then notify, or contain (dedupe, budget, start). */
export async function takeFinding(
  deps: PhoenixDeps,
  finding: Finding,
  delivery: Delivery,
): Promise<IntakeOutcome> {
  const decision = routeFinding(finding, deps.policy.containment, managedScope(deps));
  const findingRef = refOf(finding);
  const routeKey = routeKeyOf(finding);
  switch (decision.action) {
    case "refuse": {
      // Nothing is read or written for an account Phoenix does not manage, beyond this record.
      await deps.audit.write(
        {
          subject: `finding/${finding.findingId}`,
          action: "route",
          outcome: "refused",
          actor: ACTOR,
          findingId: finding.findingId,
          reason: decision.reason,
          details: {
            ...findingRef,
            instanceId: finding.instanceId ?? null,
            claimed: {
              accountId: finding.accountId,
              region: finding.region,
              eventAccount: finding.eventAccount ?? null,
              eventRegion: finding.eventRegion ?? null,
            },
            managed: managedScope(deps).members.map(({ accountId, regions }) => ({ accountId, regions })),
          },
        },
        routeKey,
      );
      return { kind: "refused", reason: decision.reason };
    }
    case "ignore":
    case "log": {
      await deps.audit.write(
        {
          subject: `finding/${finding.findingId}`,
          action: "route",
          outcome: "skipped",
          actor: ACTOR,
          findingId: finding.findingId,
          reason: decision.reason,
          details: { ...findingRef, action: decision.action, instanceId: finding.instanceId ?? null },
        },
        routeKey,
      );
      return { kind: decision.action === "ignore" ? "ignored" : "logged", reason: decision.reason };
    }
    case "notify":
      return notifyFinding(deps, finding, decision.reason);
    case "contain":
      return containFinding(deps, finding, decision, delivery);
  }
}

/** People are told (once per sighting), the trail says why, and nothing is done to the instance. */
async function notifyFinding(deps: PhoenixDeps, finding: Finding, reason: string): Promise<IntakeOutcome> {
  const findingRef = refOf(finding);
  if (await claimNotification(deps, finding.findingId, finding.count)) {
    await deps.notifier.notify({
      kind: "containment",
      severity: "warning",
      subject: `Finding on ${finding.instanceId}: ${finding.type} (severity ${finding.severity})`,
      message: `${finding.title}\n\n${reason} Phoenix did not act on the instance.`,
      data: { ...findingRef, instanceId: finding.instanceId, accountId: finding.accountId },
    });
  }
  await deps.audit.write(
    {
      subject: `finding/${finding.findingId}`,
      action: "route",
      outcome: "notified",
      actor: ACTOR,
      findingId: finding.findingId,
      reason,
      details: { ...findingRef, instanceId: finding.instanceId ?? null },
    },
    routeKeyOf(finding),
  );
  return { kind: "notified", reason };
}

/** What every routing record says of the finding. */
const refOf = (finding: Finding) => ({
  findingId: finding.findingId,
  type: finding.type,
  severity: finding.severity,
  count: finding.count,
});

/** One routing record per sighting (count and update), however often it is redelivered. */
const routeKeyOf = (finding: Finding) => `route#${finding.count}#${finding.updatedAt}`;

/**
 * The group an Auto Scaling instance carries in this AWS-managed tag; GuardDuty copies the
 * instance's tags into the finding, so the intake can ask for the group before EC2 answers.
 */
export { ASG_NAME_TAG };

/**
 * Contains the instance of a finding as fast as the checks allow. With the isolation groups in
 * place that is four sequential AWS calls from the finding to the no-rule group:
 *
 * 1. at once: the containment record (dedupe), the instance, its Auto Scaling group (asked by
 *    the name the finding carries, confirmed by DescribeAutoScalingInstances), the budget window;
 * 2. the transaction that opens the containment within the budget (and records the original
 *    state), beside the lookup of the instance's isolation groups;
 * 3. every interface to the allow-all group; 4. every interface to the no-rule group.
 *
 * Then the workflow starts and goes on (harden, revoke, detach and replace, evidence, dispose); its isolate
 * step finds the work done. A held containment (protected, over budget) cuts nothing.
 */
async function containFinding(
  deps: PhoenixDeps,
  finding: Finding,
  /** Routing's verdict; its account is the one verified as managed: records and budgets count on it. */
  decision: Extract<RouteDecision, { action: "contain" }>,
  delivery: Delivery,
): Promise<IntakeOutcome> {
  const { accountId, reason: why } = decision;
  const { region } = finding;
  const instanceId = finding.instanceId!;
  // The fleet's clients, in the finding's account (through its member role) and region; records,
  // budgets, audit and the workflow stay Phoenix's own (the audit records and notifications of a
  // member's containment name its account and region).
  const fleet = fleetDeps(deps, { accountId, region });
  const sighting: FindingSighting = {
    findingId: finding.findingId,
    type: finding.type,
    severity: finding.severity,
    count: finding.count,
    updatedAt: finding.updatedAt,
  };
  // A finding seen before (count > 1) most likely joins an open containment: in a flood of
  // repeats, one read decides, without touching EC2 or Auto Scaling. A first sighting reads all
  // at once, because then the instance is most likely not yet contained.
  let known: { current: ContainmentItem | undefined } | undefined;
  if (finding.count > 1) {
    known = { current: await getContainment(fleet, accountId, instanceId) };
    if (isOpen(known.current)) return join(fleet, known.current, sighting, delivery);
  }
  const [current, instance, group, previousStarts] = await Promise.all([
    known ? known.current : getContainment(fleet, accountId, instanceId),
    findInstance(fleet, instanceId),
    groupOf(fleet, instanceId, finding.instanceTags?.[ASG_NAME_TAG]),
    readPreviousStarts(fleet, accountId),
  ]);
  if (isOpen(current)) return join(fleet, current, sighting, delivery);

  if (!instance || isGone(instance)) {
    const reason = !instance
      ? `Instance ${instanceId} does not exist in account ${accountId} region ${region} (EC2 does not know it): nothing to contain.`
      : `Instance ${instanceId} is ${instance.State?.Name}: nothing to contain.`;
    await fleet.audit.write(
      {
        subject: instanceSubject(instanceId),
        action: "contain",
        outcome: "refused",
        actor: ACTOR,
        findingId: finding.findingId,
        reason,
        details: {
          findingType: finding.type,
          severity: finding.severity,
          count: finding.count,
          accountId,
          region,
        },
      },
      `refused#${finding.findingId}#${finding.count}`,
    );
    return { kind: "refused", reason };
  }

  // A cluster node is contained only in a node group Phoenix manages (routing cannot see groups).
  const unmanaged = unmanagedNodeReason(decision, group);
  if (unmanaged) return notifyFinding(fleet, finding, unmanaged);

  const protectedReason = protectionHold(tagsOf(instance.Tags), group?.tags);
  const original = observedState(instance);
  const vpcIds = [...new Set(attachedInterfaces(instance).map((eni) => eni.VpcId!))];
  const [opened, groups] = await Promise.all([
    openContainment(fleet, {
      accountId,
      region,
      instanceId,
      ...(group ? { group: { name: group.name, desiredCapacity: group.desiredCapacity } } : {}),
      sighting,
      openedBy: delivery.id,
      findingReceivedAt: delivery.receivedAt,
      ...(protectedReason ? { protectedReason } : {}),
      current,
      previousStarts,
      original: { state: original, actor: ACTOR },
    }),
    // Read-only, and only useful if the containment opens; a failure leaves the cut to the step.
    protectedReason ? undefined : existingIsolationGroups(fleet, vpcIds).catch(() => undefined),
  ]);

  switch (opened.kind) {
    case "exists":
      return join(fleet, opened.item, sighting, delivery);
    case "held":
      await reportHold(fleet, opened.item, why);
      return { kind: "held", holdId: opened.hold.holdId, reason: opened.hold.reason };
    case "opened":
      await isolateAtIntake(fleet, opened.item, instance, original, groups);
      return start(fleet, opened.item, why);
  }
}

/**
 * Cuts the network of a just-opened containment without waiting for the workflow. Isolation is
 * reversible and protective, so it is not worth a delay; if it cannot happen here (no isolation
 * groups yet in a VPC, the instance already half-moved, an AWS error), the isolate step does it
 * moments later with its own retries, and the failure is in the trail.
 */
async function isolateAtIntake(
  deps: PhoenixDeps,
  item: ContainmentItem,
  instance: OwnedInstance,
  original: OriginalState,
  groups: IsolationGroups | undefined,
): Promise<void> {
  if (!groups || touchedByIsolation(original, groups)) return;
  const plan = isolationPlan(instance, original);
  try {
    await cutNetwork(deps, instance, plan, groups);
  } catch (error) {
    await deps.audit.write(
      {
        subject: instanceSubject(item.instanceId),
        action: "isolate",
        outcome: "failed",
        actor: ACTOR,
        execution: item.executionName,
        findingId: item.epoch,
        reason: `The intake could not cut the network (${awsErrorCode(error)}: ${(error as Error).message}); the workflow's isolate step will.`,
        // The step reads the interfaces as they are and finishes what was begun.
        details: { by: "intake", interfaces: plan.map((eni) => eni.networkInterfaceId) },
      },
      `${item.executionName}#isolate-at-intake-failed`,
    );
    return;
  }
  const isolatedAt = deps.now().toISOString();
  // The mark is not part of the cut: if it fails, the isolate step writes it (and audits it).
  const tagged = await tagQuarantined(deps, instance, item.epoch).then(
    () => true,
    () => false,
  );
  await deps.audit.write(
    {
      subject: instanceSubject(item.instanceId),
      action: "isolate",
      outcome: "ok",
      actor: ACTOR,
      execution: item.executionName,
      findingId: item.epoch,
      details: isolateRecordDetails(plan, groups, {
        alreadyIsolated: 0,
        tag: tagged ? `${TAG_QUARANTINE}=${item.epoch}` : null,
        isolatedAt,
        by: "intake",
      }),
    },
    isolateRecordKey(item.executionName),
  );
}

/** Starts the workflow of a record and audits it; safe to repeat (one execution per record). */
async function start(deps: PhoenixDeps, item: ContainmentItem, why: string): Promise<IntakeOutcome> {
  const executionArn = await startContainment(deps, item);
  await deps.audit.write(
    {
      subject: instanceSubject(item.instanceId),
      action: "start-containment",
      outcome: "ok",
      actor: ACTOR,
      execution: item.executionName,
      findingId: item.epoch,
      reason: why,
      details: { executionArn, groupName: item.groupName ?? null, generation: item.generation },
    },
    `${item.executionName}#start`,
  );
  return { kind: "started", executionName: item.executionName, executionArn };
}

/** Audits and notifies a hold, once, however often the finding that caused it is redelivered. */
async function reportHold(deps: PhoenixDeps, item: ContainmentItem, why: string): Promise<void> {
  const hold = item.hold!;
  await deps.audit.write(
    {
      subject: instanceSubject(item.instanceId),
      action: "hold",
      outcome: "held",
      actor: ACTOR,
      execution: item.executionName,
      findingId: item.epoch,
      reason: hold.reason,
      details: {
        holdId: hold.id,
        kind: hold.kind,
        limit: hold.limit ?? null,
        groupName: item.groupName ?? null,
      },
    },
    `${item.executionName}#hold`,
  );
  await once(deps, `${hold.id}#notify`, () =>
    deps.notifier.notify({
      kind: "hold",
      severity: "critical",
      subject: `Held for approval: ${item.instanceId} (${item.executionInput.findingType})`,
      message: `${why}\n\nPhoenix did not act: ${hold.reason}\n\nApprove hold ${hold.id} to contain it.`,
      data: {
        holdId: hold.id,
        instanceId: item.instanceId,
        findingId: item.epoch,
        kind: hold.kind,
        limit: hold.limit,
      },
    }),
  );
}

async function join(
  deps: PhoenixDeps,
  item: ContainmentItem,
  sighting: FindingSighting,
  delivery: Delivery,
): Promise<IntakeOutcome> {
  const news = await joinContainment(deps, item, sighting);
  // A copy of a sighting already recorded adds nothing to the trail.
  if (news) {
    await deps.audit.write(
      {
        subject: instanceSubject(item.instanceId),
        action: "join-containment",
        outcome: "ok",
        actor: ACTOR,
        execution: item.executionName,
        findingId: sighting.findingId,
        details: { ...sighting, status: item.status },
      },
      `join#${sighting.findingId}#${sighting.count}#${sighting.updatedAt}`,
    );
  }
  // The opener's own redelivery (same SQS message id) finishes what the first attempt may not
  // have: the start (its execution may not exist yet), the audit, the hold notification. A
  // record left starting for long by an opener that vanished is started by any later finding.
  // StartExecution under the record's name cannot start a second execution either way.
  const opener = item.openedBy === delivery.id;
  const stale = Date.parse(delivery.receivedAt) - Date.parse(item.openedAt) > STALE_START_MS;
  if (item.status === "starting" && (opener || stale)) return start(deps, item, "resumed start");
  if (opener && item.status === "held") await reportHold(deps, item, "resumed hold");
  return { kind: "joined", executionName: item.executionName, status: item.status };
}

export interface GroupFacts {
  name: string;
  desiredCapacity: number;
  tags: Tags;
}

/**
 * The Auto Scaling group an instance is in, with its capacity and tags; undefined when standalone.
 * Given the name the instance's tags suggest, both questions go out at once; the membership
 * answer decides (the tag stays on an instance that left its group).
 */
export async function groupOf(
  deps: PhoenixDeps,
  instanceId: string,
  suggestedName?: string,
): Promise<GroupFacts | undefined> {
  const [{ AutoScalingInstances = [] }, suggested] = await Promise.all([
    deps.clients.autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] })),
    // Only a suggestion, from the event: a name Auto Scaling refuses (or any error) costs nothing.
    suggestedName ? describeGroup(deps, suggestedName).catch(() => undefined) : undefined,
  ]);
  const name = AutoScalingInstances[0]?.AutoScalingGroupName;
  if (!name) return undefined;
  // The suggestion is used only if it was the right group and its answer came; otherwise ask now
  // (and let an error through: a group whose capacity and tags are unknown must not be guessed).
  const group = name === suggestedName && suggested ? suggested : await describeGroup(deps, name);
  return {
    name,
    // Unknown capacity counts as 0 against the percent limit: the budget then holds, the safe side.
    desiredCapacity: group?.DesiredCapacity ?? Number.NaN,
    tags: tagsOf(group?.Tags?.map((tag) => ({ Key: tag.Key, Value: tag.Value }))),
  };
}

async function describeGroup(deps: PhoenixDeps, name: string): Promise<AutoScalingGroup | undefined> {
  const { AutoScalingGroups = [] } = await deps.clients.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  return AutoScalingGroups[0];
}
