import {
  DescribeKeyCommand,
  type KMSClient,
  type SigningAlgorithmSpec,
  VerifyCommand,
} from "@aws-sdk/client-kms";
import { awsErrorCode, isTransientAwsError } from "../../aws/errors.js";
import type { ImageGatePolicy } from "../../policy/index.js";
import { signatureToVerify } from "../core/gate.js";
import type { ImageFacts } from "../core/image.js";

/**
 * KMS Verify over the image's signing payload. Returns true or false when KMS gave a verdict,
 * undefined when there was nothing to verify (no signature tag, no key configured) or the key
 * cannot be used (missing, disabled): the gate then refuses an image whose signature is required.
 * Throttling and 5xx are thrown, so the step is retried rather than an image refused by accident.
 */
export async function verifyImageSignature(
  kms: KMSClient,
  image: ImageFacts,
  gate: ImageGatePolicy,
): Promise<boolean | undefined> {
  const target = signatureToVerify(image, gate);
  if (target === undefined || target.keyId === undefined) return undefined;
  try {
    // The policy names only the key; the signer may have used any algorithm the key offers.
    const algorithms = await signingAlgorithms(kms, target.keyId);
    for (const algorithm of algorithms) {
      if (await verifiesWith(kms, target.keyId, algorithm, target.message, target.signature)) return true;
    }
    return false;
  } catch (error) {
    if (isTransientAwsError(error)) throw error;
    return undefined;
  }
}

async function signingAlgorithms(kms: KMSClient, keyId: string): Promise<SigningAlgorithmSpec[]> {
  const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
  if (KeyMetadata?.KeyUsage !== "SIGN_VERIFY") {
    throw new Error(`KMS key ${keyId} is not a signing key (KeyUsage ${KeyMetadata?.KeyUsage})`);
  }
  return KeyMetadata.SigningAlgorithms ?? [];
}

async function verifiesWith(
  kms: KMSClient,
  keyId: string,
  algorithm: SigningAlgorithmSpec,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  try {
    const result = await kms.send(
      new VerifyCommand({
        KeyId: keyId,
        Message: message,
        MessageType: "RAW",
        Signature: signature,
        SigningAlgorithm: algorithm,
      }),
    );
    return result.SignatureValid === true;
  } catch (error) {
    // AWS answers a wrong signature with this exception rather than SignatureValid: false, and
    // bytes that are no signature at all for this algorithm with a ValidationException.
    const code = awsErrorCode(error);
    if (code === "KMSInvalidSignatureException" || code === "ValidationException") return false;
    throw error;
  }
}
