/**
 * The KMS key that signs golden images, when the policy names one: looked up at deploy, so a
 * wrong key id fails the deploy rather than the first rollout's image gate. Phoenix never
 * creates or manages the key (it belongs to the image pipeline).
 */
import type { Policy } from "../src/policy/index";

export function signingKeyArn(policy: Policy): $util.Output<string> | undefined {
  const keyId = policy.rollout.imageGate.signingKeyId;
  if (keyId === undefined) return undefined;
  return aws.kms.getKeyOutput({ keyId }).arn;
}
