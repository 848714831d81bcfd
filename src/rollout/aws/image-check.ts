import type { PhoenixDeps } from "../../deps.js";
import { type GateResult, gateImage } from "../core/gate.js";
import type { ImageFacts } from "../core/image.js";
import { imageMarks } from "./image-marks.js";
import { describeImage } from "./images.js";
import { verifyImageSignature } from "./signature.js";

export type ImageCheck =
  | { found: false; imageId: string; reason: string }
  | { found: true; image: ImageFacts; gate: GateResult };

/**
 * Everything the gate needs, gathered: the image (DescribeImages), the signature verdict (KMS
 * Verify, only when the image carries a signature and a key is configured) and the marks in the
 * audit trail. The decision itself stays in the pure gateImage.
 */
export async function checkImage(
  deps: Pick<PhoenixDeps, "clients" | "policy" | "audit" | "accountId" | "now">,
  imageId: string,
  options: { expectedFamily?: string } = {},
): Promise<ImageCheck> {
  const image = await describeImage(deps.clients.ec2, imageId);
  if (image === undefined) {
    return { found: false, imageId, reason: `image ${imageId} not found in this region (DescribeImages)` };
  }
  const gatePolicy = deps.policy.rollout.imageGate;
  const [signatureValid, marks] = await Promise.all([
    verifyImageSignature(deps.clients.kms, image, gatePolicy),
    imageMarks(deps, imageId),
  ]);
  const gate = gateImage(image, gatePolicy, {
    accountId: deps.accountId,
    now: deps.now(),
    marks,
    ...(signatureValid !== undefined ? { signatureValid } : {}),
    ...(options.expectedFamily !== undefined ? { expectedFamily: options.expectedFamily } : {}),
  });
  return { found: true, image, gate };
}
