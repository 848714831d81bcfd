import { DescribeImagesCommand, type EC2Client, type Image } from "@aws-sdk/client-ec2";
import { awsErrorCode } from "../../aws/errors.js";
import type { ImageFacts } from "../core/image.js";

/** EC2 answers these for an id that names no image it can show: the image is simply not there. */
const NOT_FOUND = new Set(["InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidAMIID.Unavailable"]);

/**
 * The image as the gate sees it, or undefined when EC2 does not know it (deregistered, another
 * region, a malformed id). The AMI State Change event carries no tags: this is where they come from.
 */
export async function describeImage(ec2: EC2Client, imageId: string): Promise<ImageFacts | undefined> {
  try {
    const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    const image = Images?.find((candidate) => candidate.ImageId === imageId);
    return image === undefined ? undefined : toFacts(image, imageId);
  } catch (error) {
    if (NOT_FOUND.has(awsErrorCode(error) ?? "")) return undefined;
    throw error;
  }
}

function toFacts(image: Image, imageId: string): ImageFacts {
  return {
    ImageId: imageId,
    OwnerId: image.OwnerId,
    State: image.State,
    CreationDate: image.CreationDate,
    DeprecationTime: image.DeprecationTime,
    Tags: image.Tags,
    BlockDeviceMappings: image.BlockDeviceMappings,
  };
}
