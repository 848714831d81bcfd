import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FindingParseResult, parseGuardDutyEvent } from "../../../src/findings/guardduty.js";
import {
  alteredGuardDutyEvent,
  loadGuardDutyEvent,
  REMOVE,
  sampleEventFiles,
} from "../../support/sample-events.js";

const files = sampleEventFiles("guardduty");
const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

function parsed(event: unknown) {
  const result = parseGuardDutyEvent(event);
  if (!result.ok) throw new Error(`expected the event to parse, got: ${result.error}`);
  return result.finding;
}

function failure(event: unknown): string {
  const result = parseGuardDutyEvent(event);
  if (result.ok) throw new Error(`expected an error, got finding ${JSON.stringify(result.finding)}`);
  return result.error;
}

describe("parseGuardDutyEvent on the shared sample events", () => {
  it("finds the GuardDuty samples", () => {
    expect(files.length).toBeGreaterThanOrEqual(22);
  });

  it.each(files)("parses %s", (file) => {
    const finding = parsed(loadGuardDutyEvent(file));
    expect(finding.findingId).toMatch(/^[0-9a-f]{32}$/);
    expect(finding.accountId).toMatch(/^\d+$/);
    if (finding.resourceType === "Instance") expect(finding.instanceId).toMatch(INSTANCE_ID);
    else expect(finding.instanceId).toBeUndefined();
  });

  it("reads every field of an EC2 finding delivered by EventBridge", () => {
    expect(parsed(loadGuardDutyEvent("canary-ec2-stateless-integtest-target.json"))).toEqual({
      eventId: "57a60def-d703-5d0d-af17-c31fab7e02ad",
      findingId: "16afba5c5c43e07c9e3e5e2e544e95df",
      type: "Canary:EC2/Stateless.IntegTest",
      severity: 5,
      title: "Canary:EC2/Stateless.IntegTest",
      accountId: "123456789012",
      region: "us-east-1",
      eventAccount: "123456789012",
      eventRegion: "us-east-1",
      resourceType: "Instance",
      instanceId: "i-05746eb48123455e0",
      resourceRole: "TARGET",
      count: 1,
      createdAt: "2017-10-31T23:16:23.824Z",
      updatedAt: "2017-10-31T23:16:23.824Z",
      sample: false,
      archived: false,
      instanceTags: { Name: "ssh-22-open" },
      // The one interface in this finding carries no networkInterfaceId.
      networkInterfaceIds: [],
    });
  });

  it("takes the member account from detail.accountId, not the envelope", () => {
    const event = loadGuardDutyEvent("backdoor-ec2-c-cactivity-b-dns-target.json");
    expect(event["account"]).toBe("101010101111");
    const finding = parsed(event);
    expect(finding.accountId).toBe("883606788610");
    // The envelope's is kept beside it: routing checks both.
    expect(finding.eventAccount).toBe("101010101111");
    expect(finding.instanceId).toBe("i-99999999");
    expect(finding.instanceTags).toBeUndefined();
    expect(finding.networkInterfaceIds).toBeUndefined();
  });

  it("reads role, count, archived and tags from a converted finding", () => {
    const finding = parsed(loadGuardDutyEvent("recon-ec2-portscan-actor.json"));
    expect(finding).toMatchObject({
      type: "Recon:EC2/Portscan",
      resourceRole: "ACTOR",
      count: 2,
      archived: true,
      sample: true,
      networkInterfaceIds: ["eni-abcdef00", "eni-abcdef01", "eni-abcdef02", "eni-abcdef03"],
    });
    expect(Object.keys(finding.instanceTags ?? {})).toHaveLength(9);
    expect(finding.instanceTags?.["GeneratedFindingInstanceTag1"]).toBe("GeneratedFindingInstanceValue1");
  });

  it("fills what a sparse finding leaves out: envelope region, count 1, not archived", () => {
    const finding = parsed(loadGuardDutyEvent("policy-iamuser-rootcredentialusage.json"));
    expect(finding).toMatchObject({ region: "us-east-1", count: 1, archived: false, sample: false });
    expect(finding.createdAt).toBeUndefined();
    expect(finding.resourceRole).toBeUndefined();
  });

  it("ignores instanceDetails on findings about other resources", () => {
    const finding = parsed(loadGuardDutyEvent("pentest-s3-parrotlinux.json"));
    expect(finding.resourceType).toBe("S3Bucket");
    expect(finding.instanceId).toBeUndefined();
    expect(finding.instanceTags).toBeUndefined();
    // Even a broken instance id there does not matter: only resourceType decides.
    const broken = alteredGuardDutyEvent(
      "pentest-s3-parrotlinux.json",
      "detail.resource.instanceDetails.instanceId",
      "garbage",
    );
    expect(parsed(broken).resourceType).toBe("S3Bucket");
  });

  it("recognises the sample flag in each shape it comes in", () => {
    const notSamples = [
      "canary-ec2-stateless-integtest-target.json",
      "policy-iamuser-rootcredentialusage.json",
    ];
    for (const file of files) {
      expect({ file, sample: parsed(loadGuardDutyEvent(file)).sample }).toEqual({
        file,
        sample: !notSamples.includes(file),
      });
    }
  });
});

describe("parseGuardDutyEvent sample flag variants", () => {
  const withInfo = (info: unknown) =>
    parsed(
      alteredGuardDutyEvent(
        "canary-ec2-stateless-integtest-target.json",
        "detail.service.additionalInfo",
        info,
      ),
    ).sample;

  it.each([
    [{ sample: true }, true],
    [{ sample: "true" }, true],
    [{ type: "default", value: '{"sample":true}' }, true],
    [{ type: "default", value: '{"sample":"true"}' }, true],
    [{ sample: false }, false],
    [{ sample: "yes" }, false],
    [{ type: "default", value: '{"sample":false}' }, false],
    [{ type: "default", value: "{not json" }, false],
    ["sample", false],
    [null, false],
  ])("additionalInfo %j → sample %s", (info, expected) => {
    expect(withInfo(info)).toBe(expected);
  });
});

describe("parseGuardDutyEvent on malformed events", () => {
  const canary = "canary-ec2-stateless-integtest-target.json";

  it("trims stray whitespace around the instance id", () => {
    const event = alteredGuardDutyEvent(
      canary,
      "detail.resource.instanceDetails.instanceId",
      "  i-05746eb48123455e0\n",
    );
    expect(parsed(event).instanceId).toBe("i-05746eb48123455e0");
  });

  it.each([
    ["source", "aws.ec2", /source is "aws\.ec2"/],
    ["source", REMOVE, /source is missing/],
    ["detail-type", "EC2 Instance State-change Notification", /detail-type is "EC2 Instance State-change/],
  ])("rejects %s = %s as not a GuardDuty finding", (field, value, message) => {
    const error = failure(alteredGuardDutyEvent(canary, field, value));
    expect(error).toMatch(/^not a GuardDuty finding/);
    expect(error).toMatch(message);
  });

  it.each([
    ["detail", REMOVE, "detail"],
    ["detail", null, "detail"],
    ["id", REMOVE, "id"],
    ["detail.id", "", "detail.id"],
    ["detail.type", 42, "detail.type"],
    ["detail.severity", "8", "detail.severity"],
    ["detail.severity", REMOVE, "detail.severity"],
    ["detail.severity", 11, "detail.severity"],
    ["detail.title", REMOVE, "detail.title"],
    ["detail.accountId", "not-an-account", "detail.accountId"],
    ["detail.accountId", 123456789012, "detail.accountId"],
    ["detail.updatedAt", "yesterday", "detail.updatedAt"],
    ["detail.createdAt", 1509491783824, "detail.createdAt"],
    ["detail.resource", REMOVE, "detail.resource"],
    ["detail.resource.resourceType", REMOVE, "detail.resource.resourceType"],
    ["detail.resource.instanceDetails", REMOVE, "detail.resource.instanceDetails"],
    ["detail.resource.instanceDetails.instanceId", REMOVE, "detail.resource.instanceDetails.instanceId"],
    ["detail.resource.instanceDetails.instanceId", "i-xyz", "detail.resource.instanceDetails.instanceId"],
    ["detail.resource.instanceDetails.instanceId", "i-123", "detail.resource.instanceDetails.instanceId"],
    [
      "detail.resource.instanceDetails.instanceId",
      "I-05746EB48123455E0",
      "detail.resource.instanceDetails.instanceId",
    ],
    [
      "detail.resource.instanceDetails.instanceId",
      "i-05746eb48123455e0; rm",
      "detail.resource.instanceDetails.instanceId",
    ],
    [
      "detail.resource.instanceDetails.tags",
      [{ key: "Name" }],
      "detail.resource.instanceDetails.tags.0.value",
    ],
    ["detail.resource.instanceDetails.tags", "Name=x", "detail.resource.instanceDetails.tags"],
    [
      "detail.resource.instanceDetails.networkInterfaces",
      [{ networkInterfaceId: "sg-12345678" }],
      "detail.resource.instanceDetails.networkInterfaces.0.networkInterfaceId",
    ],
    ["detail.service.resourceRole", "BYSTANDER", "detail.service.resourceRole"],
    ["detail.service.count", 0, "detail.service.count"],
    ["detail.service.count", 1.5, "detail.service.count"],
    ["detail.service.archived", "false", "detail.service.archived"],
    ["detail.region", "Mars", "detail.region"],
    ["account", "everyone", "account"],
  ])("rejects %s = %j, naming %s", (field, value, named) => {
    const error = failure(alteredGuardDutyEvent(canary, field, value));
    // The named field opens one of the "; "-separated problems.
    expect(error.split("; ").some((problem) => problem.startsWith(`${named}:`))).toBe(true);
  });

  it("rejects duplicate tag keys instead of silently keeping one", () => {
    const tags = [
      { key: "phoenix:protected", value: "true" },
      { key: "phoenix:protected", value: "false" },
    ];
    const error = failure(alteredGuardDutyEvent(canary, "detail.resource.instanceDetails.tags", tags));
    expect(error).toContain("detail.resource.instanceDetails.tags: duplicate tag keys");
  });

  it("needs a region from the detail or the envelope", () => {
    const noDetailRegion = alteredGuardDutyEvent(canary, "detail.region", REMOVE);
    expect(parsed(noDetailRegion).region).toBe("us-east-1");
    const noRegion = { ...noDetailRegion, region: undefined };
    expect(failure(noRegion)).toContain("detail.region: missing");
  });

  it("lists every bad field, not only the first", () => {
    const event = alteredGuardDutyEvent(canary, "detail.severity", "high");
    (event["detail"] as Record<string, unknown>)["updatedAt"] = "soon";
    const error = failure(event);
    expect(error).toContain("detail.severity:");
    expect(error).toContain("detail.updatedAt:");
  });

  it.each([null, undefined, 42, "GuardDuty Finding", [], [loadGuardDutyEvent(canary)]])(
    "rejects %j as not an object",
    (input) => {
      expect(failure(input)).toMatch(/^event: expected an object/);
    },
  );
});

describe("parseGuardDutyEvent properties", () => {
  const isWellFormed = (result: FindingParseResult): boolean =>
    result.ok
      ? typeof result.finding.findingId === "string"
      : typeof result.error === "string" && result.error !== "";

  it("never throws on arbitrary JSON, and answers with a result", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (input) => {
        expect(isWellFormed(parseGuardDutyEvent(input))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on arbitrary JSON as the detail of a GuardDuty envelope", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (detail) => {
        const result = parseGuardDutyEvent({
          id: "x",
          source: "aws.guardduty",
          "detail-type": "GuardDuty Finding",
          detail,
        });
        expect(result.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  const fieldPaths = [
    "detail",
    "detail.id",
    "detail.severity",
    "detail.accountId",
    "detail.region",
    "detail.updatedAt",
    "detail.resource",
    "detail.resource.resourceType",
    "detail.resource.instanceDetails",
    "detail.resource.instanceDetails.instanceId",
    "detail.resource.instanceDetails.tags",
    "detail.resource.instanceDetails.networkInterfaces",
    "detail.service",
    "detail.service.count",
    "detail.service.resourceRole",
    "detail.service.additionalInfo",
  ];

  it("returns either a fully valid finding or an error when any field of a real event is replaced", () => {
    const ec2Files = files.filter((file) => file.includes("-ec2-"));
    fc.assert(
      fc.property(
        fc.constantFrom(...ec2Files),
        fc.constantFrom(...fieldPaths),
        fc.oneof(fc.jsonValue(), fc.constant(REMOVE)),
        (file, field, value) => {
          let event: Record<string, unknown>;
          try {
            event = alteredGuardDutyEvent(file, field, value);
          } catch {
            return; // an enclosing field is not an object in this sample
          }
          const result = parseGuardDutyEvent(event);
          if (!result.ok) return;
          const finding = result.finding;
          expect(finding.severity).toBeGreaterThanOrEqual(0);
          expect(finding.severity).toBeLessThanOrEqual(10);
          expect(Number.isInteger(finding.count) && finding.count >= 1).toBe(true);
          expect(finding.accountId).toMatch(/^\d+$/);
          if (finding.resourceType === "Instance") expect(finding.instanceId).toMatch(INSTANCE_ID);
          for (const eni of finding.networkInterfaceIds ?? []) expect(eni).toMatch(/^eni-[0-9a-f]+$/);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
