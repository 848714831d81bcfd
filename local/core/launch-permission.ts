import { DescribeImagesCommand, type EC2Client } from "@aws-sdk/client-ec2";

/**
 * Whether an account may launch an image, as EC2 decides it: the image is its own or public
 * (its DescribeImages by id shows it), or another local account shares it with it (launch
 * permission). moto checks neither, so the local runtime asks here: RunInstances through the
 * gateway (moto-fixes/shared-images.ts) and the launches of an instance refresh
 * (autoscaling/refresh-batches.ts). `ec2In` gives a client acting in an account's moto state, in
 * the region of the launch (an AMI is regional).
 */
export async function mayLaunch(
  accounts: readonly string[],
  ec2In: (account: string) => EC2Client,
  caller: string,
  imageId: string,
): Promise<boolean> {
  const own = await ec2In(caller)
    .send(new DescribeImagesCommand({ ImageIds: [imageId] }))
    .then((answer) => (answer.Images ?? []).length > 0)
    .catch(() => false);
  if (own) return true;
  const owners = accounts.filter((account) => account !== caller);
  // The owner's own images executable by the caller (moto applies ExecutableUsers only to a
  // listing, not to images asked for by id).
  const shared = await Promise.all(
    owners.map((owner) =>
      ec2In(owner)
        .send(new DescribeImagesCommand({ ExecutableUsers: [caller], Owners: ["self"] }))
        .then((answer) => (answer.Images ?? []).some((image) => image.ImageId === imageId && !image.Public))
        .catch(() => false),
    ),
  );
  return shared.some(Boolean);
}

/** EC2's words for a launch of an image the account may not launch. */
export const unlaunchableImage = (imageId: string) => `The image id '[${imageId}]' does not exist`;
