import type { PhoenixDeps } from "../../deps.js";
import { once } from "../aws/once.js";
import { finishContainment } from "../aws/records.js";
import { buildTimeline, formatTimeline, type StepTimes } from "../core/timeline.js";
import { ACTOR, type ContainState, instanceSubject, memberPlace, type ReportResult } from "../core/types.js";
import { auditTraceFailure, traceFailure } from "./trace-failure.js";

/** The times the timeline knows from a workflow's results; a step not reached is absent. */
export function stepTimes(state: ContainState): StepTimes {
  const { isolate, evidenceStatus, replacementStatus, dispose } = state.results;
  return {
    findingReceived: state.containment.findingReceivedAt,
    ...(isolate ? { isolated: isolate.isolatedAt } : {}),
    ...(evidenceStatus?.completedAt ? { evidenceComplete: evidenceStatus.completedAt } : {}),
    ...(replacementStatus?.healthyAt ? { replacementHealthy: replacementStatus.healthyAt } : {}),
    ...(dispose && dispose.disposition !== "kept" ? { disposed: dispose.disposedAt } : {}),
  };
}

/** Step 8: the outcome, with the timeline, in the audit trail and to people; the record closes. */
export async function report(deps: PhoenixDeps, state: ContainState): Promise<ReportResult> {
  const input = state.containment;
  const timeline = buildTimeline(stepTimes(state));
  const { replace, dispose, evidence, revoke } = state.results;
  const done = replace?.replaced
    ? `isolated, evidence kept (${evidence?.snapshotIds.length ?? 0} snapshot(s)), replaced in ${replace.groupName}, ${dispose?.disposition ?? "not disposed"}`
    : `isolated and kept, evidence kept (${evidence?.snapshotIds.length ?? 0} snapshot(s)); standalone, so not replaced`;
  // Said in the outcome itself: credentials left valid are what a responder must act on; an
  // image not traced is one a person may need to look at (it could be poisoned, uncounted).
  const untraced = traceFailure(state);
  if (untraced) await auditTraceFailure(deps, state, untraced);
  const outcome = [done, revoke?.credentialsNotRevoked, untraced].filter(Boolean).join("; ");
  // Phoenix's own deps (a report must not depend on reaching the member): the place is said here.
  const place = memberPlace(input, deps);
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "contain",
      outcome: "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      ...(place ? { accountId: place.accountId, region: place.region } : {}),
      reason: outcome,
      details: {
        timeline,
        findingType: input.findingType,
        severity: input.severity,
        snapshotIds: evidence?.snapshotIds ?? [],
        credentialsDeniedOnRole: revoke?.credentialsNotRevoked ? null : (revoke?.roleName ?? null),
        ...(revoke?.credentialsNotRevoked ? { credentialsNotRevoked: revoke.credentialsNotRevoked } : {}),
        disposition: dispose?.disposition ?? null,
        ...(untraced ? { traceError: state.traceError } : {}),
        ...(input.approvedBy ? { approvedBy: input.approvedBy } : {}),
      },
    },
    `${input.containmentId}#outcome`,
  );
  await once(deps, `${input.containmentId}#outcome`, () =>
    deps.notifier.notify({
      kind: "containment",
      severity: "critical",
      subject: `Contained ${input.instanceId} (${input.findingType})`,
      message: `Instance ${input.instanceId}${place?.text ?? ""}: ${outcome}.\n\n${formatTimeline(timeline)}`,
      data: {
        instanceId: input.instanceId,
        ...(place ? { accountId: place.accountId, region: place.region } : {}),
        containmentId: input.containmentId,
        findingId: input.findingId,
        timeline,
      },
    }),
  );
  await finishContainment(deps, input, "succeeded");
  return {
    reportedAt: deps.now().toISOString(),
    ...(timeline.totalMs !== undefined ? { totalMs: timeline.totalMs } : {}),
  };
}
