import type { PhoenixDeps } from "../../deps.js";
import { fleetDeps } from "../../member-access.js";
import { InvalidStepInputError, LockHeldError } from "../aws/errors.js";
import { describeGroup } from "../aws/groups.js";
import { groupSubject, ROLLOUT_ACTOR } from "../aws/image-marks.js";
import { ensureTemplateVersion, pinGroupVersion, versionToPin } from "../aws/launch-template.js";
import { acquireGroupLock, describeHolder, releaseGroupLock, renewGroupLock } from "../aws/lock.js";
import { listPauses } from "../aws/pauses.js";
import {
  describeRefresh,
  findPhoenixRefresh,
  recordPhoenixRefresh,
  refreshReason,
  startOrAdoptRefresh,
} from "../aws/refresh.js";
import { describeStragglers, type GroupInstance, instancesNotOn, isOnImage } from "../core/group.js";
import { describePause, pauseOf } from "../core/pause.js";
import { groupKey, placeFields, placeOf } from "../core/place.js";
import { refreshOutcome } from "../core/refresh-outcome.js";
import {
  type GroupOutcome,
  type GroupResult,
  type GroupTask,
  groupTaskSchema,
  type PrepareAction,
  type RefreshPoll,
} from "./contract.js";

/**
 * The steps of one group's branch, in order: lock → prepare (someone else's refresh?) →
 * version → start → poll… → release; abandon when any of them failed for good. Each step is
 * idempotent, so the state machine may retry any of them.
 */

/** All of Phoenix's deps: a member's group is acted on through the member role (member-access.ts). */
type Deps = PhoenixDeps;

/**
 * The deps that act on the task's group: Phoenix's own, or, for a member's group, the same deps
 * with the fleet's clients in that account and region (its audit records naming them). Phoenix's
 * records of the group (lock, refresh records) stay central, under the group's key.
 */
const fleetOf = (deps: Deps, task: GroupTask): Deps => {
  const place = placeOf(task.group);
  return place !== undefined ? fleetDeps(deps, place) : deps;
};

/** The task's group's key (place.ts). */
const keyOf = (task: GroupTask) => groupKey(task.group);

export type GroupStep = "lock" | "prepare" | "version" | "start" | "poll" | "release" | "abandon";

export function parseGroupTask(input: unknown): GroupTask {
  const parsed = groupTaskSchema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidStepInputError(
      `invalid group task: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data as unknown as GroupTask;
}

const audit = (
  deps: Deps,
  task: GroupTask,
  entry: {
    action: string;
    outcome: "ok" | "failed" | "skipped" | "held";
    reason?: string;
    details?: Record<string, unknown>;
  },
  key: string,
) =>
  fleetOf(deps, task).audit.write(
    {
      subject: groupSubject(keyOf(task)),
      actor: ROLLOUT_ACTOR,
      execution: task.execution,
      imageId: task.imageId,
      ...entry,
    },
    key,
  );

/** Takes the group's lock or throws LockHeldError (the state machine retries with backoff). */
export async function lockStep(deps: Deps, task: GroupTask): Promise<{ owner: string; expiresAt: number }> {
  const attempt = await acquireGroupLock(deps, {
    group: keyOf(task),
    owner: task.execution,
    purpose: `rollout of ${task.imageId}`,
    ttlSeconds: task.lockTtlSeconds,
  });
  if (!attempt.acquired) {
    throw new LockHeldError(`group ${keyOf(task)} is locked: ${describeHolder(attempt.holder)}`);
  }
  await audit(
    deps,
    task,
    { action: "lock", outcome: "ok", reason: `rollout of ${task.imageId}` },
    `lock#${task.execution}`,
  );
  return { owner: attempt.lock.owner, expiresAt: attempt.lock.expiresAt };
}

/**
 * Looks at the group as it is now, under the lock. A refresh already running is adopted when it
 * is Phoenix's own for this image (an earlier attempt), waited for when it is anyone else's
 * (bounded by foreignWaitSeconds), or, for a refresh not started by Phoenix with
 * foreignRefresh "skip", the group is skipped. A group already on the image is skipped.
 */
export async function prepareStep(deps: Deps, task: GroupTask): Promise<NonNullable<GroupTask["prep"]>> {
  const waitedBefore = task.prep?.waitedSeconds ?? 0;
  // We get here again after a Wait: count it.
  const waited = task.prep?.action === "wait" ? waitedBefore + task.pollSeconds : waitedBefore;
  const result = (action: PrepareAction, reason: string, refreshId?: string) => ({
    action,
    reason,
    waitedSeconds: waited,
    ...(refreshId !== undefined ? { refresh: { refreshId } } : {}),
  });

  const group = await describeGroup(fleetOf(deps, task), task.group.name, placeOf(task.group));
  if (group === undefined) return result("skip", "the group no longer exists");
  const active = group.activeRefresh;
  if (active?.refreshId !== undefined) {
    const record = await findPhoenixRefresh(deps, keyOf(task), active.refreshId);
    const label = `instance refresh ${active.refreshId} (${active.status})`;
    if (record?.imageId === task.imageId) {
      return result("adopt", `${label} already rolls to ${task.imageId}`, active.refreshId);
    }
    const whose =
      record !== undefined ? `started by Phoenix for ${record.imageId}` : "not started by Phoenix";
    if (record === undefined && task.foreignRefresh === "skip") {
      return result("skip", `${label} ${whose} is running (foreignRefresh: skip)`);
    }
    // Waiting for another refresh would start ours once it ends: not while paused.
    const pause = pauseOf(await listPauses(deps), task.family);
    if (pause !== undefined) return result("paused", `not started: ${describePause(pause)}`);
    if (waited >= task.foreignWaitSeconds) {
      return result(
        "give-up",
        `${label} ${whose} still running after ${Math.round(waited / 60)} min of waiting`,
      );
    }
    return result("wait", `waiting for ${label} ${whose}`);
  }
  if (!task.group.replaceAll && isOnImage(group, task.imageId))
    return result("skip", `already on ${task.imageId}`);
  const pause = pauseOf(await listPauses(deps), task.family);
  if (pause !== undefined) return result("paused", `not started: ${describePause(pause)}`);
  return result("refresh", `refresh to ${task.imageId}`);
}

/** The numbered template version with the new image (reused when it exists). */
export async function versionStep(deps: Deps, task: GroupTask): Promise<NonNullable<GroupTask["version"]>> {
  // The template in use now, not at plan time: someone may have changed the group since.
  const fleet = fleetOf(deps, task);
  const group = await describeGroup(fleet, task.group.name, placeOf(task.group));
  let template = group?.launchTemplate ?? task.group.launchTemplate;
  if (template.version.startsWith("$")) {
    // Before any new version exists: see versionToPin.
    const pin = await versionToPin(fleet.clients.ec2, template, task.imageId);
    await pinGroupVersion(fleet.clients.autoScaling, task.group.name, pin, group?.mixedInstances?.policy);
    await audit(
      deps,
      task,
      {
        action: "pin-template-version",
        outcome: "ok",
        reason:
          `pinned ${task.group.name} from ${pin.from} to ${pin.launchTemplateId} version ${pin.version} ` +
          (pin.undid !== undefined
            ? `(${pin.from} named version ${pin.undid}, made by Phoenix for ${task.imageId}: the group goes back to what it ran before)`
            : "(the same content: what it launches does not change; only a refresh that can roll back brings the new image)"),
        details: { ...pin },
      },
      `pin-template-version#${task.execution}`,
    );
    template = { ...template, id: pin.launchTemplateId, version: pin.version };
  }
  const version = await ensureTemplateVersion(fleet.clients.ec2, template, task.imageId);
  await audit(
    deps,
    task,
    {
      action: "create-template-version",
      outcome: version.created ? "ok" : "skipped",
      reason: version.created
        ? `created ${version.launchTemplateId} version ${version.version} from ${version.sourceVersion}`
        : `reused ${version.launchTemplateId} version ${version.version}`,
      details: { ...version },
    },
    `template-version#${task.execution}`,
  );
  const mixed = group?.mixedInstances?.policy;
  return {
    launchTemplateId: version.launchTemplateId,
    version: version.version,
    sourceVersion: version.sourceVersion,
    created: version.created,
    ...(mixed !== undefined ? { mixedInstancesPolicy: mixed } : {}),
  };
}

/** StartInstanceRefresh to the numbered version; throws RefreshInProgressError when someone else's runs. */
export async function startStep(
  deps: Deps,
  task: GroupTask,
): Promise<{ refreshId: string; adopted: boolean }> {
  if (task.version === undefined) throw new InvalidStepInputError("start needs the version step's result");
  const version = task.version;
  return startRecordedRefresh(deps, task, task.group.preferences, (started) => ({
    reason: `${started.adopted ? "adopted" : "started"} instance refresh ${started.refreshId} to ${version.launchTemplateId} version ${version.version}`,
    details: { refreshId: started.refreshId, preferences: task.group.preferences, adopted: started.adopted },
  }));
}

/**
 * StartInstanceRefresh (or adopt ours) to the version step's template version, then the record
 * that tells Phoenix's refreshes from others' (refresh.ts), then the audit record, in that order:
 * a retried step finds its refresh, adopts it, and rewrites the same two records.
 */
async function startRecordedRefresh(
  deps: Deps,
  task: GroupTask,
  preferences: GroupTask["group"]["preferences"],
  describe: (started: { refreshId: string; adopted: boolean }) => {
    reason: string;
    details: Record<string, unknown>;
  },
): Promise<{ refreshId: string; adopted: boolean }> {
  const version = task.version!;
  const started = await startOrAdoptRefresh(fleetOf(deps, task).clients.autoScaling, {
    group: task.group.name,
    launchTemplateId: version.launchTemplateId,
    version: version.version,
    preferences,
    ...(version.mixedInstancesPolicy !== undefined
      ? { mixedInstancesPolicy: version.mixedInstancesPolicy }
      : {}),
  });
  await recordPhoenixRefresh(deps, {
    group: keyOf(task),
    refreshId: started.refreshId,
    imageId: task.imageId,
    execution: task.execution,
    launchTemplateId: version.launchTemplateId,
    version: version.version,
    startedAt: deps.now().toISOString(),
  });
  await audit(
    deps,
    task,
    { action: "start-refresh", outcome: "ok", ...describe(started) },
    `start-refresh#${started.refreshId}`,
  );
  return started;
}

/**
 * One look at the refresh; renews the lock so a long refresh does not outlive it. A refresh that
 * ended Successful is checked against the group: every serving instance must run the image, or
 * the group is "incomplete" (AWS reports success while it leaves scale-in protected or Standby
 * instances on the old image with "Ignore").
 */
export async function pollStep(deps: Deps, task: GroupTask): Promise<RefreshPoll> {
  const refreshId = task.refresh?.refreshId;
  if (refreshId === undefined) throw new InvalidStepInputError("poll needs a refresh id");
  const fleet = fleetOf(deps, task);
  const refresh = await describeRefresh(fleet.clients.autoScaling, task.group.name, refreshId);
  let outcome: RefreshPoll["outcome"] = refreshOutcome(refresh.Status);
  let reason = refreshReason(refresh);
  if (outcome === "succeeded") {
    const group = await describeGroup(fleet, task.group.name, placeOf(task.group));
    const stragglers = group === undefined ? [] : instancesNotOn(group, task.imageId);
    const left = stragglers.filter((instance) => leftByPolicy(instance, task.group.preferences));
    const followUps = task.refresh?.followUps ?? 0;
    if (
      stragglers.length > 0 &&
      left.length === 0 &&
      followUps < MAX_FOLLOW_UPS &&
      task.version !== undefined
    ) {
      // Instances launched while the refresh ran (a scale-out, a containment's replacement) came
      // from the group's old settings: AWS switches the group to the new version only once the
      // refresh succeeds. Now it has, a second refresh replaces just those (SkipMatching).
      const next = await followUpRefresh(
        deps,
        task,
        stragglers.map((i) => i.instanceId),
      );
      return {
        refreshId: next.refreshId,
        status: "Pending",
        terminal: false,
        reason: `follow-up refresh ${next.refreshId} for ${describeStragglers(stragglers)}`,
        followUp: { refreshId: next.refreshId, followUps: followUps + 1 },
      };
    }
    if (stragglers.length > 0) {
      outcome = "incomplete";
      reason =
        `instance refresh ${refreshId} ended Successful, but ${stragglers.length} serving instance(s) ` +
        `still run another image: ${describeStragglers(stragglers)} ` +
        `(policy.rollout.refresh: scaleInProtectedInstances ${task.group.preferences.ScaleInProtectedInstances ?? "unset"}, ` +
        `standbyInstances ${task.group.preferences.StandbyInstances ?? "unset"}` +
        (left.length === 0 ? `; still there after ${followUps} follow-up refresh(es)` : "") +
        ")";
    }
  }
  const poll: RefreshPoll = {
    refreshId,
    status: refresh.Status ?? "unknown",
    terminal: outcome !== undefined,
    reason,
    ...(outcome !== undefined ? { outcome } : {}),
    ...(refresh.PercentageComplete !== undefined ? { percentageComplete: refresh.PercentageComplete } : {}),
  };
  if (outcome === undefined) {
    await renewGroupLock(deps, keyOf(task), task.execution, task.lockTtlSeconds);
  } else {
    await audit(
      deps,
      task,
      {
        action: "refresh-ended",
        outcome: outcome === "succeeded" ? "ok" : "failed",
        reason: `instance refresh ${refreshId} ended ${refresh.Status}${poll.reason ? `: ${poll.reason}` : ""}`,
        details: { refreshId, status: refresh.Status, result: outcome },
      },
      `refresh-ended#${refreshId}`,
    );
  }
  return poll;
}

/** Follow-up refreshes for instances launched from the old settings while a refresh ran. */
const MAX_FOLLOW_UPS = 2;

/** An instance the policy told the refresh to leave alone ("Ignore"): no refresh will replace it. */
function leftByPolicy(instance: GroupInstance, preferences: GroupTask["group"]["preferences"]): boolean {
  const standby = instance.lifecycleState?.includes("Standby") === true;
  if (standby) return preferences.StandbyInstances === "Ignore";
  return instance.protectedFromScaleIn === true && preferences.ScaleInProtectedInstances === "Ignore";
}

async function followUpRefresh(
  deps: Deps,
  task: GroupTask,
  instanceIds: string[],
): Promise<{ refreshId: string }> {
  return startRecordedRefresh(deps, task, { ...task.group.preferences, SkipMatching: true }, (started) => ({
    reason: `follow-up instance refresh ${started.refreshId} (SkipMatching) for instances launched from the old version meanwhile: ${instanceIds.join(", ")}`,
    details: { refreshId: started.refreshId, followUpOf: task.refresh?.refreshId, instanceIds },
  }));
}

/** Releases the lock (only ours) and states the group's result for the wave verdict. */
export async function releaseStep(deps: Deps, task: GroupTask): Promise<GroupResult> {
  const result = groupResult(task);
  await releaseAndAudit(deps, task, result);
  return result;
}

/**
 * After a step failed for good (its Catch): release the lock if we hold it and report the group
 * as blocked (the lock never came free) or errored. Nothing here blames the image.
 */
export async function abandonStep(deps: Deps, task: GroupTask): Promise<GroupResult> {
  const error = task.error ?? {};
  const message = errorMessage(error);
  const outcome: GroupOutcome = error.Error === "Phoenix.LockHeld" ? "blocked" : "error";
  const result: GroupResult = {
    group: keyOf(task),
    ...placeFields(task.group),
    wave: task.wave,
    outcome,
    reason: `${error.Error ?? "error"}: ${message}`,
    ...(task.refresh?.refreshId !== undefined ? { refreshId: task.refresh.refreshId } : {}),
  };
  await releaseAndAudit(deps, task, result);
  return result;
}

async function releaseAndAudit(deps: Deps, task: GroupTask, result: GroupResult): Promise<void> {
  const released = await releaseGroupLock(deps, keyOf(task), task.execution);
  await audit(
    deps,
    task,
    {
      action: "unlock",
      outcome: released ? "ok" : "skipped",
      reason: `${result.outcome}: ${result.reason}${released ? "" : " (the lock was not ours)"}`,
      details: { result },
    },
    `unlock#${task.execution}`,
  );
}

function groupResult(task: GroupTask): GroupResult {
  const base = { group: keyOf(task), ...placeFields(task.group), wave: task.wave };
  const refreshId = task.status?.refreshId ?? task.refresh?.refreshId;
  const withRefresh = refreshId !== undefined ? { refreshId } : {};
  if (task.status?.outcome !== undefined) {
    const reason = task.status.reason || `instance refresh ${task.status.status}`;
    return { ...base, ...withRefresh, outcome: task.status.outcome, reason };
  }
  if (task.prep?.action === "skip") return { ...base, outcome: "skipped", reason: task.prep.reason };
  if (task.prep?.action === "paused") return { ...base, outcome: "paused", reason: task.prep.reason };
  if (task.prep?.action === "give-up") return { ...base, outcome: "blocked", reason: task.prep.reason };
  return {
    ...base,
    ...withRefresh,
    outcome: "error",
    reason: "the group's branch ended without a refresh result",
  };
}

/** Lambda puts `{errorType, errorMessage}` as JSON in the Cause; anything else is shown as is. */
export function errorMessage(error: { Error?: string; Cause?: string }): string {
  if (error.Cause === undefined) return "no cause given";
  try {
    const cause = JSON.parse(error.Cause) as { errorMessage?: unknown };
    if (typeof cause.errorMessage === "string") return cause.errorMessage;
  } catch {
    // Not JSON: a States.* error's cause is plain text.
  }
  return error.Cause;
}
