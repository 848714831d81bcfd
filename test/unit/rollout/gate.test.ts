import type { Image } from "@aws-sdk/client-ec2";
import { describe, expect, it } from "vitest";
import { type ImageGatePolicy, parsePolicy } from "../../../src/policy/index.js";
import {
  type GateContext,
  gateImage,
  type ImageMark,
  signatureToVerify,
} from "../../../src/rollout/core/gate.js";
import type { ImageFacts } from "../../../src/rollout/core/image.js";
import { signingPayload, signingPayloadText } from "../../../src/rollout/core/signing.js";

const ACCOUNT = "123456789012";
const NOW = new Date("2025-06-01T12:00:00Z");
const gate = (overrides: Record<string, unknown> = {}): ImageGatePolicy =>
  parsePolicy({ rollout: { imageGate: overrides } }).rollout.imageGate;
const ctx = (overrides: Partial<GateContext> = {}): GateContext => ({
  accountId: ACCOUNT,
  now: NOW,
  ...overrides,
});

function goodImage(overrides: Partial<ImageFacts> = {}, extraTags: Record<string, string> = {}): ImageFacts {
  const tags = { "phoenix:image-family": "web", "phoenix:scan-status": "passed", ...extraTags };
  return {
    ImageId: "ami-0123456789abcdef0",
    OwnerId: ACCOUNT,
    State: "available",
    CreationDate: "2025-05-30T10:00:00.000Z",
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    BlockDeviceMappings: [{ Ebs: { SnapshotId: "snap-0bbb" } }, { Ebs: { SnapshotId: "snap-0aaa" } }],
    ...overrides,
  };
}

function withoutTag(image: ImageFacts, key: string): ImageFacts {
  return { ...image, Tags: image.Tags?.filter((tag) => tag.Key !== key) };
}

function reasons(image: ImageFacts, policy = gate(), context = ctx()): string[] {
  const result = gateImage(image, policy, context);
  return result.pass ? [] : result.reasons;
}

describe("gateImage", () => {
  it("passes a good image and names its family", () => {
    expect(gateImage(goodImage(), gate(), ctx())).toEqual({ pass: true, family: "web" });
  });

  it("accepts the SDK's Image once ImageId is known", () => {
    const fromSdk: Image = {
      ImageId: "ami-0123456789abcdef0",
      OwnerId: ACCOUNT,
      State: "available",
      Tags: [
        { Key: "phoenix:image-family", Value: "web" },
        { Key: "phoenix:scan-status", Value: "passed" },
      ],
      BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: "snap-0aaa" } }],
    };
    expect(gateImage({ ...fromSdk, ImageId: fromSdk.ImageId ?? "" }, gate(), ctx())).toEqual({
      pass: true,
      family: "web",
    });
  });

  it("refuses an image that is not available", () => {
    expect(reasons(goodImage({ State: "pending" }))).toEqual(["image state is pending, not available"]);
    expect(reasons(goodImage({ State: undefined }))).toEqual(["image state is unknown, not available"]);
  });

  it("refuses an owner that is not allowed; self means the account Phoenix runs in", () => {
    expect(reasons(goodImage({ OwnerId: "999999999999" }))).toEqual([
      `owner 999999999999 is not an allowed owner (${ACCOUNT})`,
    ]);
    expect(reasons(goodImage({ OwnerId: undefined }))).toHaveLength(1);
    expect(reasons(goodImage(), gate(), ctx({ accountId: "111111111111" }))).toHaveLength(1);
  });

  it("accepts an explicitly allowed account and refuses self when it is not listed", () => {
    const publisher = gate({ allowedOwners: ["999999999999"] });
    expect(reasons(goodImage({ OwnerId: "999999999999" }), publisher)).toEqual([]);
    expect(reasons(goodImage(), publisher)).toEqual([
      `owner ${ACCOUNT} is not an allowed owner (999999999999)`,
    ]);
  });

  it("refuses an image without a family tag, or with a blank one", () => {
    expect(reasons(withoutTag(goodImage(), "phoenix:image-family"))).toEqual([
      "tag phoenix:image-family is missing",
    ]);
    expect(reasons(goodImage({}, { "phoenix:image-family": "  " }))).toEqual([
      "tag phoenix:image-family is missing",
    ]);
  });

  it("refuses an image whose family differs from the one the trigger named", () => {
    expect(reasons(goodImage(), gate(), ctx({ expectedFamily: "api" }))).toEqual([
      "image family is web, but the trigger named family api",
    ]);
    expect(reasons(goodImage(), gate(), ctx({ expectedFamily: "web" }))).toEqual([]);
  });

  it("refuses a missing or different required tag", () => {
    expect(reasons(withoutTag(goodImage(), "phoenix:scan-status"))).toEqual([
      'required tag phoenix:scan-status is missing (expected "passed")',
    ]);
    expect(reasons(goodImage({}, { "phoenix:scan-status": "failed" }))).toEqual([
      'required tag phoenix:scan-status is "failed", expected "passed"',
    ]);
    const two = gate({ requiredTags: { "phoenix:scan-status": "passed", team: "platform" } });
    expect(reasons(goodImage(), two)).toEqual(['required tag team is missing (expected "platform")']);
    expect(reasons(withoutTag(goodImage(), "phoenix:scan-status"), gate({ requiredTags: {} }))).toEqual([]);
  });

  it("refuses a deprecated image, judged against the given now", () => {
    expect(reasons(goodImage({ DeprecationTime: "2025-06-01T11:59:59Z" }))).toEqual([
      "image is deprecated since 2025-06-01T11:59:59Z",
    ]);
    expect(reasons(goodImage({ DeprecationTime: "2025-06-01T12:00:00Z" }))).toHaveLength(1);
    expect(reasons(goodImage({ DeprecationTime: "2025-06-01T12:00:01Z" }))).toEqual([]);
    expect(reasons(goodImage({ DeprecationTime: "soon" }))).toEqual(['DeprecationTime "soon" is not a date']);
  });

  it("refuses an image Phoenix tagged rejected or compromised, quoting the reason", () => {
    expect(
      reasons(
        goodImage({}, { "phoenix:image-status": "rejected", "phoenix:image-status-reason": "web-a failed" }),
      ),
    ).toEqual(["image is marked rejected by Phoenix (phoenix:image-status): web-a failed"]);
    expect(reasons(goodImage({}, { "phoenix:image-status": " Compromised " }))).toEqual([
      "image is marked compromised by Phoenix (phoenix:image-status)",
    ]);
    expect(reasons(goodImage({}, { "phoenix:image-status": "approved" }))).toEqual([]);
  });

  it("refuses an image recorded as rejected for its family, not for another family", () => {
    const image = goodImage();
    const mark = (m: Partial<ImageMark>): ImageMark => ({ imageId: image.ImageId, status: "rejected", ...m });
    expect(
      reasons(image, gate(), ctx({ marks: [mark({ family: "web", reason: "rollback in web-a" })] })),
    ).toEqual(["image was rejected for family web by Phoenix: rollback in web-a"]);
    expect(reasons(image, gate(), ctx({ marks: [mark({ status: "compromised" })] }))).toEqual([
      "image was compromised by Phoenix",
    ]);
    expect(reasons(image, gate(), ctx({ marks: [mark({ family: "api" })] }))).toEqual([]);
    // A compromise found in family api is in the image: every family refuses it.
    expect(
      reasons(
        image,
        gate(),
        ctx({ marks: [mark({ status: "compromised", family: "api", reason: "2 contained" })] }),
      ),
    ).toEqual(["image was compromised by Phoenix: 2 contained"]);
    expect(reasons(image, gate(), ctx({ marks: [mark({ imageId: "ami-99999999" })] }))).toEqual([]);
  });

  describe("signature", () => {
    const required = gate({ requireSignature: true, signingKeyId: "alias/phoenix-images" });
    const signed = goodImage({}, { "phoenix:signature": "c2lnbmF0dXJl" });

    it("is not needed unless the policy requires it", () => {
      expect(reasons(goodImage())).toEqual([]);
    });

    it("refuses a missing signature tag as its own reason", () => {
      expect(reasons(goodImage(), required, ctx({ signatureValid: true }))).toEqual([
        "signature tag phoenix:signature is missing",
      ]);
      expect(reasons(goodImage({}, { "phoenix:signature": "" }), required)).toEqual([
        "signature tag phoenix:signature is missing",
      ]);
    });

    it("refuses a signature that does not verify", () => {
      expect(reasons(signed, required, ctx({ signatureValid: false }))).toEqual([
        "signature in phoenix:signature does not verify",
      ]);
    });

    it("refuses a signature nobody verified", () => {
      expect(reasons(signed, required, ctx())).toEqual(["signature in phoenix:signature was not verified"]);
    });

    it("passes a verified signature", () => {
      expect(gateImage(signed, required, ctx({ signatureValid: true }))).toEqual({
        pass: true,
        family: "web",
      });
    });

    it("uses the policy's signature tag", () => {
      const custom = gate({ requireSignature: true, signingKeyId: "k", signatureTag: "sig" });
      expect(reasons(signed, custom, ctx({ signatureValid: true }))).toEqual([
        "signature tag sig is missing",
      ]);
    });

    it("refuses a bad signature even when none is required", () => {
      expect(reasons(signed, gate(), ctx({ signatureValid: false }))).toEqual([
        "signature in phoenix:signature does not verify",
      ]);
    });

    it("gives the caller the key, the payload and the decoded signature to verify", () => {
      const input = signatureToVerify(signed, required);
      expect(input?.keyId).toBe("alias/phoenix-images");
      expect(Buffer.from(input?.signature ?? []).toString()).toBe("signature");
      expect(input?.message).toEqual(signingPayload(signed, "web"));
      expect(signatureToVerify(goodImage(), required)).toBeUndefined();
    });
  });

  it("reports every failing check at once", () => {
    const bad = withoutTag(goodImage({ State: "failed", OwnerId: "999999999999" }), "phoenix:scan-status");
    expect(reasons(bad, gate({ requireSignature: true, signingKeyId: "k" }))).toHaveLength(4);
  });
});

describe("signingPayload", () => {
  it("is the documented four lines with sorted snapshot ids", () => {
    expect(signingPayloadText(goodImage(), "web")).toBe(
      "phoenix-image-signature/v1\nimage:ami-0123456789abcdef0\nfamily:web\nsnapshots:snap-0aaa,snap-0bbb",
    );
    expect(new TextDecoder().decode(signingPayload(goodImage(), "web"))).toBe(
      signingPayloadText(goodImage(), "web"),
    );
  });

  it("does not depend on mapping order, duplicates or instance-store entries", () => {
    const shuffled = goodImage({
      BlockDeviceMappings: [
        { Ebs: { SnapshotId: "snap-0aaa" } },
        {},
        { Ebs: { SnapshotId: "snap-0bbb" } },
        { Ebs: { SnapshotId: "snap-0aaa" } },
      ],
    });
    expect(signingPayload(shuffled, "web")).toEqual(signingPayload(goodImage(), "web"));
  });

  it("binds the image, the family and the snapshots", () => {
    const base = signingPayloadText(goodImage(), "web");
    expect(signingPayloadText(goodImage(), "api")).not.toBe(base);
    expect(signingPayloadText(goodImage({ ImageId: "ami-11111111" }), "web")).not.toBe(base);
    expect(
      signingPayloadText(goodImage({ BlockDeviceMappings: [{ Ebs: { SnapshotId: "snap-0aaa" } }] }), "web"),
    ).not.toBe(base);
  });

  it("has an empty snapshot line for an image without EBS snapshots", () => {
    expect(signingPayloadText({ ImageId: "ami-12345678" }, "web")).toBe(
      "phoenix-image-signature/v1\nimage:ami-12345678\nfamily:web\nsnapshots:",
    );
  });
});
