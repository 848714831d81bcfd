import type { PhoenixDeps } from "../../deps.js";
import { fleetDeps, isElsewhere } from "../../member-access.js";
import { imageSubject, markImage } from "../../rollout/aws/image-marks.js";
import { describeImage } from "../../rollout/aws/images.js";
import { type RollbackOutcome, rollBackFamily } from "../../rollout/workflow/rollback.js";
import { IMAGE_STATUS_COMPROMISED, TAG_IMAGE_FAMILY } from "../../tags.js";
import { findInstance, tagsOf } from "../aws/instance.js";
import { once } from "../aws/once.js";
import { ACTOR, type ContainState, type TraceImageResult } from "../core/types.js";

export const CONTAINED_FROM_ACTION = "contained-from";
const POISONED_ACTOR = "phoenix:poisoned-image";

/**
 * A poisoned image: every containment records, under its instance's AMI, that an instance of it
 * was contained. When the AMI has `containment.poisonedImage.minInstances` distinct instances
 * contained within `windowHours`, the compromise is in the image, not in one server: the AMI is
 * marked compromised (the gate refuses it from then on), people are told, and the family it is
 * the current image of rolls back to its last good image (src/rollout/workflow/rollback.ts).
 *
 * Runs after the instance is detached, so nothing here delays the containment's own actions; a
 * failure is caught by the workflow (the containment goes on, the error kept at `traceError`) and
 * audited and told by the report at the end (./trace-failure.ts).
 */
export async function traceImage(deps: PhoenixDeps, state: ContainState): Promise<TraceImageResult> {
  const { containment } = state;
  const policy = deps.policy.containment.poisonedImage;
  // The instance is read where it runs; the image where Phoenix marks and rolls back images: its
  // own account, which is the tooling account that shares images with the members.
  const where = { accountId: containment.accountId, region: containment.region ?? deps.region };
  const instance = await findInstance(fleetDeps(deps, where), containment.instanceId);
  const imageId = instance?.ImageId;
  if (!imageId)
    return { traced: false, reason: "the instance's image is not known (EC2 no longer describes it)" };
  const image = await describeImage(deps.clients.ec2, imageId);
  if (!image && isElsewhere(deps, where)) {
    return {
      traced: false,
      reason: `image ${imageId} of the instance is not visible in Phoenix's own account and region (a member's own image, not one shared from here): it is not traced`,
    };
  }
  const family =
    tagsOf(image?.Tags)[TAG_IMAGE_FAMILY]?.trim() || tagsOf(instance?.Tags)[TAG_IMAGE_FAMILY]?.trim();

  await deps.audit.write(
    {
      subject: imageSubject(imageId),
      action: CONTAINED_FROM_ACTION,
      outcome: "ok",
      actor: ACTOR,
      execution: containment.containmentId,
      findingId: containment.findingId,
      imageId,
      reason: `instance ${containment.instanceId}, launched from this image, was contained (${containment.findingType})`,
      details: {
        instanceId: containment.instanceId,
        findingId: containment.findingId,
        family: family ?? null,
      },
    },
    `${CONTAINED_FROM_ACTION}#${containment.containmentId}`,
  );

  const since = deps.now().getTime() - policy.windowHours * 3600_000;
  const history = await deps.audit.history(imageSubject(imageId));
  const recent = history.filter((r) => r.action === CONTAINED_FROM_ACTION && Date.parse(r.at) >= since);
  const instances = [...new Set(recent.map((r) => String(r.details?.instanceId)))].sort();
  const findings = [...new Set(recent.flatMap((r) => (r.findingId ? [r.findingId] : [])))].sort();
  const base = { traced: true as const, imageId, ...(family ? { family } : {}), instances: instances.length };
  if (instances.length < policy.minInstances) {
    return {
      ...base,
      compromised: false,
      reason: `${instances.length} of ${policy.minInstances} instances of ${imageId} contained within ${policy.windowHours} h`,
    };
  }

  const reason = `${instances.length} instances launched from it were contained within ${policy.windowHours} h (findings ${findings.join(", ")})`;
  // One mark per image, whichever containment gets here first (and a retry adds none).
  await markImage(deps, {
    imageId,
    ...(family ? { family } : {}),
    status: IMAGE_STATUS_COMPROMISED,
    reason,
    execution: `poisoned-${imageId}`,
    actor: POISONED_ACTOR,
    details: { instances, findings },
  });
  let rollback: RollbackOutcome | { kind: "failed"; reason: string } | undefined;
  if (family && policy.rollBack) {
    try {
      rollback = await rollBackFamily(deps, { family, from: imageId, reason, actor: POISONED_ACTOR });
    } catch (error) {
      // The mark stands (the gate refuses the image from now on); what failed is only the start of
      // the rollback. Said, audited and returned rather than thrown: a retried step would tell
      // people once (below) and could not take back a "failed" it had told.
      const why = `${(error as Error).name}: ${(error as Error).message}`;
      rollback = {
        kind: "failed",
        reason: `the rollback of family ${family} could not be started (${why}): its groups stay on ${imageId}; roll them back by hand (\`phoenix rollout <last good image> --family ${family}\`)`,
      };
      await deps.audit.write(
        {
          subject: imageSubject(imageId),
          action: "rollback",
          outcome: "failed",
          actor: POISONED_ACTOR,
          execution: containment.containmentId,
          imageId,
          reason: rollback.reason,
          details: { family, error: why },
        },
        `rollback#${imageId}#${containment.containmentId}`,
      );
    }
  }
  // Told once per image, whichever containment gets here first; a retry of a step that failed
  // after marking (the rollback, say) still tells, which a check of the mark would not.
  await once(deps, `poisoned-notified#${imageId}`, async () => {
    await deps.notifier.notify({
      kind: "image-refused",
      severity: "critical",
      subject: `Image ${imageId} marked compromised`,
      message: [
        `Phoenix marked ${imageId}${family ? ` (family ${family})` : ""} phoenix:image-status=${IMAGE_STATUS_COMPROMISED}: ${reason}. No rollout will use it again.`,
        rollback
          ? `Family ${family}: ${rollback.reason}.`
          : family
            ? "containment.poisonedImage.rollBack is false: the family is not rolled back."
            : "The image carries no phoenix:image-family tag: no family is rolled back.",
      ].join("\n"),
      data: { imageId, family: family ?? null, instances, findings, rollback: rollback ?? null },
    });
  });
  return { ...base, compromised: true, reason, ...(rollback ? { rollback: rollback.kind } : {}) };
}
