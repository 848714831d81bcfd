import type { ImageGatePolicy } from "../../policy/index.js";
import {
  BLOCKING_IMAGE_STATUSES,
  IMAGE_STATUS_COMPROMISED,
  TAG_IMAGE_FAMILY,
  TAG_IMAGE_STATUS,
  TAG_IMAGE_STATUS_REASON,
} from "../../tags.js";
import { type ImageFacts, imageTag } from "./image.js";
import { signingPayload } from "./signing.js";

/** A rejection Phoenix recorded outside the image's tags (the audit trail), e.g. when tagging failed. */
export interface ImageMark {
  imageId: string;
  status: "rejected" | "compromised";
  /** When set, the mark applies only to rollouts of this family. */
  family?: string;
  reason?: string;
}

export interface GateContext {
  /** The account Phoenix runs in: what "self" means in allowedOwners. */
  accountId: string;
  /** The instant deprecation is judged against (passed in so the gate stays pure). */
  now: Date;
  /** Result of KMS Verify over signingPayload, done by the caller; undefined when not verified. */
  signatureValid?: boolean;
  /** The family the trigger named (a family parameter, a manual request); the tag must agree. */
  expectedFamily?: string;
  marks?: readonly ImageMark[];
}

export type GateResult = { pass: true; family: string } | { pass: false; reasons: string[] };

/**
 * Decides whether an image may be rolled out. Every failing check adds its own reason, so a
 * refused image is reported with all that is wrong with it, not only the first thing.
 */
export function gateImage(image: ImageFacts, gate: ImageGatePolicy, ctx: GateContext): GateResult {
  const family = imageFamily(image);
  const reasons = [
    ...checkState(image),
    ...checkOwner(image, gate, ctx),
    ...checkFamily(family, ctx),
    ...checkRequiredTags(image, gate),
    ...checkDeprecation(image, ctx.now),
    ...checkMarks(image, family, ctx.marks ?? []),
    ...checkSignature(image, gate, ctx.signatureValid),
  ];
  // checkFamily already gave a reason when the family is missing; the second test is for the compiler.
  if (reasons.length > 0 || family === undefined) return { pass: false, reasons };
  return { pass: true, family };
}

/** The image's family tag, trimmed; undefined when absent or blank. */
export function imageFamily(image: Pick<ImageFacts, "Tags">): string | undefined {
  const value = imageTag(image, TAG_IMAGE_FAMILY)?.trim();
  return value === undefined || value === "" ? undefined : value;
}

/**
 * What the caller hands to KMS Verify, or undefined when there is nothing to verify (no
 * signature tag or no family). The signature tag holds base64; KMS wants raw bytes.
 */
export function signatureToVerify(
  image: ImageFacts,
  gate: ImageGatePolicy,
): { keyId: string | undefined; message: Uint8Array; signature: Uint8Array } | undefined {
  const encoded = imageTag(image, gate.signatureTag)?.trim();
  const family = imageFamily(image);
  if (encoded === undefined || encoded === "" || family === undefined) return undefined;
  return {
    keyId: gate.signingKeyId,
    message: signingPayload(image, family),
    signature: new Uint8Array(Buffer.from(encoded, "base64")),
  };
}

function checkState(image: ImageFacts): string[] {
  if (image.State === "available") return [];
  return [`image state is ${image.State ?? "unknown"}, not available`];
}

function checkOwner(image: ImageFacts, gate: ImageGatePolicy, ctx: GateContext): string[] {
  const allowed = gate.allowedOwners.map((owner) => (owner === "self" ? ctx.accountId : owner));
  if (image.OwnerId !== undefined && allowed.includes(image.OwnerId)) return [];
  return [`owner ${image.OwnerId ?? "unknown"} is not an allowed owner (${allowed.join(", ")})`];
}

function checkFamily(family: string | undefined, ctx: GateContext): string[] {
  if (family === undefined) return [`tag ${TAG_IMAGE_FAMILY} is missing`];
  if (ctx.expectedFamily !== undefined && ctx.expectedFamily !== family) {
    return [`image family is ${family}, but the trigger named family ${ctx.expectedFamily}`];
  }
  return [];
}

function checkRequiredTags(image: ImageFacts, gate: ImageGatePolicy): string[] {
  return Object.entries(gate.requiredTags).flatMap(([key, expected]) => {
    const actual = imageTag(image, key);
    if (actual === undefined)
      return [`required tag ${key} is missing (expected ${JSON.stringify(expected)})`];
    if (actual !== expected) {
      return [`required tag ${key} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`];
    }
    return [];
  });
}

function checkDeprecation(image: ImageFacts, now: Date): string[] {
  if (image.DeprecationTime === undefined || image.DeprecationTime === "") return [];
  const deprecatedAt = Date.parse(image.DeprecationTime);
  // An unreadable date cannot prove the image is current: refuse rather than guess.
  if (Number.isNaN(deprecatedAt))
    return [`DeprecationTime ${JSON.stringify(image.DeprecationTime)} is not a date`];
  if (deprecatedAt <= now.getTime()) return [`image is deprecated since ${image.DeprecationTime}`];
  return [];
}

function checkMarks(image: ImageFacts, family: string | undefined, marks: readonly ImageMark[]): string[] {
  const reasons: string[] = [];
  const status = imageTag(image, TAG_IMAGE_STATUS)?.trim().toLowerCase();
  if (status !== undefined && BLOCKING_IMAGE_STATUSES.includes(status)) {
    const why = imageTag(image, TAG_IMAGE_STATUS_REASON);
    reasons.push(`image is marked ${status} by Phoenix (${TAG_IMAGE_STATUS})${why ? `: ${why}` : ""}`);
  }
  for (const mark of marks) {
    if (mark.imageId !== image.ImageId) continue;
    // A rollback's mark says the image is bad for that family; a compromise is in the image
    // itself, whichever family asks for it (the family it names is only where it was found).
    const imageWide = mark.status === IMAGE_STATUS_COMPROMISED;
    if (!imageWide && mark.family !== undefined && mark.family !== family) continue;
    const scope = !imageWide && mark.family !== undefined ? ` for family ${mark.family}` : "";
    reasons.push(`image was ${mark.status}${scope} by Phoenix${mark.reason ? `: ${mark.reason}` : ""}`);
  }
  return reasons;
}

function checkSignature(
  image: ImageFacts,
  gate: ImageGatePolicy,
  signatureValid: boolean | undefined,
): string[] {
  const signature = imageTag(image, gate.signatureTag)?.trim();
  const hasSignature = signature !== undefined && signature !== "";
  if (gate.requireSignature && !hasSignature) return [`signature tag ${gate.signatureTag} is missing`];
  // A signature that was checked and failed is refused even when none is required: a bad
  // signature on an image is a sign of tampering, never something to shrug off.
  if (signatureValid === false) return [`signature in ${gate.signatureTag} does not verify`];
  if (gate.requireSignature && signatureValid === undefined) {
    return [`signature in ${gate.signatureTag} was not verified`];
  }
  return [];
}
