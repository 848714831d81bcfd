import { DescribeSnapshotsCommand } from "@aws-sdk/client-ec2";
import type { PhoenixDeps } from "../../deps.js";
import { ContainmentStepError } from "../core/errors.js";
import { ACTOR, type ContainState, type EvidenceStatusResult, instanceSubject } from "../core/types.js";

/** Large volumes take hours to snapshot; a day without completion means something is wrong. */
export const EVIDENCE_TIMEOUT_MS = 24 * 3600_000;

/** Step 6 (wait): one poll of the snapshots; the workflow waits and polls again until complete. */
export async function checkEvidence(deps: PhoenixDeps, state: ContainState): Promise<EvidenceStatusResult> {
  const evidence = state.results.evidence;
  if (!evidence)
    throw new ContainmentStepError("Phoenix.Refused", "No snapshots were started: nothing to wait for.");
  const checkedAt = deps.now().toISOString();
  if (evidence.snapshotIds.length === 0) return finish(deps, state, checkedAt, 0);

  const { Snapshots = [] } = await deps.clients.ec2.send(
    new DescribeSnapshotsCommand({ SnapshotIds: evidence.snapshotIds }),
  );
  const failed = Snapshots.filter((s) => s.State === "error");
  if (failed.length > 0 || Snapshots.length < evidence.snapshotIds.length) {
    const missing = evidence.snapshotIds.filter((id) => !Snapshots.some((s) => s.SnapshotId === id));
    throw new ContainmentStepError(
      "Phoenix.EvidenceFailed",
      `Snapshots failed (${failed.map((s) => `${s.SnapshotId}: ${s.StateMessage ?? "error"}`).join(", ") || "none"}) or vanished (${missing.join(", ") || "none"}).`,
    );
  }
  const pending = Snapshots.filter((s) => s.State !== "completed").length;
  if (pending === 0) return finish(deps, state, checkedAt, Snapshots.length);
  if (Date.parse(checkedAt) - Date.parse(evidence.startedAt) > EVIDENCE_TIMEOUT_MS) {
    throw new ContainmentStepError(
      "Phoenix.Timeout",
      `${pending} snapshot(s) still not completed after 24 hours.`,
    );
  }
  return { complete: false, pending, checkedAt };
}

async function finish(
  deps: PhoenixDeps,
  state: ContainState,
  checkedAt: string,
  count: number,
): Promise<EvidenceStatusResult> {
  const input = state.containment;
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "evidence-complete",
      outcome: "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      details: { snapshotIds: state.results.evidence?.snapshotIds ?? [], count, completedAt: checkedAt },
    },
    `${input.containmentId}#evidence-complete`,
  );
  return { complete: true, pending: 0, checkedAt, completedAt: checkedAt };
}
