import { type StartedExecution, startNamedExecution } from "../../aws/executions.js";
import type { PhoenixDeps } from "../../deps.js";
import { imageSubject } from "../aws/image-marks.js";
import type { RolloutRequest } from "./contract.js";

/**
 * `phoenix rollout`: a person starts the rollout workflow under the name given (one per image and
 * family, so a person and an event start one execution), and the request is audited either way.
 * The workflow's Plan then takes the same gate, pause, supersede and plan decisions as for an event.
 */
export async function startManualRollout(
  deps: Pick<PhoenixDeps, "clients" | "audit">,
  start: {
    stateMachineArn: string;
    name: string;
    request: RolloutRequest & { requestedBy: string };
    /** Why it was asked for, when not by hand (a rollback, say), and what the audit record adds. */
    reason?: string;
    details?: Record<string, unknown>;
    /**
     * A workflow's own request (a rollback), retried as its step is: one "already exists" record,
     * not one per retry. A person asking again is audited each time.
     */
    retried?: boolean;
  },
): Promise<StartedExecution> {
  const { name, request } = start;
  const started = await startNamedExecution(deps.clients.sfn, {
    stateMachineArn: start.stateMachineArn,
    name,
    input: request,
  });
  const target =
    request.family !== undefined ? `family ${request.family}` : `groups ${(request.groups ?? []).join(", ")}`;
  await deps.audit.write(
    {
      subject: imageSubject(request.imageId),
      action: "request-rollout",
      outcome: started.created ? "ok" : "skipped",
      actor: request.requestedBy,
      imageId: request.imageId,
      execution: name,
      reason: started.created
        ? (start.reason ?? `started by hand (${target})`)
        : `execution ${name} already exists${start.reason ? ` (${start.reason})` : ""}`,
      details: { ...request, ...start.details },
    },
    `request-rollout#${name}#${request.requestedBy}#${started.created ? "start" : start.retried ? "exists" : Date.now()}`,
  );
  return started;
}
