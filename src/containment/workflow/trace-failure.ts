import type { PhoenixDeps } from "../../deps.js";
import { causeMessage } from "../core/errors.js";
import { ACTOR, type ContainState, instanceSubject } from "../core/types.js";

export const TRACE_IMAGE_ACTION = "trace-image";

/**
 * What a containment whose image could not be traced must say: the trace stopped somewhere (before
 * or after counting it, marking the image, starting the rollback), so people must look rather
 * than assume. Not retried here: the step retried with backoff already, and tracing again from
 * the report would give the report function the rollback's permissions. Undefined when the trace ran.
 */
export function traceFailure(state: ContainState): string | undefined {
  if (!state.traceError || state.results.traceImage) return undefined;
  const error = `${state.traceError.Error}: ${causeMessage(state.traceError.Cause)}`;
  return `tracing its image failed (${error}): this containment may not count toward containment.poisonedImage, and a mark or rollback of its image may not have happened (see the image's audit trail)`;
}

/** The audit record of a trace that failed, one per containment (the report's retries add none). */
export async function auditTraceFailure(
  deps: Pick<PhoenixDeps, "audit">,
  state: ContainState,
  failure: string,
): Promise<void> {
  const { containment } = state;
  await deps.audit.write(
    {
      subject: instanceSubject(containment.instanceId),
      action: TRACE_IMAGE_ACTION,
      outcome: "failed",
      actor: ACTOR,
      execution: containment.containmentId,
      findingId: containment.findingId,
      reason: `Instance ${containment.instanceId}: ${failure}.`,
      details: { error: state.traceError ?? null },
    },
    `${containment.containmentId}#${TRACE_IMAGE_ACTION}`,
  );
}
