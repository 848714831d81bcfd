import { CreateTagsCommand } from "@aws-sdk/client-ec2";
import type { PhoenixDeps } from "../../deps.js";
import { declareTagWrite } from "../../iam/tag-writes.js";
import {
  type IMAGE_STATUS_COMPROMISED,
  IMAGE_STATUS_REJECTED,
  TAG_IMAGE_STATUS,
  TAG_IMAGE_STATUS_REASON,
} from "../../tags.js";
import type { ImageMark } from "../core/gate.js";

export const ROLLOUT_ACTOR = "phoenix:rollout";
export const MARK_IMAGE_ACTION = "mark-image";

export const imageSubject = (imageId: string) => `image/${imageId}`;
export const groupSubject = (group: string) => `group/${group}`;

/** The image-status pair, on images (IAM grants CreateTags for these keys alone: build/iam). */
export const IMAGE_STATUS_TAG_WRITE = declareTagWrite({
  resource: "image",
  keys: [TAG_IMAGE_STATUS, TAG_IMAGE_STATUS_REASON],
});

/** EC2 tag values are at most 256 characters. */
const TAG_VALUE_LIMIT = 256;

/**
 * Marks an image rejected so no rollout picks it again. The audit record is written first: it is
 * also a mark the gate reads (see imageMarks), so the image stays blocked even if tagging fails
 * or someone removes the tag. Idempotent per execution: a retried step leaves one record.
 */
export async function markImageRejected(
  deps: Pick<PhoenixDeps, "audit" | "clients">,
  mark: { imageId: string; family: string; reason: string; execution: string },
): Promise<void> {
  await markImage(deps, { ...mark, status: IMAGE_STATUS_REJECTED, actor: ROLLOUT_ACTOR });
}

/**
 * Marks an image with a blocking status (rejected, compromised): the audit record first (a mark
 * the gate reads even if the tag is removed), then the tag. One record per status and execution.
 */
export async function markImage(
  deps: Pick<PhoenixDeps, "audit" | "clients">,
  mark: {
    imageId: string;
    family?: string;
    reason: string;
    execution: string;
    status: typeof IMAGE_STATUS_REJECTED | typeof IMAGE_STATUS_COMPROMISED;
    actor: string;
    details?: Record<string, unknown>;
  },
): Promise<void> {
  await deps.audit.write(
    {
      subject: imageSubject(mark.imageId),
      action: MARK_IMAGE_ACTION,
      outcome: "ok",
      actor: mark.actor,
      reason: mark.reason,
      execution: mark.execution,
      imageId: mark.imageId,
      details: { status: mark.status, ...(mark.family ? { family: mark.family } : {}), ...mark.details },
    },
    `${MARK_IMAGE_ACTION}#${mark.status}#${mark.execution}`,
  );
  await deps.clients.ec2.send(
    new CreateTagsCommand({
      Resources: [mark.imageId],
      Tags: IMAGE_STATUS_TAG_WRITE.tags({
        [TAG_IMAGE_STATUS]: mark.status,
        [TAG_IMAGE_STATUS_REASON]: mark.reason.slice(0, TAG_VALUE_LIMIT),
      }),
    }),
  );
}

/** The rejections and compromises Phoenix recorded for an image in the audit trail. */
export async function imageMarks(deps: Pick<PhoenixDeps, "audit">, imageId: string): Promise<ImageMark[]> {
  const history = await deps.audit.history(imageSubject(imageId));
  return history.flatMap((record): ImageMark[] => {
    if (record.action !== MARK_IMAGE_ACTION || record.outcome !== "ok") return [];
    const status = record.details?.status;
    if (status !== "rejected" && status !== "compromised") return [];
    const family = record.details?.family;
    const mark: ImageMark = { imageId, status };
    if (typeof family === "string") mark.family = family;
    if (record.reason !== undefined) mark.reason = record.reason;
    return [mark];
  });
}
