/**
 * The facts about an AMI that the gate and the signature need. Field names follow EC2
 * DescribeImages, so the SDK's `Image` fits once its ImageId is known to be present.
 */
export interface ImageFacts {
  ImageId: string;
  OwnerId?: string | undefined;
  State?: string | undefined;
  /** ISO 8601, as DescribeImages returns it; used to pick the newest image of a family. */
  CreationDate?: string | undefined;
  /** ISO 8601; from this instant on, the image counts as deprecated. */
  DeprecationTime?: string | undefined;
  Tags?: readonly { Key?: string | undefined; Value?: string | undefined }[] | undefined;
  BlockDeviceMappings?: readonly { Ebs?: { SnapshotId?: string | undefined } | undefined }[] | undefined;
}

/** The value of a tag, or undefined when the tag is absent. */
export function imageTag(image: Pick<ImageFacts, "Tags">, key: string): string | undefined {
  return image.Tags?.find((tag) => tag.Key === key)?.Value;
}

/** The EBS snapshots behind the image, sorted and without duplicates (instance-store entries have none). */
export function snapshotIds(image: Pick<ImageFacts, "BlockDeviceMappings">): string[] {
  const ids = new Set<string>();
  for (const mapping of image.BlockDeviceMappings ?? []) {
    const id = mapping.Ebs?.SnapshotId;
    if (id !== undefined && id !== "") ids.add(id);
  }
  // Code-unit order, not localeCompare: signer and verifier must agree whatever their locale.
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
