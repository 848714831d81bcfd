import { CreateTagsCommand, DeleteTagsCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  CreateKeyCommand,
  type KeySpec,
  KMSClient,
  SignCommand,
  type SigningAlgorithmSpec,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import { registerImage } from "../../local/core/seed.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { parsePolicy } from "../../src/policy/index.js";
import { checkImage } from "../../src/rollout/aws/image-check.js";
import { imageMarks, markImageRejected } from "../../src/rollout/aws/image-marks.js";
import { describeImage } from "../../src/rollout/aws/images.js";
import { signingPayload } from "../../src/rollout/core/signing.js";
import { clientConfig } from "../support/cloud.js";
import { startDeployedCloud } from "../support/phoenix.js";

let cloud: LocalCloud;
let deps: PhoenixDeps;
let ec2: EC2Client;
let kms: KMSClient;
beforeAll(async () => {
  ({ cloud, deps } = await startDeployedCloud());
  ec2 = new EC2Client(clientConfig(cloud));
  kms = new KMSClient(clientConfig(cloud));
});
afterAll(async () => {
  await cloud?.stop();
});

const withPolicy = (policy: unknown): PhoenixDeps => ({ ...deps, policy: parsePolicy(policy) });

async function signingKey(spec: KeySpec): Promise<string> {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: "SIGN_VERIFY" }));
  return KeyMetadata!.KeyId!;
}

/** Signs the image's payload for `family` as a publishing pipeline would, and tags the image. */
async function signImage(imageId: string, family: string, keyId: string, algorithm: SigningAlgorithmSpec) {
  const image = await describeImage(ec2, imageId);
  const { Signature } = await kms.send(
    new SignCommand({
      KeyId: keyId,
      Message: signingPayload(image!, family),
      MessageType: "RAW",
      SigningAlgorithm: algorithm,
    }),
  );
  await tag(imageId, "phoenix:signature", Buffer.from(Signature!).toString("base64"));
}

const tag = (imageId: string, Key: string, Value: string) =>
  ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key, Value }] }));

const refusal = async (d: PhoenixDeps, imageId: string, expectedFamily?: string) => {
  const check = await checkImage(d, imageId, expectedFamily ? { expectedFamily } : {});
  if (!check.found) throw new Error(check.reason);
  return check.gate.pass ? [] : check.gate.reasons;
};

describe("image gate over DescribeImages", () => {
  it("passes a good image of this account and names its family", async () => {
    const imageId = await registerImage(ec2, { family: "web", name: "gate-good" });
    const check = await checkImage(deps, imageId);
    expect(check.found && check.gate).toEqual({ pass: true, family: "web" });
  });

  it("refuses an owner outside allowedOwners", async () => {
    const imageId = await registerImage(ec2, { family: "web", name: "gate-owner" });
    const reasons = await refusal(
      withPolicy({ rollout: { imageGate: { allowedOwners: ["111111111111"] } } }),
      imageId,
    );
    expect(reasons).toEqual([
      expect.stringMatching(/owner 123456789012 is not an allowed owner \(111111111111\)/),
    ]);
  });

  it("refuses an image without the scan tag, or with a failed scan", async () => {
    const missing = await registerImage(ec2, { family: "web", name: "gate-noscan" });
    await ec2.send(new DeleteTagsCommand({ Resources: [missing], Tags: [{ Key: "phoenix:scan-status" }] }));
    expect(await refusal(deps, missing)).toEqual([
      expect.stringContaining("required tag phoenix:scan-status is missing"),
    ]);
    const failed = await registerImage(ec2, {
      family: "web",
      name: "gate-failedscan",
      tags: { "phoenix:scan-status": "failed" },
    });
    expect(await refusal(deps, failed)).toEqual([expect.stringContaining('is "failed", expected "passed"')]);
  });

  it("refuses a family other than the one the trigger named", async () => {
    const imageId = await registerImage(ec2, { family: "api", name: "gate-family" });
    expect(await refusal(deps, imageId, "web")).toEqual([expect.stringContaining("image family is api")]);
  });

  it("reports an unknown image as not found", async () => {
    const check = await checkImage(deps, "ami-0123456789abcdef0");
    expect(check).toMatchObject({ found: false, reason: expect.stringContaining("not found") });
  });

  it("refuses an image Phoenix marked rejected, by tag and by the audit record alone", async () => {
    const imageId = await registerImage(ec2, { family: "web", name: "gate-rejected" });
    await markImageRejected(deps, {
      imageId,
      family: "web",
      reason: "web-frontend rolled back",
      execution: "exec-1",
    });
    expect(await imageMarks(deps, imageId)).toEqual([
      { imageId, status: "rejected", family: "web", reason: "web-frontend rolled back" },
    ]);
    const reasons = await refusal(deps, imageId);
    expect(reasons.some((r) => r.includes("marked rejected by Phoenix"))).toBe(true);
    // Someone removes the tag: the audit trail still blocks the image.
    await ec2.send(new DeleteTagsCommand({ Resources: [imageId], Tags: [{ Key: "phoenix:image-status" }] }));
    expect(await refusal(deps, imageId)).toEqual([
      expect.stringContaining("was rejected for family web by Phoenix"),
    ]);
  });

  describe("signature (KMS asymmetric key, Verify)", () => {
    it.each([
      ["ECC_NIST_P256", "ECDSA_SHA_256"],
      ["RSA_2048", "RSASSA_PSS_SHA_256"],
    ] as const)("passes an image signed with a %s key", async (spec, algorithm) => {
      const keyId = await signingKey(spec);
      const imageId = await registerImage(ec2, { family: "web", name: `gate-signed-${spec}` });
      await signImage(imageId, "web", keyId, algorithm);
      const required = withPolicy({
        rollout: { imageGate: { requireSignature: true, signingKeyId: keyId } },
      });
      expect(await refusal(required, imageId)).toEqual([]);
    });

    it("refuses a missing signature when one is required", async () => {
      const keyId = await signingKey("ECC_NIST_P256");
      const imageId = await registerImage(ec2, { family: "web", name: "gate-unsigned" });
      const required = withPolicy({
        rollout: { imageGate: { requireSignature: true, signingKeyId: keyId } },
      });
      expect(await refusal(required, imageId)).toEqual(["signature tag phoenix:signature is missing"]);
    });

    it("refuses a signature over another family, by another key, or of garbage", async () => {
      const keyId = await signingKey("ECC_NIST_P256");
      const otherKey = await signingKey("ECC_NIST_P256");
      const required = withPolicy({
        rollout: { imageGate: { requireSignature: true, signingKeyId: keyId } },
      });
      const retagged = await registerImage(ec2, { family: "web", name: "gate-sig-family" });
      await signImage(retagged, "api", keyId, "ECDSA_SHA_256");
      expect(await refusal(required, retagged)).toEqual(["signature in phoenix:signature does not verify"]);
      const wrongKey = await registerImage(ec2, { family: "web", name: "gate-sig-key" });
      await signImage(wrongKey, "web", otherKey, "ECDSA_SHA_256");
      expect(await refusal(required, wrongKey)).toEqual(["signature in phoenix:signature does not verify"]);
      const garbage = await registerImage(ec2, { family: "web", name: "gate-sig-garbage" });
      await tag(garbage, "phoenix:signature", Buffer.from("not a signature").toString("base64"));
      expect(await refusal(required, garbage)).toEqual(["signature in phoenix:signature does not verify"]);
    });

    it("refuses a bad signature even when none is required", async () => {
      const keyId = await signingKey("ECC_NIST_P256");
      const imageId = await registerImage(ec2, { family: "web", name: "gate-sig-optional" });
      await signImage(imageId, "api", keyId, "ECDSA_SHA_256");
      const optional = withPolicy({ rollout: { imageGate: { signingKeyId: keyId } } });
      expect(await refusal(optional, imageId)).toEqual(["signature in phoenix:signature does not verify"]);
    });
  });
});
