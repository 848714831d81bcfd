import type { PhoenixDeps } from "../../deps.js";
import type { Finding } from "../../findings/guardduty.js";
import * as z from "../../validation/zod.js";
import { type ContainmentItem, getContainment } from "../aws/records.js";
import { ACTOR, type AdmitResult, type ContainState, instanceSubject } from "../core/types.js";
import { type IntakeOutcome, takeFinding } from "./intake.js";

/**
 * Step 0, before anything can act on the instance: is this execution one that the intake (a
 * finding, `phoenix contain`) or an approval admitted? StartExecution is a documented entry point,
 * and an execution started by hand carries whatever input its caller wrote: a group name, an
 * `approvedBy`, a finding that never existed. None of it is trusted.
 *
 * Admitted means: the instance's containment record names this very execution and is starting or
 * running. The workflow then goes on with the input stored in that record (the group the intake
 * found, the approver the approval path wrote), not with the one it was started with.
 *
 * Anything else goes through the same intake as a finding: routing, protection (instance and
 * group tags), dedupe and the budget, the same record and audit trail. The intake then starts the
 * containment under the record's own name (this execution ends, pointing at it), holds it, joins
 * the open one, or refuses; only if that record names this execution does it go on.
 */

export const DIRECT_START_TYPE = "Phoenix:Manual/StartExecution";

const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

const directInputSchema = z.object({
  instanceId: z
    .string()
    .check(z.regex(INSTANCE_ID, "must be an EC2 instance id (i- and 8 or 17 hex digits)")),
  accountId: z.string().check(z.regex(/^\d{12}$/, "must be a 12-digit AWS account id")),
  /** The instance's region; absent: Phoenix's own. Routing refuses one the policy does not list. */
  region: z.optional(z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, "must be an AWS region name"))),
  findingId: z.optional(z.string().check(z.minLength(1), z.maxLength(300))),
  findingType: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  severity: z.optional(z.number().check(z.minimum(0), z.maximum(10))),
});

/** The execution's state as the Admit task sends it: the input plus `$$.Execution.Name`. */
export type AdmitState = ContainState & { execution?: string };

const admits = (record: ContainmentItem | undefined, execution: string): boolean =>
  record !== undefined &&
  record.executionName === execution &&
  (record.status === "starting" || record.status === "running");

export async function admit(deps: PhoenixDeps, state: AdmitState): Promise<AdmitResult> {
  const execution = state.execution;
  if (typeof execution !== "string" || execution === "") {
    return refuse(deps, state, "refused", "the Admit task got no execution name ($$.Execution.Name)");
  }
  const parsed = directInputSchema.safeParse(state.containment);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `containment.${i.path.join(".")}: ${i.message}`);
    return refuse(deps, state, "refused", `invalid execution input: ${problems.join("; ")}`);
  }
  const input = parsed.data;
  const record = await getContainment(deps, input.accountId, input.instanceId);
  if (record && admits(record, execution))
    return admitted(record, "the containment record names this execution");

  // Not the intake's nor an approval's: the intake decides, exactly as for a finding.
  const now = deps.now();
  const finding: Finding = {
    eventId: `execution-${execution}`,
    findingId: input.findingId ?? `execution-${execution}`.slice(0, 300),
    type: input.findingType ?? DIRECT_START_TYPE,
    severity: input.severity ?? 10,
    title: `Containment asked for by a direct StartExecution (${execution})`,
    accountId: input.accountId,
    region: input.region ?? deps.region,
    resourceType: "Instance",
    instanceId: input.instanceId,
    count: 1,
    updatedAt: now.toISOString(),
    sample: false,
    archived: false,
  };
  const outcome = await takeFinding(deps, finding, {
    id: `execution:${execution}`,
    receivedAt: now.toISOString(),
  });
  const after = await getContainment(deps, input.accountId, input.instanceId);
  if (after && admits(after, execution))
    return admitted(after, "the intake opened the containment under this execution's name");
  const result = notAdmitted(outcome);
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "admit-execution",
      outcome: result.outcome === "delegated" ? "skipped" : result.outcome === "held" ? "held" : "refused",
      actor: ACTOR,
      execution,
      reason: result.reason,
      details: {
        intake: outcome.kind,
        ...(result.execution !== undefined ? { containment: result.execution } : {}),
        ...(record?.executionName !== undefined ? { recordExecution: record.executionName } : {}),
        ignoredInput: ignoredFields(state.containment),
      },
    },
    `admit#${execution}`,
  );
  return result;
}

function admitted(record: ContainmentItem, why: string): AdmitResult {
  return {
    proceed: true,
    outcome: "admitted",
    reason: `admitted: ${why} (${record.status})`,
    execution: record.executionName,
    containment: record.executionInput,
  };
}

function notAdmitted(outcome: IntakeOutcome): AdmitResult {
  switch (outcome.kind) {
    case "started":
      return {
        proceed: false,
        outcome: "delegated",
        execution: outcome.executionName,
        reason: `not admitted as such: the intake started containment ${outcome.executionName}, which does the work`,
      };
    case "joined":
      return outcome.status === "held"
        ? {
            proceed: false,
            outcome: "held",
            execution: outcome.executionName,
            reason: `the instance's containment ${outcome.executionName} is held for approval: approve its hold (phoenix approve)`,
          }
        : {
            proceed: false,
            outcome: "delegated",
            execution: outcome.executionName,
            reason: `the instance already has containment ${outcome.executionName} (${outcome.status})`,
          };
    case "held":
      return {
        proceed: false,
        outcome: "held",
        reason: `held for approval, nothing done: ${outcome.reason} Approve with: phoenix approve ${outcome.holdId}`,
      };
    default:
      return { proceed: false, outcome: "refused", reason: `not contained: ${outcome.reason}` };
  }
}

/** Fields of the input Phoenix does not take from a direct start (it finds them itself). */
function ignoredFields(input: unknown): string[] {
  if (typeof input !== "object" || input === null) return [];
  return ["groupName", "approvedBy", "containmentId", "generation"].filter((key) => key in input);
}

async function refuse(
  deps: PhoenixDeps,
  state: AdmitState,
  outcome: "refused",
  reason: string,
): Promise<AdmitResult> {
  const instanceId = (state.containment as { instanceId?: unknown } | undefined)?.instanceId;
  await deps.audit.write(
    {
      subject:
        typeof instanceId === "string" && INSTANCE_ID.test(instanceId)
          ? instanceSubject(instanceId)
          : "execution/invalid",
      action: "admit-execution",
      outcome: "refused",
      actor: ACTOR,
      ...(typeof state.execution === "string" ? { execution: state.execution } : {}),
      reason,
    },
    `admit#${state.execution ?? "unnamed"}`,
  );
  return { proceed: false, outcome, reason };
}
