import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type RoutableFinding, routeFinding } from "../../../src/containment/route.js";
import { type Finding, parseGuardDutyEvent } from "../../../src/findings/guardduty.js";
import { type ContainmentPolicy, defaultPolicy, parsePolicy } from "../../../src/policy/index.js";
import { loadGuardDutyEvent, sampleEventFiles } from "./sample-events.js";

const defaults = defaultPolicy().containment;
const containmentPolicy = (containment: Record<string, unknown>): ContainmentPolicy =>
  parsePolicy({ containment }).containment;

function sampleFinding(file: string): Finding {
  const result = parseGuardDutyEvent(loadGuardDutyEvent(file));
  if (!result.ok) throw new Error(result.error);
  return result.finding;
}

const instanceFinding = (overrides: Partial<RoutableFinding> = {}): RoutableFinding => ({
  type: "Recon:EC2/Portscan",
  severity: 5,
  resourceType: "Instance",
  instanceId: "i-0123456789abcdef0",
  resourceRole: "ACTOR",
  sample: false,
  archived: false,
  ...overrides,
});

describe("routeFinding with the default policy on the shared samples", () => {
  const nonInstance: Record<string, string> = {
    "credentialaccess-iamuser-anomalousbehavior.json": "AccessKey",
    "discovery-rds-toripcaller.json": "RDSDBInstance",
    "pentest-s3-parrotlinux.json": "S3Bucket",
    "policy-iamuser-rootcredentialusage.json": "AccessKey",
    "recon-iamuser-maliciousipcaller-custom.json": "AccessKey",
    "unauthorizedaccess-iamuser-toripcaller.json": "AccessKey",
  };

  it.each(Object.entries(nonInstance))("ignores %s, naming its resource type", (file, resourceType) => {
    const decision = routeFinding(sampleFinding(file), defaults);
    expect(decision.action).toBe("ignore");
    expect(decision.reason).toContain(resourceType);
    expect(decision.reason).toContain("not an EC2 instance");
  });

  const ec2Samples = sampleEventFiles("guardduty").filter(
    (file) => !(file in nonInstance) && file !== "canary-ec2-stateless-integtest-target.json",
  );

  it.each(ec2Samples)("ignores the EC2 sample finding %s because it is a sample", (file) => {
    const decision = routeFinding(sampleFinding(file), defaults);
    expect(decision).toEqual({ action: "ignore", reason: expect.stringContaining("sample finding") });
  });

  it("notifies the one real medium-severity EC2 finding", () => {
    const decision = routeFinding(sampleFinding("canary-ec2-stateless-integtest-target.json"), defaults);
    expect(decision.action).toBe("notify");
    expect(decision.reason).toContain("Severity 5");
  });
});

describe("routeFinding on the shared samples when samples are allowed", () => {
  const policy = containmentPolicy({ allowSampleFindings: true });
  const expected: Record<string, string> = {
    "backdoor-ec2-c-cactivity-b-dns-target.json": "contain", // severity 5, but Backdoor: always contains
    "canary-ec2-stateless-integtest-target.json": "notify",
    "credentialaccess-iamuser-anomalousbehavior.json": "ignore",
    "discovery-rds-toripcaller.json": "ignore",
    "pentest-s3-parrotlinux.json": "ignore",
    "policy-iamuser-rootcredentialusage.json": "ignore", // severity 8, but an access key
    "recon-ec2-portprobeemrunprotectedport-target.json": "contain",
    "recon-ec2-portprobeunprotectedport-target.json": "log",
    "recon-ec2-portscan-actor.json": "ignore", // archived
    "recon-iamuser-maliciousipcaller-custom.json": "ignore",
    "trojan-ec2-blackholetraffic-target.json": "notify",
    "trojan-ec2-dgadomainrequest-b-actor-2018.json": "contain",
    "trojan-ec2-dgadomainrequest-b-actor.json": "contain",
    "trojan-ec2-dnsdataexfiltration-actor.json": "contain",
    "trojan-ec2-droppoint-target.json": "notify",
    "unauthorizedaccess-ec2-maliciousipcaller-custom-target.json": "notify",
    "unauthorizedaccess-ec2-metadatadnsrebind-target.json": "contain",
    "unauthorizedaccess-ec2-rdpbruteforce-target.json": "notify", // severity 2, TARGET override
    "unauthorizedaccess-ec2-sshbruteforce-target.json": "notify", // severity 2, TARGET override
    "unauthorizedaccess-ec2-torclient-target.json": "contain",
    "unauthorizedaccess-ec2-torrelay-target.json": "contain",
    "unauthorizedaccess-iamuser-toripcaller.json": "ignore",
  };

  it("covers every sample", () => {
    expect(Object.keys(expected).sort()).toEqual(sampleEventFiles("guardduty"));
  });

  it.each(Object.entries(expected))("routes %s to %s", (file, action) => {
    expect(routeFinding(sampleFinding(file), policy).action).toBe(action);
  });

  it("ignores the archived port scan, and acts on it once archived findings are allowed", () => {
    const finding = sampleFinding("recon-ec2-portscan-actor.json");
    expect(routeFinding(finding, policy).reason).toContain("archived");
    const both = containmentPolicy({ allowSampleFindings: true, allowArchivedFindings: true });
    expect(routeFinding(finding, both).action).toBe("notify");
  });
});

describe("routeFinding brute force by role", () => {
  it.each([
    ["unauthorizedaccess-ec2-sshbruteforce-target.json", "TARGET", "notify"],
    ["unauthorizedaccess-ec2-sshbruteforce-target.json", "ACTOR", "contain"],
    ["unauthorizedaccess-ec2-rdpbruteforce-target.json", "TARGET", "notify"],
    ["unauthorizedaccess-ec2-rdpbruteforce-target.json", "ACTOR", "contain"],
  ] as const)("%s with the instance as %s → %s", (file, role, action) => {
    const finding = { ...sampleFinding(file), sample: false, resourceRole: role };
    const decision = routeFinding(finding, defaults);
    expect(decision.action).toBe(action);
    expect(decision.reason).toContain(`with the instance as ${role}`);
  });

  it("falls back to severity when the finding names no role", () => {
    const finding = { ...sampleFinding("unauthorizedaccess-ec2-sshbruteforce-target.json"), sample: false };
    delete finding.resourceRole;
    expect(routeFinding(finding, defaults).action).toBe("log");
  });
});

describe("routeFinding rules", () => {
  it.each([
    [10, "contain"],
    [7, "contain"],
    [6.9, "notify"],
    [4, "notify"],
    [3.9, "log"],
    [0, "log"],
  ])("severity %s → %s with the default thresholds", (severity, action) => {
    expect(routeFinding(instanceFinding({ severity }), defaults).action).toBe(action);
  });

  it("uses the policy's thresholds", () => {
    const policy = containmentPolicy({ containAtSeverity: 5, notifyAtSeverity: 2 });
    expect(routeFinding(instanceFinding({ severity: 5 }), policy).action).toBe("contain");
    expect(routeFinding(instanceFinding({ severity: 2 }), policy).action).toBe("notify");
    expect(routeFinding(instanceFinding({ severity: 1.9 }), policy).action).toBe("log");
  });

  it("lets the first matching override win over severity and over later overrides", () => {
    const policy = containmentPolicy({
      typeOverrides: [
        { typePrefix: "Recon:EC2/Port", role: "TARGET", action: "contain" },
        { typePrefix: "Recon:EC2/", action: "ignore" },
        { typePrefix: "Recon:", action: "notify" },
      ],
    });
    const decision = routeFinding(instanceFinding({ severity: 9 }), policy);
    expect(decision).toEqual({
      action: "ignore",
      reason:
        'Finding type Recon:EC2/Portscan matches the policy override for "Recon:EC2/", which says ignore.',
    });
    expect(routeFinding(instanceFinding({ resourceRole: "TARGET" }), policy).action).toBe("contain");
  });

  it("contains CryptoCurrency findings at any severity by default", () => {
    const finding = instanceFinding({ type: "CryptoCurrency:EC2/BitcoinTool.B!DNS", severity: 2 });
    expect(routeFinding(finding, defaults).action).toBe("contain");
  });

  it("checks the resource type before anything else", () => {
    const decision = routeFinding(
      { ...instanceFinding({ type: "Backdoor:Lambda/C&CActivity.B", severity: 9 }), resourceType: "Lambda" },
      defaults,
    );
    expect(decision.action).toBe("ignore");
    expect(decision.reason).toContain("Lambda");
  });

  it("never contains an Instance finding without an instance id", () => {
    expect(routeFinding(instanceFinding({ severity: 9, instanceId: undefined }), defaults).action).toBe(
      "ignore",
    );
  });

  it("ignores samples and archived findings before overrides, unless allowed", () => {
    const backdoor = { type: "Backdoor:EC2/Spambot", severity: 9 };
    expect(routeFinding(instanceFinding({ ...backdoor, sample: true }), defaults).action).toBe("ignore");
    expect(routeFinding(instanceFinding({ ...backdoor, archived: true }), defaults).action).toBe("ignore");
    const lenient = containmentPolicy({ allowSampleFindings: true, allowArchivedFindings: true });
    expect(routeFinding(instanceFinding({ ...backdoor, sample: true, archived: true }), lenient).action).toBe(
      "contain",
    );
  });

  it("explains itself in sentences", () => {
    const findings = [
      instanceFinding({ severity: 9 }),
      instanceFinding({ severity: 5 }),
      instanceFinding({ severity: 1 }),
      instanceFinding({ sample: true }),
      instanceFinding({ archived: true }),
      instanceFinding({ type: "Backdoor:EC2/Spambot" }),
      { ...instanceFinding(), resourceType: "S3Bucket" },
    ];
    for (const finding of findings) expect(routeFinding(finding, defaults).reason).toMatch(/^[A-Z].{20,}\.$/);
  });
});

describe("routeFinding properties", () => {
  const arbitraryFinding = fc.record({
    type: fc.oneof(
      fc.constantFrom("Backdoor:EC2/Spambot", "UnauthorizedAccess:EC2/SSHBruteForce", "Recon:EC2/Portscan"),
      fc.string(),
    ),
    severity: fc.double({ min: 0, max: 10, noNaN: true }),
    resourceType: fc.constantFrom("Instance", "AccessKey", "S3Bucket", "EKSCluster"),
    instanceId: fc.option(fc.constant("i-0123456789abcdef0"), { nil: undefined }),
    resourceRole: fc.option(fc.constantFrom("ACTOR" as const, "TARGET" as const), { nil: undefined }),
    sample: fc.boolean(),
    archived: fc.boolean(),
  });

  it("contains only live, non-sample instance findings, and only by override or severity", () => {
    fc.assert(
      fc.property(arbitraryFinding, (finding) => {
        const decision = routeFinding(finding, defaults);
        if (decision.action !== "contain") return;
        expect(finding.resourceType).toBe("Instance");
        expect(finding.instanceId).toBeDefined();
        expect(finding.sample || finding.archived).toBe(false);
        const byOverride = decision.reason.includes("override");
        expect(byOverride || finding.severity >= defaults.containAtSeverity).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("is monotone in severity when no override applies", () => {
    const rank = { ignore: 0, log: 1, notify: 2, contain: 3 } as const;
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 10, noNaN: true }),
        (a, b) => {
          const [low, high] = a <= b ? [a, b] : [b, a];
          const lowAction = routeFinding(instanceFinding({ severity: low }), defaults).action;
          const highAction = routeFinding(instanceFinding({ severity: high }), defaults).action;
          expect(rank[lowAction]).toBeLessThanOrEqual(rank[highAction]);
        },
      ),
    );
  });
});

describe("finding ids", () => {
  const withId = (id: string) => {
    const event = structuredClone(loadGuardDutyEvent("unauthorizedaccess-ec2-torclient-target.json")) as {
      detail: { id: string };
    };
    event.detail.id = id;
    return parseGuardDutyEvent(event);
  };

  it("accepts ids up to GuardDuty's 300 characters and refuses longer ones, naming the field", () => {
    expect(withId("a".repeat(300)).ok).toBe(true);
    // A longer id would overflow DynamoDB's key limit in the audit trail on every retry.
    const refused = withId(`${" ".repeat(1500)}!${" ".repeat(1500)}!`);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error).toMatch(/^detail\.id: must be at most 300 characters/);
  });
});
