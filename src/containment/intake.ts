import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from "@aws-sdk/client-auto-scaling";
import type { PhoenixDeps } from "../deps.js";
import type { Finding, Tags } from "../findings/guardduty.js";
import { startContainment } from "./execution.js";
import { protectionHold } from "./protection.js";
import { routeFinding } from "./route.js";
import {
  type ContainmentItem,
  claimNotification,
  type FindingSighting,
  getContainment,
  isOpen,
  joinContainment,
  once,
  openContainment,
} from "./state.js";
import { findInstance, isGone, tagsOf } from "./steps/instance.js";
import { instanceSubject } from "./steps/types.js";

/** What Phoenix did with one finding. Each kind is audited. */
export type IntakeOutcome =
  | { kind: "ignored" | "logged" | "notified"; reason: string }
  /** The instance cannot be contained (unknown or terminated): a clear error, nothing changed. */
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
  const decision = routeFinding(finding, deps.policy.containment);
  const findingRef = {
    findingId: finding.findingId,
    type: finding.type,
    severity: finding.severity,
    count: finding.count,
  };
  const routeKey = `route#${finding.count}#${finding.updatedAt}`;
  switch (decision.action) {
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
    case "notify": {
      if (await claimNotification(deps, finding.findingId, finding.count)) {
        await deps.notifier.notify({
          kind: "containment",
          severity: "warning",
          subject: `Finding on ${finding.instanceId}: ${finding.type} (severity ${finding.severity})`,
          message: `${finding.title}\n\n${decision.reason} Phoenix did not act on the instance.`,
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
          reason: decision.reason,
          details: { ...findingRef, instanceId: finding.instanceId ?? null },
        },
        routeKey,
      );
      return { kind: "notified", reason: decision.reason };
    }
    case "contain":
      return containFinding(deps, finding, delivery, decision.reason);
  }
}

async function containFinding(
  deps: PhoenixDeps,
  finding: Finding,
  delivery: Delivery,
  why: string,
): Promise<IntakeOutcome> {
  const instanceId = finding.instanceId!;
  const sighting: FindingSighting = {
    findingId: finding.findingId,
    type: finding.type,
    severity: finding.severity,
    count: finding.count,
    updatedAt: finding.updatedAt,
  };
  // The cheap check first: a flood of repeats joins without touching EC2.
  const current = await getContainment(deps, finding.accountId, instanceId);
  if (isOpen(current)) return join(deps, current, sighting, delivery);

  const instance = await findInstance(deps, instanceId);
  if (!instance || isGone(instance)) {
    const reason = !instance
      ? `Instance ${instanceId} does not exist in account ${finding.accountId} (EC2 does not know it): nothing to contain.`
      : `Instance ${instanceId} is ${instance.State?.Name}: nothing to contain.`;
    await deps.audit.write(
      {
        subject: instanceSubject(instanceId),
        action: "contain",
        outcome: "refused",
        actor: ACTOR,
        findingId: finding.findingId,
        reason,
        details: { findingType: finding.type, severity: finding.severity, count: finding.count },
      },
      `refused#${finding.findingId}#${finding.count}`,
    );
    return { kind: "refused", reason };
  }

  const group = await groupOf(deps, instanceId);
  const protectedReason = protectionHold(tagsOf(instance.Tags), group?.tags);
  const opened = await openContainment(deps, {
    accountId: finding.accountId,
    instanceId,
    ...(group ? { group: { name: group.name, desiredCapacity: group.desiredCapacity } } : {}),
    sighting,
    openedBy: delivery.id,
    findingReceivedAt: delivery.receivedAt,
    ...(protectedReason ? { protectedReason } : {}),
    current,
  });

  switch (opened.kind) {
    case "exists":
      return join(deps, opened.item, sighting, delivery);
    case "held":
      await reportHold(deps, opened.item, why);
      return { kind: "held", holdId: opened.hold.holdId, reason: opened.hold.reason };
    case "opened":
      return start(deps, opened.item, why);
  }
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

/** The Auto Scaling group an instance is in, with its capacity and tags; undefined when standalone. */
export async function groupOf(deps: PhoenixDeps, instanceId: string): Promise<GroupFacts | undefined> {
  const { AutoScalingInstances = [] } = await deps.clients.autoScaling.send(
    new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
  );
  const name = AutoScalingInstances[0]?.AutoScalingGroupName;
  if (!name) return undefined;
  const { AutoScalingGroups = [] } = await deps.clients.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const group = AutoScalingGroups[0];
  return {
    name,
    // Unknown capacity counts as 0 against the percent limit: the budget then holds, the safe side.
    desiredCapacity: group?.DesiredCapacity ?? Number.NaN,
    tags: tagsOf(group?.Tags?.map((tag) => ({ Key: tag.Key, Value: tag.Value }))),
  };
}
