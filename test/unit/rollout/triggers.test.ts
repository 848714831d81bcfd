import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ImageTrigger, parseImageTrigger } from "../../../src/images/triggers.js";
import { defaultPolicy, parsePolicy } from "../../../src/policy/index.js";
import { sampleEvent, sampleEventFiles } from "../../support/sample-events.js";

/** A sample by its path under ../shared/events (`ami/docs-ami-available.json`). */
function loadEvent(relative: string): Record<string, unknown> {
  const [folder = "", file = ""] = relative.split("/");
  return sampleEvent(folder, file);
}

/** Every sample must be listed here: a new file fails the suite until someone classifies it. */
const expectedKinds: Record<string, ImageTrigger["kind"]> = {
  "ami/docs-ami-available.json": "ami",
  "ami/docs-ami-deregistered.json": "ignored",
  "ami/docs-ami-disabled.json": "ignored",
  "ami/docs-ami-failed.json": "ignored",
  "imagebuilder/docs-image-state-change-testing-to-available.json": "imagebuilder",
  "imagebuilder/docs-not-state-change-cve-detected.json": "ignored",
  "imagebuilder/docs-not-state-change-pipeline-auto-disabled.json": "ignored",
  "imagebuilder/docs-not-state-change-workflow-step-waiting.json": "ignored",
  // None of the sample parameters is under the default /phoenix/images/ prefix.
  "ssm-parameter/docs-create-ec2-image-datatype-exception.json": "ignored",
  "ssm-parameter/docs-create.json": "ignored",
  "ssm-parameter/docs-delete.json": "ignored",
  "ssm-parameter/docs-update.json": "ignored",
  "ssm-parameter/instance-scheduler-create-hierarchical-name.json": "ignored",
  "ssm-parameter/instance-scheduler-delete-hierarchical-name.json": "ignored",
};

const policy = defaultPolicy();

describe("shared sample events", () => {
  const files = ["ami", "imagebuilder", "ssm-parameter"].flatMap((dir) =>
    sampleEventFiles(dir).map((name) => `${dir}/${name}`),
  );

  it("finds every sample listed, and lists every sample found", () => {
    expect(files.sort()).toEqual(Object.keys(expectedKinds).sort());
  });

  it.each(files)("%s gives the expected kind", (file) => {
    const result = parseImageTrigger(loadEvent(file), policy);
    expect(result.kind).toBe(expectedKinds[file]);
  });

  it("reads the AMI id, region and account of an available AMI", () => {
    expect(parseImageTrigger(loadEvent("ami/docs-ami-available.json"), policy)).toEqual({
      kind: "ami",
      imageId: "ami-0123456789example",
      region: "us-east-1",
      account: "012345678901",
    });
  });

  it("says which state an ignored AMI event had", () => {
    const result = parseImageTrigger(loadEvent("ami/docs-ami-deregistered.json"), policy);
    expect(result).toEqual({ kind: "ignored", reason: expect.stringContaining("deregistered") });
  });

  it("takes the Image Builder image ARN from resources (the detail carries no image)", () => {
    expect(
      parseImageTrigger(loadEvent("imagebuilder/docs-image-state-change-testing-to-available.json"), policy),
    ).toEqual({
      kind: "imagebuilder",
      imageBuildVersionArn:
        "arn:aws:imagebuilder:us-west-2:111122223333:image/cmkencryptedworkflowtest-a1b2c3d4-5678-90ab-cdef-EXAMPLE22222/1.0.0/1",
      region: "us-west-2",
    });
  });

  it("ignores Image Builder notices that are not image state changes, naming the detail-type", () => {
    const result = parseImageTrigger(
      loadEvent("imagebuilder/docs-not-state-change-cve-detected.json"),
      policy,
    );
    expect(result).toEqual({
      kind: "ignored",
      reason: expect.stringContaining("EC2 Image Builder CVE Detected"),
    });
  });

  it("ignores unknown parameters, naming the parameter", () => {
    const result = parseImageTrigger(loadEvent("ssm-parameter/docs-update.json"), policy);
    expect(result).toEqual({ kind: "ignored", reason: expect.stringContaining("MyExampleParameter") });
  });

  it("accepts a sample parameter once the policy names it exactly or by its prefix", () => {
    const event = loadEvent("ssm-parameter/instance-scheduler-create-hierarchical-name.json");
    const expected = {
      kind: "parameter",
      name: "/scheduler/do-not-delete-manually/static",
      operation: "Create",
      region: "us-east-1",
    };
    const exact = parsePolicy({ rollout: { imageParameters: ["/scheduler/do-not-delete-manually/static"] } });
    const prefix = parsePolicy({ rollout: { imageParameters: ["/scheduler/do-not-delete-manually/"] } });
    expect(parseImageTrigger(event, exact)).toEqual(expected);
    expect(parseImageTrigger(event, prefix)).toEqual(expected);
  });

  it("ignores a Delete even of a configured parameter", () => {
    const event = loadEvent("ssm-parameter/instance-scheduler-delete-hierarchical-name.json");
    const exact = parsePolicy({ rollout: { imageParameters: ["/scheduler/do-not-delete-manually/static"] } });
    expect(parseImageTrigger(event, exact)).toEqual({
      kind: "ignored",
      reason: expect.stringContaining("Delete"),
    });
  });
});

/** A sample with one change applied; the change receives a deep copy to mutate. */
// biome-ignore lint/suspicious/noExplicitAny: the changes reach freely into nested JSON.
function variant(file: string, change: (event: Record<string, any>) => void): Record<string, unknown> {
  const event = structuredClone(loadEvent(file));
  change(event);
  return event;
}

function expectInvalid(result: ImageTrigger, field: string): void {
  expect(result.kind).toBe("invalid");
  expect(result.kind === "invalid" && result.error).toContain(field);
}

describe("AMI State Change", () => {
  const file = "ami/docs-ami-available.json";

  it("rejects an available AMI without ImageId, naming the field", () => {
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => delete e.detail.ImageId),
        policy,
      ),
      "detail.ImageId",
    );
  });

  it("rejects an ImageId that is not an AMI id", () => {
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => (e.detail.ImageId = "snap-123")),
        policy,
      ),
      "detail.ImageId",
    );
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => (e.detail.ImageId = 42)),
        policy,
      ),
      "detail.ImageId",
    );
  });

  it("rejects a missing State and a missing detail", () => {
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => delete e.detail.State),
        policy,
      ),
      "detail.State",
    );
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => delete e.detail),
        policy,
      ),
      "detail",
    );
  });

  it("rejects a missing or malformed region", () => {
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => delete e.region),
        policy,
      ),
      "region",
    );
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => (e.region = "moon")),
        policy,
      ),
      "region",
    );
  });

  it("rejects a missing account", () => {
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => delete e.account),
        policy,
      ),
      "account",
    );
  });

  it("does not trust an AMI State Change from another source", () => {
    const result = parseImageTrigger(
      variant(file, (e) => (e.source = "custom.spoof")),
      policy,
    );
    expect(result).toEqual({ kind: "ignored", reason: expect.stringContaining("custom.spoof") });
  });

  it("ignores a failed AMI even when fields it does not need are missing", () => {
    const result = parseImageTrigger(
      variant("ami/docs-ami-failed.json", (e) => delete e.detail.ImageId),
      policy,
    );
    expect(result.kind).toBe("ignored");
  });
});

describe("Image Builder Image State Change", () => {
  const file = "imagebuilder/docs-image-state-change-testing-to-available.json";

  it("ignores other statuses", () => {
    const result = parseImageTrigger(
      variant(file, (e) => (e.detail.state.status = "TESTING")),
      policy,
    );
    expect(result).toEqual({ kind: "ignored", reason: expect.stringContaining("TESTING") });
  });

  it("rejects a missing state", () => {
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => delete e.detail.state),
        policy,
      ),
      "detail.state",
    );
  });

  it("rejects an AVAILABLE event whose resources hold no image build version ARN", () => {
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => delete e.resources),
        policy,
      ),
      "resources",
    );
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => (e.resources = [])),
        policy,
      ),
      "resources",
    );
    const pipelineOnly = variant(file, (e) => {
      e.resources = ["arn:aws:imagebuilder:us-west-2:111122223333:image-pipeline/p"];
    });
    expectInvalid(parseImageTrigger(pipelineOnly, policy), "resources");
  });

  it("picks the image ARN among other resources", () => {
    const image = "arn:aws:imagebuilder:us-west-2:111122223333:image/web/2.0.1/3";
    const event = variant(file, (e) => {
      e.resources = ["arn:aws:imagebuilder:us-west-2:111122223333:image-pipeline/p", image];
    });
    expect(parseImageTrigger(event, policy)).toMatchObject({
      kind: "imagebuilder",
      imageBuildVersionArn: image,
    });
  });
});

describe("Parameter Store Change", () => {
  const file = "ssm-parameter/docs-update.json";
  const named = (name: string) => variant(file, (e) => (e.detail.name = name));

  it("accepts Create and Update of a parameter under the configured prefix", () => {
    expect(parseImageTrigger(named("/phoenix/images/web"), policy)).toEqual({
      kind: "parameter",
      name: "/phoenix/images/web",
      operation: "Update",
      region: "us-east-2",
    });
    const create = variant(file, (e) => {
      e.detail.name = "/phoenix/images/api";
      e.detail.operation = "Create";
    });
    expect(parseImageTrigger(create, policy)).toMatchObject({ kind: "parameter", operation: "Create" });
  });

  it("ignores the prefix itself and names nested below it", () => {
    expect(parseImageTrigger(named("/phoenix/images/"), policy).kind).toBe("ignored");
    expect(parseImageTrigger(named("/phoenix/images/web/arm64"), policy).kind).toBe("ignored");
    expect(parseImageTrigger(named("/phoenix/imagesweb"), policy).kind).toBe("ignored");
  });

  it("ignores label operations", () => {
    const event = variant(file, (e) => {
      e.detail.name = "/phoenix/images/web";
      e.detail.operation = "LabelParameterVersion";
    });
    expect(parseImageTrigger(event, policy)).toEqual({
      kind: "ignored",
      reason: expect.stringContaining("LabelParameterVersion"),
    });
  });

  it("ignores a change Parameter Store reports an exception for (failed aws:ec2:image validation)", () => {
    const event = variant("ssm-parameter/docs-create-ec2-image-datatype-exception.json", (e) => {
      e.detail.name = "/phoenix/images/web";
    });
    expect(parseImageTrigger(event, policy)).toEqual({
      kind: "ignored",
      reason: expect.stringContaining("Unable to Describe Resource"),
    });
  });

  it("rejects a missing name or operation", () => {
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => delete e.detail.name),
        policy,
      ),
      "detail.name",
    );
    expectInvalid(
      parseImageTrigger(
        variant(file, (e) => (e.detail.operation = "")),
        policy,
      ),
      "detail.operation",
    );
  });
});

describe("any input", () => {
  it.each([null, undefined, "EC2 AMI State Change", 7, [], true])(
    "rejects %j as not an event object",
    (input) => {
      expectInvalid(parseImageTrigger(input, policy), "event");
    },
  );

  it("rejects an event without detail-type, naming it", () => {
    expectInvalid(parseImageTrigger({ source: "aws.ec2", detail: {} }, policy), "detail-type");
  });

  it("ignores events that announce no image (a GuardDuty finding)", () => {
    const finding = loadEvent("guardduty/canary-ec2-stateless-integtest-target.json");
    expect(parseImageTrigger(finding, policy)).toEqual({
      kind: "ignored",
      reason: expect.stringContaining("GuardDuty Finding"),
    });
  });

  it("never throws on arbitrary JSON, and always explains a non-action", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (input) => {
        const result = parseImageTrigger(input, policy);
        if (result.kind === "ignored") expect(result.reason.length).toBeGreaterThan(0);
        if (result.kind === "invalid") expect(result.error.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on sample events with one field replaced by arbitrary JSON", () => {
    const samples = Object.keys(expectedKinds).map(loadEvent);
    const paths = ["detail-type", "source", "region", "account", "resources", "detail"];
    const detailKeys = ["ImageId", "State", "state", "name", "operation", "exception"];
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.constantFrom(...paths, ...detailKeys.map((key) => `detail.${key}`)),
        fc.jsonValue(),
        (sample, field, value) => {
          // biome-ignore lint/suspicious/noExplicitAny: a field of any JSON shape is replaced.
          const event = structuredClone(sample) as Record<string, any>;
          const [head, tail] = field.split(".") as [string, string | undefined];
          if (tail === undefined) event[head] = value;
          else if (typeof event.detail === "object" && event.detail !== null) event.detail[tail] = value;
          const result = parseImageTrigger(event, policy);
          expect(["ami", "imagebuilder", "parameter", "ignored", "invalid"]).toContain(result.kind);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("never throws on hostile objects", () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error("boom");
        },
      },
    );
    expect(parseImageTrigger(hostile, policy).kind).toBe("invalid");
  });
});
