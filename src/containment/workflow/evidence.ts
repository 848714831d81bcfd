import { CreateSnapshotCommand, DescribeSnapshotsCommand } from "@aws-sdk/client-ec2";
import { ListCommandsCommand, SendCommandCommand } from "@aws-sdk/client-ssm";
import type { PhoenixDeps } from "../../deps.js";
import { declareTagWrite } from "../../iam/tag-writes.js";
import { TAG_CONTAINMENT } from "../../tags.js";
import { describeLiveInstance, ebsVolumes } from "../aws/instance.js";
import { ACTOR, type ContainState, type EvidenceResult, instanceSubject } from "../core/types.js";

export const CONTAINMENT_TAG = TAG_CONTAINMENT;
export const FINDING_TAG = "phoenix:finding";
export const INSTANCE_TAG = "phoenix:instance";

/** The tags of an evidence snapshot, given as it is created (IAM grants exactly these: build/iam). */
export const EVIDENCE_TAG_WRITE = declareTagWrite({
  resource: "snapshot",
  keys: [FINDING_TAG, CONTAINMENT_TAG, INSTANCE_TAG],
  atCreation: "CreateSnapshot",
});

/**
 * Step 6 (start): the optional memory-capture hook, then a snapshot of every volume, tagged with
 * the finding and the containment. Snapshots already taken for this containment (found by tag)
 * are not taken again. Waiting for completion is the workflow's poll loop (evidence-status).
 */
export async function collectEvidence(deps: PhoenixDeps, state: ContainState): Promise<EvidenceResult> {
  const input = state.containment;
  const instance = await describeLiveInstance(deps, input.instanceId);
  const volumeIds = ebsVolumes(instance).map((v) => v.volumeId);
  // Memory first: it is the most volatile evidence, and the SSM document may write it to disk.
  const memoryCaptureCommandId = await captureMemory(deps, state);

  const { Snapshots = [] } = await deps.clients.ec2.send(
    new DescribeSnapshotsCommand({
      OwnerIds: ["self"],
      Filters: [{ Name: `tag:${CONTAINMENT_TAG}`, Values: [input.containmentId] }],
    }),
  );
  const existing = new Map(Snapshots.map((s) => [s.VolumeId!, s.SnapshotId!]));
  const created = await Promise.all(
    volumeIds
      .filter((volumeId) => !existing.has(volumeId))
      .map(async (volumeId) => {
        const snapshot = await deps.clients.ec2.send(
          new CreateSnapshotCommand({
            VolumeId: volumeId,
            Description: `Phoenix evidence: ${input.instanceId}, finding ${input.findingId}`.slice(0, 255),
            TagSpecifications: [
              EVIDENCE_TAG_WRITE.specification({
                [FINDING_TAG]: input.findingId,
                [CONTAINMENT_TAG]: input.containmentId,
                [INSTANCE_TAG]: input.instanceId,
              }),
            ],
          }),
        );
        return [volumeId, snapshot.SnapshotId!] as const;
      }),
  );
  for (const [volumeId, snapshotId] of created) existing.set(volumeId, snapshotId);

  const startedAt = deps.now().toISOString();
  const result: EvidenceResult = {
    snapshotIds: volumeIds.map((volumeId) => existing.get(volumeId)!),
    volumeIds,
    ...(memoryCaptureCommandId ? { memoryCaptureCommandId } : {}),
    startedAt,
  };
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "snapshot",
      outcome: "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      details: {
        snapshots: Object.fromEntries(existing),
        created: created.map(([, snapshotId]) => snapshotId),
        memoryCaptureCommandId: memoryCaptureCommandId ?? null,
        // The full instance description was recorded before isolation (record-original).
        instanceDescription: `${input.containmentId}#original`,
      },
    },
    `${input.containmentId}#snapshot`,
  );
  return result;
}

/**
 * Sends the policy's memory-capture document once per containment (the command carries the
 * containment id as its comment, which is how a retry finds it). A failure to send is audited and
 * does not stop the containment: snapshots matter more than a hook that may not be installed.
 * Note that an isolated instance reaches SSM only through VPC endpoints its quarantine allows.
 */
async function captureMemory(deps: PhoenixDeps, state: ContainState): Promise<string | undefined> {
  const document = deps.policy.containment.memoryCaptureDocument;
  if (!document) return undefined;
  const input = state.containment;
  try {
    const { Commands = [] } = await deps.clients.ssm.send(
      new ListCommandsCommand({ InstanceId: input.instanceId }),
    );
    const earlier = Commands.find((c) => c.Comment === input.containmentId && c.DocumentName === document);
    if (earlier?.CommandId) return earlier.CommandId;
    const { Command } = await deps.clients.ssm.send(
      new SendCommandCommand({
        DocumentName: document,
        InstanceIds: [input.instanceId],
        Comment: input.containmentId,
      }),
    );
    await deps.audit.write(
      {
        subject: instanceSubject(input.instanceId),
        action: "memory-capture",
        outcome: "ok",
        actor: ACTOR,
        execution: input.containmentId,
        findingId: input.findingId,
        details: { document, commandId: Command?.CommandId ?? null },
      },
      `${input.containmentId}#memory-capture`,
    );
    return Command?.CommandId;
  } catch (error) {
    await deps.audit.write(
      {
        subject: instanceSubject(input.instanceId),
        action: "memory-capture",
        outcome: "failed",
        actor: ACTOR,
        execution: input.containmentId,
        findingId: input.findingId,
        reason: (error as Error).message,
        details: { document },
      },
      `${input.containmentId}#memory-capture`,
    );
    return undefined;
  }
}
