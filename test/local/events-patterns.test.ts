import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EventBridgeClient, TestEventPatternCommand } from "@aws-sdk/client-eventbridge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import { matchPatterns, type SampleEvent } from "../../local/events/pattern-check.js";
import { type EventPattern, phoenixEventRules } from "../../src/events/rules.js";
import { parsePolicy } from "../../src/policy/index.js";
import { clientConfig, startTestCloud } from "../support/cloud.js";
import { ownSampleEvent } from "../support/sample-events.js";

// Phoenix's rule patterns against every shared sample event, matched by moto's EventBridge
// (an implementation independent of Phoenix), not by anything written here.

const eventsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../shared/events");

function loadSamples(): Record<string, SampleEvent> {
  const samples: Record<string, SampleEvent> = {};
  for (const folder of readdirSync(eventsDir, { withFileTypes: true })) {
    if (!folder.isDirectory()) continue;
    for (const file of readdirSync(path.join(eventsDir, folder.name)).filter((f) => f.endsWith(".json"))) {
      samples[`${folder.name}/${file}`] = JSON.parse(
        readFileSync(path.join(eventsDir, folder.name, file), "utf8"),
      );
    }
  }
  return samples;
}

function patternsOf(policy: unknown): Record<string, EventPattern> {
  return Object.fromEntries(
    phoenixEventRules(parsePolicy(policy)).flatMap((rule) =>
      rule.pattern ? [[rule.name, rule.pattern]] : [],
    ),
  );
}

const INSTANCE_FINDINGS_SEVERITY_8 = [
  "guardduty/recon-ec2-portprobeemrunprotectedport-target.json",
  "guardduty/trojan-ec2-dgadomainrequest-b-actor-2018.json",
  "guardduty/trojan-ec2-dgadomainrequest-b-actor.json",
  "guardduty/trojan-ec2-dnsdataexfiltration-actor.json",
  "guardduty/unauthorizedaccess-ec2-metadatadnsrebind-target.json",
  "guardduty/unauthorizedaccess-ec2-torclient-target.json",
  "guardduty/unauthorizedaccess-ec2-torrelay-target.json",
];
const INSTANCE_FINDINGS_SEVERITY_5 = [
  "guardduty/backdoor-ec2-c-cactivity-b-dns-target.json",
  "guardduty/canary-ec2-stateless-integtest-target.json",
  "guardduty/recon-ec2-portscan-actor.json",
  "guardduty/trojan-ec2-blackholetraffic-target.json",
  "guardduty/trojan-ec2-droppoint-target.json",
  "guardduty/unauthorizedaccess-ec2-maliciousipcaller-custom-target.json",
];
// Severity 2, on instances, of the types the default policy notifies on whatever the severity.
const BRUTE_FORCE_AGAINST_INSTANCE = [
  "guardduty/unauthorizedaccess-ec2-rdpbruteforce-target.json",
  "guardduty/unauthorizedaccess-ec2-sshbruteforce-target.json",
];
const REFRESH_EVENTS = [
  "instance-refresh/docs-cancelled.json",
  "instance-refresh/docs-checkpoint-reached.json",
  "instance-refresh/docs-failed.json",
  "instance-refresh/docs-rollback-failed.json",
  "instance-refresh/docs-rollback-started.json",
  "instance-refresh/docs-rollback-succeeded.json",
  "instance-refresh/docs-started.json",
  "instance-refresh/docs-succeeded.json",
];

let cloud: LocalCloud;
let samples: Record<string, SampleEvent>;
beforeAll(async () => {
  cloud = await startTestCloud({ plugins: [] });
  samples = loadSamples();
});
afterAll(async () => {
  await cloud?.stop();
});

describe("Phoenix's event patterns, through moto's matcher", () => {
  it("match exactly the shared samples they should, with the default policy", async () => {
    expect(Object.keys(samples).length).toBeGreaterThanOrEqual(60);
    const matches = await matchPatterns(clientConfig(cloud), patternsOf({}), samples);
    expect(matches).toEqual({
      "phoenix-guardduty-instance-finding": [
        ...INSTANCE_FINDINGS_SEVERITY_8,
        ...INSTANCE_FINDINGS_SEVERITY_5,
        ...BRUTE_FORCE_AGAINST_INSTANCE,
      ].sort(),
      // No shared sample is a credential exfiltration (the IAM samples must not match either).
      "phoenix-guardduty-credential-leak": [],
      "phoenix-ami-available": ["ami/docs-ami-available.json"],
      "phoenix-imagebuilder-image-available": [
        "imagebuilder/docs-image-state-change-testing-to-available.json",
      ],
      // The samples' parameters are not under /phoenix/images/.
      "phoenix-image-parameter-change": [],
      // The shared Parameter Store samples come from aws.ssm too: not sessions.
      "phoenix-interactive-session": [],
      "phoenix-instance-refresh-lifecycle": REFRESH_EVENTS,
    });
  });

  it("deliver the interactive sessions (Phoenix's own CloudTrail samples), not a failed call", async () => {
    const own = Object.fromEntries(
      [
        "ssm-start-session.json",
        "ssm-start-session-denied.json",
        "ec2-instance-connect-send-ssh-public-key.json",
        "serial-console-send-ssh-public-key.json",
      ].map((file) => [file, ownSampleEvent("cloudtrail", file) as unknown as SampleEvent]),
    );
    const matches = await matchPatterns(clientConfig(cloud), patternsOf({}), own);
    expect(matches["phoenix-interactive-session"]).toEqual([
      "ec2-instance-connect-send-ssh-public-key.json",
      "serial-console-send-ssh-public-key.json",
      "ssm-start-session.json",
    ]);
    expect(matches["phoenix-guardduty-instance-finding"]).toEqual([]);
    expect(matches["phoenix-image-parameter-change"]).toEqual([]);
  });

  it("deliver the findings that name an instance indirectly (Phoenix's own samples) as the policy says", async () => {
    const own = Object.fromEntries(
      [
        "credential-exfiltration-outside-aws.json",
        "credential-exfiltration-inside-aws.json",
        "runtime-eks-node.json",
        "runtime-ecs-node.json",
      ].map((file) => [file, ownSampleEvent("guardduty", file) as unknown as SampleEvent]),
    );
    const pick = (m: Record<string, string[]>) => ({
      instance: m["phoenix-guardduty-instance-finding"],
      leak: m["phoenix-guardduty-credential-leak"],
    });
    expect(pick(await matchPatterns(clientConfig(cloud), patternsOf({}), own))).toEqual({
      instance: [],
      leak: ["credential-exfiltration-inside-aws.json", "credential-exfiltration-outside-aws.json"],
    });
    const optedIn = patternsOf({ containment: { containClusterNodes: true } });
    expect(pick(await matchPatterns(clientConfig(cloud), optedIn, own))).toEqual({
      instance: ["runtime-ecs-node.json", "runtime-eks-node.json"],
      leak: ["credential-exfiltration-inside-aws.json", "credential-exfiltration-outside-aws.json"],
    });
  });

  it("follow the policy: severity threshold, type overrides, image parameters", async () => {
    const strict = patternsOf({
      containment: { notifyAtSeverity: 7, containAtSeverity: 7, typeOverrides: [] },
      rollout: { imageParameters: ["/scheduler/"] },
    });
    const noOverrides = patternsOf({ containment: { typeOverrides: [] } });
    const exactParameter = patternsOf({
      rollout: { imageParameters: ["/scheduler/do-not-delete-manually/static"] },
    });
    const matches = await matchPatterns(
      clientConfig(cloud),
      {
        strictFindings: strict["phoenix-guardduty-instance-finding"]!,
        noOverrideFindings: noOverrides["phoenix-guardduty-instance-finding"]!,
        prefixParameter: strict["phoenix-image-parameter-change"]!,
        exactParameter: exactParameter["phoenix-image-parameter-change"]!,
      },
      samples,
    );
    expect(matches.strictFindings).toEqual([...INSTANCE_FINDINGS_SEVERITY_8].sort());
    expect(matches.noOverrideFindings).toEqual(
      [...INSTANCE_FINDINGS_SEVERITY_8, ...INSTANCE_FINDINGS_SEVERITY_5].sort(),
    );
    // Create matches; Delete of the same parameter does not.
    expect(matches.prefixParameter).toEqual([
      "ssm-parameter/instance-scheduler-create-hierarchical-name.json",
    ]);
    expect(matches.exactParameter).toEqual([
      "ssm-parameter/instance-scheduler-create-hierarchical-name.json",
    ]);
  });

  it("decide the edge cases the samples do not cover", async () => {
    const finding = (
      severity: unknown,
      resourceType = "Instance",
      type = "Trojan:EC2/DropPoint",
    ): SampleEvent => ({
      source: "aws.guardduty",
      "detail-type": "GuardDuty Finding",
      detail: { type, severity, resource: { resourceType } },
    });
    const parameter = (name: string, operation: string, extra: object = {}): SampleEvent => ({
      source: "aws.ssm",
      "detail-type": "Parameter Store Change",
      detail: { name, operation, type: "String", ...extra },
    });
    const patterns = patternsOf({});
    const matches = await matchPatterns(
      clientConfig(cloud),
      {
        findings: patterns["phoenix-guardduty-instance-finding"]!,
        parameters: patterns["phoenix-image-parameter-change"]!,
      },
      {
        "severity 3.9": finding(3.9),
        "severity 4": finding(4),
        "severity 5.3": finding(5.3),
        "severity as a string": finding("8"),
        "severity 8 on an access key": finding(8, "AccessKey"),
        "crypto mining at severity 1": finding(1, "Instance", "CryptoCurrency:EC2/BitcoinTool.B"),
        "claims to be GuardDuty from elsewhere": { ...finding(8), source: "custom.app" },
        "image parameter created": parameter("/phoenix/images/web", "Create"),
        "image parameter updated": parameter("/phoenix/images/web", "Update"),
        "image parameter deleted": parameter("/phoenix/images/web", "Delete"),
        "image parameter refused as not an AMI": parameter("/phoenix/images/web", "Update", {
          exception: "Unable to Describe Resource",
          dataType: "aws:ec2:image",
        }),
        "other parameter": parameter("/phoenix/imagesX", "Update"),
      },
    );
    expect(matches.findings).toEqual(["crypto mining at severity 1", "severity 4", "severity 5.3"]);
    expect(matches.parameters).toEqual(["image parameter created", "image parameter updated"]);
  });
});

describe("moto's EventBridge pattern support (checked, not assumed)", () => {
  it("implements the filters Phoenix's patterns use, and $or", async () => {
    const event = (detail: object): SampleEvent => ({ source: "probe", "detail-type": "Probe", detail });
    const matches = await matchPatterns(
      clientConfig(cloud),
      {
        numericRange: { detail: { n: [{ numeric: [">", 2, "<=", 5] }] } },
        prefix: { detail: { s: [{ prefix: "ab" }] } },
        anythingBut: { detail: { s: [{ "anything-but": ["abc", "xyz"] }] } },
        anythingButPrefix: { detail: { s: [{ "anything-but": { prefix: "ab" } }] } },
        existsFalse: { detail: { s: [{ exists: false }] } },
        existsTrue: { detail: { s: [{ exists: true }] } },
        or: { detail: { $or: [{ n: [1] }, { s: ["xyz"] }] } },
        nested: { detail: { a: { b: ["deep"] } } },
      },
      {
        n1: event({ n: 1 }),
        n3: event({ n: 3 }),
        n5: event({ n: 5 }),
        n6: event({ n: 6 }),
        abc: event({ s: "abc" }),
        xyz: event({ s: "xyz" }),
        other: event({ s: "other" }),
        deep: event({ a: { b: "deep" } }),
      },
    );
    expect(matches).toEqual({
      numericRange: ["n3", "n5"],
      prefix: ["abc"],
      anythingBut: ["other"],
      anythingButPrefix: ["other", "xyz"],
      existsFalse: ["deep", "n1", "n3", "n5", "n6"],
      existsTrue: ["abc", "other", "xyz"],
      or: ["n1", "xyz"],
      nested: ["deep"],
    });
  });

  it("does not implement TestEventPattern (200 with no Result), hence matching through rules", async () => {
    const eventbridge = new EventBridgeClient(clientConfig(cloud));
    const answer = await eventbridge.send(
      new TestEventPatternCommand({
        EventPattern: JSON.stringify({ source: ["a"] }),
        Event: JSON.stringify({
          id: "1",
          "detail-type": "x",
          source: "a",
          account: "123456789012",
          time: "2024-01-01T00:00:00Z",
          region: "us-east-1",
          resources: [],
          detail: {},
        }),
      }),
    );
    expect(answer.Result).toBeUndefined();
  });
});
