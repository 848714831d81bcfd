import type { PhoenixDeps } from "../../deps.js";
import { once } from "../aws/once.js";
import { finishContainment } from "../aws/records.js";
import { causeMessage } from "../core/errors.js";
import { buildTimeline, formatTimeline } from "../core/timeline.js";
import {
  ACTOR,
  type ContainState,
  type FailureReportResult,
  instanceSubject,
  memberPlace,
} from "../core/types.js";
import { stepTimes } from "./report.js";
import { auditTraceFailure, traceFailure } from "./trace-failure.js";

/**
 * Where a failed containment stopped: the first step, in workflow order, whose result is missing
 * (a poll that never saw completion counts as the wait that failed). Derived from the results so
 * that every Catch can share one failure state.
 */
export function failedAt(state: ContainState): string {
  const r = state.results;
  if (!r.isolate) return "isolating the network interfaces (step 2)";
  if (!r.harden) return "termination protection and volume retention (step 3)";
  if (!r.revoke) return "revoking credentials and Elastic IPs (step 4)";
  if (!r.replace) return "detaching the instance from its group (step 5)";
  if (!r.evidence) return "starting the evidence snapshots (step 6)";
  if (r.evidenceStatus?.complete !== true) return "waiting for the evidence snapshots to complete (step 6)";
  if (r.replace.replaced && r.replacementStatus?.healthy !== true) {
    return "waiting for the group to be back at full healthy capacity (step 5, after the evidence)";
  }
  if (!r.dispose) return "disposing of the instance (step 7)";
  return "reporting the outcome (step 8)";
}

/**
 * The Catch target of every step: audit and notify loudly where the containment stopped and
 * that the instance stays as it is (isolated, if isolation completed). The workflow then fails.
 * Nothing is undone: Phoenix never un-isolates automatically.
 */
export async function reportFailure(deps: PhoenixDeps, state: ContainState): Promise<FailureReportResult> {
  const input = state.containment;
  const where = failedAt(state);
  const isolated = state.results.isolate !== undefined;
  const error = state.error ? `${state.error.Error}: ${causeMessage(state.error.Cause)}` : "unknown error";
  const stance = isolated
    ? "The instance stays isolated; nothing is undone automatically."
    : "Isolation did not complete: the instance may still have network access. Act now.";
  const untraced = traceFailure(state);
  if (untraced) await auditTraceFailure(deps, state, untraced);
  // Home deps (this report must not depend on reaching the member), so the place is said here.
  const place = memberPlace(input, deps);
  const message = `Containment of ${input.instanceId}${place?.text ?? ""} (${input.findingType}) failed while ${where}. ${error}. ${stance}${untraced ? ` Also, ${untraced}.` : ""}`;
  const timeline = buildTimeline(stepTimes(state));
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "contain",
      outcome: "failed",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      ...(place ? { accountId: place.accountId, region: place.region } : {}),
      reason: message,
      details: {
        failedAt: where,
        isolated,
        error: state.error ?? null,
        ...(untraced ? { traceError: state.traceError } : {}),
        timeline,
      },
    },
    `${input.containmentId}#outcome`,
  );
  await once(deps, `${input.containmentId}#outcome`, () =>
    deps.notifier.notify({
      kind: "error",
      severity: "critical",
      subject: `Containment FAILED: ${input.instanceId} (${where.replace(/ \(step [^)]*\)$/, "")})`,
      message: `${message}\n\n${formatTimeline(timeline)}`,
      data: {
        instanceId: input.instanceId,
        containmentId: input.containmentId,
        ...(place ? { accountId: place.accountId, region: place.region } : {}),
        failedAt: where,
        isolated,
        error: state.error ?? null,
      },
    }),
  );
  await finishContainment(deps, input, "failed");
  return { failedAt: where, isolated, message, reportedAt: deps.now().toISOString() };
}
