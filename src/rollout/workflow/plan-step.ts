import type { PhoenixDeps } from "../../deps.js";
import { InvalidStepInputError } from "../aws/errors.js";
import { checkImage } from "../aws/image-check.js";
import { imageSubject, ROLLOUT_ACTOR } from "../aws/image-marks.js";
import { listPauses } from "../aws/pauses.js";
import { planAcross } from "../aws/places.js";
import { claimFamilyCurrent, endRollout, putRunningRollout } from "../aws/rollout-records.js";
import { stopSupersededRollout, supersedeDecision } from "../aws/supersede-check.js";
import { formatPlan } from "../core/format-plan.js";
import { describePause, pauseOf } from "../core/pause.js";
import { groupKey, placeFields } from "../core/place.js";
import type { RolloutPlan } from "../core/plan.js";
import type { GroupOrder, PlanStepOutput, RolloutContext, RolloutRequest } from "./contract.js";
import { rolloutRequestSchema } from "./contract.js";
import { notifyRollout } from "./notifications.js";

/** Seconds between two looks at a refresh (or at someone else's refresh we wait for). */
export const POLL_SECONDS = 30;

export interface PlanStepInput {
  request: unknown;
  execution: string;
}

/** All of Phoenix's deps: the plan reaches member accounts (member-access.ts). */
type Deps = PhoenixDeps;

/**
 * The workflow's first step: validate the request, gate the image again (it may have been
 * rejected since the event, and a manual start has not been gated at all), order it against
 * the family's other rollouts, plan, and announce. Every way out is audited and notified.
 */
export async function planStep(deps: Deps, input: PlanStepInput): Promise<PlanStepOutput> {
  const parsed = rolloutRequestSchema.safeParse(input.request);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join(".") || "input"}: ${issue.message}`,
    );
    throw new InvalidStepInputError(`invalid rollout request: ${problems.join("; ")}`);
  }
  const request = parsed.data;
  const execution = input.execution;
  const base = baseContext(deps, request, execution);

  const check = await checkImage(deps, request.imageId, {
    ...(request.family !== undefined ? { expectedFamily: request.family } : {}),
  });
  if (!check.found || !check.gate.pass) {
    const reasons = check.found ? (check.gate.pass ? [] : check.gate.reasons) : [check.reason];
    return refuse(deps, base, reasons);
  }
  const family = check.gate.family;
  const creationDate = check.image.CreationDate ?? "";
  const context: RolloutContext = { ...base, family };

  const pause = pauseOf(await listPauses(deps), family);
  if (pause !== undefined) return stop(deps, context, "paused", describePause(pause));

  if (!context.explicit) {
    const decision = await supersedeDecision(
      deps,
      family,
      { imageId: request.imageId, creationDate },
      execution,
    );
    if (!decision.proceed) return stop(deps, context, "superseded", decision.reason);
  }

  const { plan, groups } = await planAcross(deps, {
    image: check.image,
    family,
    ...(request.groups ? { explicitGroups: request.groups } : {}),
    ...(request.replaceAll ? { replaceAll: true } : {}),
  });
  await deps.audit.write(
    {
      subject: imageSubject(request.imageId),
      action: "plan",
      outcome: "ok",
      actor: context.requestedBy,
      execution,
      imageId: request.imageId,
      reason: planSummary(plan),
      details: { family, plan },
    },
    `plan#${execution}`,
  );
  const waves = plan.waves.map((wave) => ({ wave: wave.wave, groups: wave.groups.map(toOrder) }));
  const notRolled = [...plan.problems, ...(context.explicit ? plan.excluded : [])];
  context.notRolled = notRolled;
  if (waves.length === 0 && notRolled.length > 0) {
    // The finish step says so (incomplete): a rollout that rolled nothing it should have is no success.
    return { rollout: { ...context, outcome: "blocked", reason: planSummary(plan) }, cursor: 0 };
  }
  if (waves.length === 0) {
    await notifyRollout(deps, {
      subject: `Rollout of ${request.imageId} to ${family}: nothing to refresh`,
      message: formatPlan(plan),
      kind: "rollout",
      severity: "info",
      data: { execution, family, imageId: request.imageId },
    });
    return { rollout: { ...context, outcome: "nothing-to-do", reason: planSummary(plan) }, cursor: 0 };
  }

  if (!context.explicit) {
    const registered = await putRunningRollout(deps, {
      family,
      imageId: request.imageId,
      creationDate,
      execution,
      waves: waves.map((wave) => wave.wave),
      notRolled: notRolled.map(({ name, reason }) => ({ name, reason })),
    });
    if (!registered) return stop(deps, context, "superseded", `${request.imageId} is already rolling out`);
    const claimed = await claimFamilyCurrent(deps, family, {
      imageId: request.imageId,
      creationDate,
      execution,
    });
    if (!claimed) {
      const reason = `a newer image of ${family} claimed the family first`;
      await endRollout(deps, family, request.imageId, { status: "superseded", reason, execution });
      return stop(deps, context, "superseded", reason);
    }
    await supersedeOlder(
      deps,
      context,
      creationDate,
      groups.map((group) => groupKey(group)),
    );
  }

  const groupCount = waves.reduce((sum, wave) => sum + wave.groups.length, 0);
  await notifyRollout(deps, {
    subject: `Rollout started: ${request.imageId} to ${family} (${groupCount} groups, ${waves.length} waves)`,
    message: formatPlan(plan),
    kind: "rollout",
    severity: "info",
    data: { execution, family, imageId: request.imageId, waves: waves.map((wave) => wave.wave) },
  });
  return {
    rollout: { ...context, outcome: "proceed", reason: planSummary(plan), waves, waveCount: waves.length },
    cursor: 0,
  };
}

function baseContext(deps: Deps, request: RolloutRequest, execution: string): RolloutContext {
  const rollout = deps.policy.rollout;
  return {
    outcome: "proceed",
    reason: "",
    execution,
    family: request.family ?? "",
    imageId: request.imageId,
    explicit: request.groups !== undefined,
    requestedBy: request.requestedBy ?? ROLLOUT_ACTOR,
    waves: [],
    waveCount: 0,
    notRolled: [],
    maxConcurrentGroups: rollout.maxConcurrentGroups,
    bakeSeconds: Math.round(rollout.waveBakeMinutes * 60),
    pollSeconds: POLL_SECONDS,
    foreignRefresh: rollout.foreignRefresh,
    foreignWaitSeconds: rollout.foreignRefreshMaxWaitMinutes * 60,
    lockTtlSeconds: rollout.lockTtlMinutes * 60,
  };
}

/**
 * Rollouts of older images of the family lose the waves they have not started: their record says
 * superseded, and their execution is stopped now (not at its next wave), its locks released on
 * the family's groups (see stopSupersededRollout). Its BeginWave would find a newer image in
 * "current" anyway, should the stop not land.
 */
async function supersedeOlder(
  deps: Deps,
  context: RolloutContext,
  creationDate: string,
  familyGroups: string[],
): Promise<void> {
  const decision = await supersedeDecision(
    deps,
    context.family,
    { imageId: context.imageId, creationDate },
    context.execution,
  );
  for (const cancellation of decision.cancel) {
    const reason = cancellation.reason;
    await endRollout(deps, context.family, cancellation.imageId, { status: "superseded", reason });
    // The decision is recorded before it is carried out: a stop is never made without its record.
    await deps.audit.write(
      {
        subject: imageSubject(cancellation.imageId),
        action: "supersede",
        outcome: "ok",
        actor: ROLLOUT_ACTOR,
        reason,
        execution: context.execution,
        imageId: cancellation.imageId,
        details: {
          by: context.imageId,
          wavesCancelled: cancellation.wavesCancelled,
          wavesKept: cancellation.wavesKept,
          ...(cancellation.executionId !== undefined
            ? { supersededExecution: cancellation.executionId }
            : {}),
        },
      },
      `supersede#${context.execution}#${cancellation.imageId}`,
    );
    if (cancellation.executionId === undefined) continue;
    const stop = await stopSupersededRollout(
      deps,
      cancellation.executionId,
      familyGroups,
      `${reason} (${context.execution})`,
    );
    await deps.audit.write(
      {
        subject: imageSubject(cancellation.imageId),
        action: "stop-superseded",
        outcome: stop.stopped ? "ok" : "skipped",
        actor: ROLLOUT_ACTOR,
        reason: stop.stopped
          ? `stopped ${cancellation.executionId}; released the locks of ${stop.released.join(", ") || "no group"}`
          : `${cancellation.executionId} had ended already`,
        execution: context.execution,
        imageId: cancellation.imageId,
        details: {
          supersededExecution: cancellation.executionId,
          executionStopped: stop.stopped,
          locksReleased: stop.released,
        },
      },
      `stop-superseded#${cancellation.executionId}`,
    );
  }
}

async function refuse(deps: Deps, context: RolloutContext, reasons: string[]): Promise<PlanStepOutput> {
  const reason = reasons.join("; ");
  await deps.audit.write(
    {
      subject: imageSubject(context.imageId),
      action: "gate",
      outcome: "refused",
      actor: context.requestedBy,
      reason,
      execution: context.execution,
      imageId: context.imageId,
      details: { reasons },
    },
    `gate#${context.execution}`,
  );
  await notifyRollout(deps, {
    subject: `Image ${context.imageId} refused: not rolled out`,
    message: `Phoenix will not roll out ${context.imageId}${context.family ? ` (family ${context.family})` : ""}:\n- ${reasons.join("\n- ")}`,
    kind: "image-refused",
    severity: "warning",
    data: { execution: context.execution, imageId: context.imageId, reasons },
  });
  return { rollout: { ...context, outcome: "refused", reason }, cursor: 0 };
}

async function stop(
  deps: Deps,
  context: RolloutContext,
  outcome: "superseded" | "paused",
  reason: string,
): Promise<PlanStepOutput> {
  await deps.audit.write(
    {
      subject: imageSubject(context.imageId),
      action: "start-rollout",
      outcome: "skipped",
      actor: context.requestedBy,
      reason,
      execution: context.execution,
      imageId: context.imageId,
    },
    `start-rollout#${context.execution}`,
  );
  return { rollout: { ...context, outcome, reason }, cursor: 0 };
}

function toOrder(group: RolloutPlan["waves"][number]["groups"][number]): GroupOrder {
  return {
    name: group.name,
    ...placeFields(group),
    key: groupKey(group),
    wave: group.wave,
    launchTemplate: group.launchTemplate,
    ...(group.currentImageId !== undefined ? { currentImageId: group.currentImageId } : {}),
    preferences: group.preferences,
    ...(group.replaceAll ? { replaceAll: true } : {}),
  };
}

function planSummary(plan: RolloutPlan): string {
  const planned = plan.waves.reduce((sum, wave) => sum + wave.groups.length, 0);
  const parts = [`${planned} group(s) in ${plan.waves.length} wave(s)`];
  for (const [label, list] of [
    ["skipped", plan.skipped],
    ["protected", plan.protected],
    ["excluded", plan.excluded],
    ["with problems", plan.problems],
  ] as const) {
    if (list.length > 0) parts.push(`${list.length} ${label}`);
  }
  return parts.join(", ");
}
