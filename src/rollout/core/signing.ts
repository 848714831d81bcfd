import { type ImageFacts, snapshotIds } from "./image.js";

/**
 * The bytes an image signature covers, so that whoever signs (a publishing pipeline, with KMS
 * Sign) and Phoenix (KMS Verify) agree. UTF-8 of four lines joined by "\n", no trailing newline:
 *
 *     phoenix-image-signature/v1
 *     image:<ImageId>
 *     family:<family>
 *     snapshots:<snapshot ids, sorted by code unit, de-duplicated, comma-separated>
 *
 * e.g. for ami-0abc with family web and snapshots snap-2, snap-1:
 * "phoenix-image-signature/v1\nimage:ami-0abc\nfamily:web\nsnapshots:snap-1,snap-2".
 * Binding the snapshots means a re-registered AMI over other volumes does not inherit the
 * signature; binding the family means an image signed for `web` cannot be retagged `api`.
 * The first line versions the format. No field can hold a newline or comma (EC2 ids are
 * alphanumeric and tag values do not allow control characters), so the text is unambiguous.
 * The signature itself is stored base64-encoded in the policy's signature tag.
 */
export const SIGNING_FORMAT = "phoenix-image-signature/v1";

export function signingPayloadText(
  image: Pick<ImageFacts, "ImageId" | "BlockDeviceMappings">,
  family: string,
): string {
  return [
    SIGNING_FORMAT,
    `image:${image.ImageId}`,
    `family:${family}`,
    `snapshots:${snapshotIds(image).join(",")}`,
  ].join("\n");
}

export function signingPayload(
  image: Pick<ImageFacts, "ImageId" | "BlockDeviceMappings">,
  family: string,
): Uint8Array {
  return new TextEncoder().encode(signingPayloadText(image, family));
}
