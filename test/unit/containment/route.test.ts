import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isManaged,
  type ManagedScope,
  managedScope,
  ownAccountProblem,
  type RoutableFinding,
  routeFinding as routeIn,
  scopeOf,
} from "../../../src/containment/core/route.js";
import { type Finding, parseGuardDutyEvent } from "../../../src/findings/guardduty.js";
import { type ContainmentPolicy, defaultPolicy, parsePolicy } from "../../../src/policy/index.js";
import { loadGuardDutyEvent, sampleEventFiles } from "../../support/sample-events.js";

const defaults = defaultPolicy().containment;
const containmentPolicy = (containment: Record<string, unknown>): ContainmentPolicy =>
  parsePolicy({ containment }).containment;

function sampleFinding(file: string): Finding {
  const result = parseGuardDutyEvent(loadGuardDutyEvent(file));
  if (!result.ok) throw new Error(result.error);
  return result.finding;
}

/** Phoenix on the local cloud: the one account and region it manages. */
const LOCAL: ManagedScope = managedScope({ accountId: "123456789012", region: "us-east-1" });

/**
 * The published samples come from many accounts: the policy tests route each as if Phoenix
 * managed the accounts and regions it claims (the scope has tests of its own below).
 */
const ownScope = (finding: RoutableFinding): ManagedScope => {
  const regions = [finding.region, ...(finding.eventRegion ? [finding.eventRegion] : [])];
  const accounts = [finding.accountId, ...(finding.eventAccount ? [finding.eventAccount] : [])];
  // The envelope's account is Phoenix's own here (the GuardDuty administrator's bus).
  return scopeOf(
    accounts.map((accountId) => ({ accountId, regions })),
    finding.eventAccount ?? finding.accountId,
  );
};
const routeFinding = (finding: RoutableFinding, policy: ContainmentPolicy) =>
  routeIn(finding, policy, ownScope(finding));

const instanceFinding = (overrides: Partial<RoutableFinding> = {}): RoutableFinding => ({
  type: "Recon:EC2/Portscan",
  severity: 5,
  resourceType: "Instance",
  instanceId: "i-0123456789abcdef0",
  resourceRole: "ACTOR",
  sample: false,
  archived: false,
  accountId: "123456789012",
  region: "us-east-1",
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
    // Severity 8, but the instance is only the TARGET of internet scanners: notified, not contained.
    "recon-ec2-portprobeemrunprotectedport-target.json": "notify",
    "recon-ec2-portprobeunprotectedport-target.json": "log",
    "recon-ec2-portscan-actor.json": "ignore", // archived
    "recon-iamuser-maliciousipcaller-custom.json": "ignore",
    "trojan-ec2-blackholetraffic-target.json": "notify",
    "trojan-ec2-dgadomainrequest-b-actor-2018.json": "contain",
    "trojan-ec2-dgadomainrequest-b-actor.json": "contain",
    "trojan-ec2-dnsdataexfiltration-actor.json": "contain",
    "trojan-ec2-droppoint-target.json": "notify",
    "unauthorizedaccess-ec2-maliciousipcaller-custom-target.json": "notify",
    "unauthorizedaccess-ec2-metadatadnsrebind-target.json": "contain", // TARGET, a named type
    "unauthorizedaccess-ec2-rdpbruteforce-target.json": "notify", // severity 2, TARGET override
    "unauthorizedaccess-ec2-sshbruteforce-target.json": "notify", // severity 2, TARGET override
    "unauthorizedaccess-ec2-torclient-target.json": "contain", // TARGET, a named type
    "unauthorizedaccess-ec2-torrelay-target.json": "contain", // TARGET, a named type
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
    accountId: fc.constant("123456789012"),
    region: fc.constant("us-east-1"),
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
        // Severity alone never contains a mere TARGET: an override or a named type does.
        if (finding.resourceRole === "TARGET" && !byOverride)
          expect(defaults.containTargetTypes.some((prefix) => finding.type.startsWith(prefix))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("never acts on a finding whose accounts or regions are not all managed", () => {
    const account = fc.constantFrom("123456789012", "999999999999");
    const region = fc.constantFrom("us-east-1", "eu-west-1");
    const claims = fc.record({
      accountId: account,
      region,
      eventAccount: fc.option(account, { nil: undefined }),
      eventRegion: fc.option(region, { nil: undefined }),
    });
    fc.assert(
      fc.property(arbitraryFinding, claims, (finding, claim) => {
        const decision = routeIn({ ...finding, ...claim }, defaults, LOCAL);
        const managed =
          claim.accountId === "123456789012" &&
          claim.region === "us-east-1" &&
          (claim.eventAccount ?? "123456789012") === "123456789012" &&
          (claim.eventRegion ?? "us-east-1") === "us-east-1";
        expect(decision.action === "refuse").toBe(!managed);
      }),
      { numRuns: 500 },
    );
  });

  it("is monotone in severity when no override applies", () => {
    const rank = { refuse: -1, ignore: 0, log: 1, notify: 2, contain: 3 } as const;
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

/** A real-shaped finding (not a sample) on the local cloud's own account and region, overridden. */
const local = (overrides: Partial<RoutableFinding> = {}): RoutableFinding => ({
  ...sampleFinding("unauthorizedaccess-ec2-torclient-target.json"),
  sample: false,
  accountId: "123456789012",
  region: "us-east-1",
  eventAccount: "123456789012",
  eventRegion: "us-east-1",
  ...overrides,
});

describe("routeFinding on accounts and regions Phoenix does not manage", () => {
  it("contains a managed finding, on the account it verified", () => {
    const decision = routeIn(local(), defaults, LOCAL);
    expect(decision).toMatchObject({ action: "contain", accountId: "123456789012" });
  });

  it("refuses a finding for another account and region, naming both, whatever its severity", () => {
    const decision = routeIn(local({ accountId: "999999999999", region: "eu-west-1" }), defaults, LOCAL);
    expect(decision.action).toBe("refuse");
    expect(decision.reason).toContain(
      "for account 999999999999 (detail.accountId) and region eu-west-1 (the finding's region), which Phoenix does not manage",
    );
    expect(decision.reason).toContain("it manages account 123456789012 in us-east-1)");
    expect(decision.reason).toMatch(/^[A-Z].{20,}\.$/);
    expect(decision).not.toHaveProperty("accountId");
  });

  it.each([
    ["detail.accountId", { accountId: "999999999999" }, "999999999999"],
    ["detail.region", { region: "eu-west-1" }, "eu-west-1"],
    ["the envelope's account", { eventAccount: "999999999999" }, "999999999999"],
    ["the envelope's region", { eventRegion: "eu-west-1" }, "eu-west-1"],
  ] as const)("refuses when only %s is not managed", (_, overrides, named) => {
    const decision = routeIn(local(overrides), defaults, LOCAL);
    expect(decision.action).toBe("refuse");
    expect(decision.reason).toContain(named);
  });

  it("refuses before anything else: overrides, samples, resource types", () => {
    const other = { accountId: "999999999999" };
    for (const finding of [
      local({ ...other, type: "Backdoor:EC2/Spambot" }),
      local({ ...other, sample: true }),
      local({ ...other, resourceType: "S3Bucket" }),
    ])
      expect(routeIn(finding, defaults, LOCAL).action).toBe("refuse");
  });

  it("refuses the published sample from account 000000000000 in eu-west-1", () => {
    const finding = { ...sampleFinding("trojan-ec2-dgadomainrequest-b-actor-2018.json"), sample: false };
    const decision = routeIn(finding, defaults, LOCAL);
    expect(decision.action).toBe("refuse");
    expect(decision.reason).toContain(
      "account 000000000000 (detail.accountId, the event's account) and region eu-west-1 (the finding's region, the event's region)",
    );
  });

  it("refuses everything when Phoenix does not know its own account", () => {
    const decision = routeIn(local(), defaults, managedScope({ accountId: "", region: "us-east-1" }));
    expect(decision.action).toBe("refuse");
    expect(decision.reason).toContain("account(s) none");
  });

  it("is one pure rule that takes lists (member accounts, later)", () => {
    const scope = scopeOf([
      { accountId: "123456789012", regions: ["us-east-1"] },
      { accountId: "210987654321", regions: ["us-east-1"], roleName: "phoenix-member" },
    ]);
    expect(isManaged(scope, "210987654321", "us-east-1")).toBe(true);
    expect(isManaged(scope, "210987654321", "eu-west-1")).toBe(false);
    expect(isManaged(scope, "999999999999", "us-east-1")).toBe(false);
    expect(isManaged(LOCAL, "123456789012", "us-east-1")).toBe(true);
    const member = routeIn(local({ accountId: "210987654321" }), defaults, scope);
    expect(member).toMatchObject({ action: "contain", accountId: "210987654321" });
  });
});

describe("routeFinding across member accounts (the policy's accounts)", () => {
  const scope = managedScope({
    accountId: "123456789012",
    region: "us-east-1",
    policy: {
      accounts: [
        { accountId: "222222222222", regions: ["us-east-1", "eu-west-1"], roleName: "phoenix-member" },
        { accountId: "333333333333", regions: ["eu-west-1"], roleName: "custom" },
      ],
    },
  });

  it("lists Phoenix's own account first, in its own region, with no role; members with theirs", () => {
    expect(scope.members).toEqual([
      { accountId: "123456789012", regions: ["us-east-1"] },
      { accountId: "222222222222", regions: ["us-east-1", "eu-west-1"], roleName: "phoenix-member" },
      { accountId: "333333333333", regions: ["eu-west-1"], roleName: "custom" },
    ]);
    expect(isManaged(scope, "333333333333", "us-east-1")).toBe(false);
    expect(isManaged(scope, "123456789012", "eu-west-1")).toBe(false);
  });

  it.each([
    ["the GuardDuty administrator's bus (Phoenix's), in Phoenix's region", "123456789012", "us-east-1"],
    ["the member's own bus, in its region", "333333333333", "eu-west-1"],
  ])("contains a member's finding delivered by %s", (_, eventAccount, eventRegion) => {
    const finding = local({ accountId: "333333333333", region: "eu-west-1", eventAccount, eventRegion });
    expect(routeIn(finding, defaults, scope)).toMatchObject({ action: "contain", accountId: "333333333333" });
  });

  it("refuses a member's finding in a region not listed for that member, naming both", () => {
    const decision = routeIn(local({ accountId: "333333333333", region: "us-east-1" }), defaults, scope);
    expect(decision.action).toBe("refuse");
    expect(decision.reason).toContain("region us-east-1 (the finding's region) of account 333333333333");
    expect(decision.reason).toContain("account 333333333333 in eu-west-1");
  });

  it.each([
    ["an account that is not listed", "999999999999"],
    ["a third account, even a managed one", "333333333333"],
  ])("refuses a member's finding put on the bus by %s", (_, bus) => {
    const decision = routeIn(
      local({ accountId: "222222222222", region: "eu-west-1", eventAccount: bus }),
      defaults,
      scope,
    );
    expect(decision.action).toBe("refuse");
    expect(decision.reason).toContain(`account ${bus} (the event's account)`);
  });

  it("refuses, at deploy, Phoenix's own account listed in other regions (its grants are its region's)", () => {
    const self = { accountId: "123456789012", region: "us-east-1" };
    const own = (regions: string[]) => ({ accounts: [{ accountId: "123456789012", regions }] });
    expect(ownAccountProblem(own(["us-east-1"]), self)).toBeUndefined();
    expect(ownAccountProblem(own(["us-east-1", "eu-west-1"]), self)).toMatch(
      /lists 123456789012, the account Phoenix is deployed in, with region\(s\) eu-west-1/,
    );
    // At run time such an entry adds nothing: fail closed.
    const scope = managedScope({
      ...self,
      policy: { accounts: [{ ...own(["eu-west-1"]).accounts[0]!, roleName: "phoenix-member" }] },
    });
    expect(isManaged(scope, "123456789012", "eu-west-1")).toBe(false);
  });
});

describe("routeFinding on an instance that is only the TARGET", () => {
  const emrProbe = () => ({
    ...sampleFinding("recon-ec2-portprobeemrunprotectedport-target.json"),
    sample: false,
  });

  it("notifies a high-severity port probe by default, and says why", () => {
    const finding = emrProbe();
    expect(finding).toMatchObject({ severity: 8, resourceRole: "TARGET" });
    const decision = routeFinding(finding, defaults);
    expect(decision.action).toBe("notify");
    expect(decision.reason).toContain("TARGET");
    expect(decision.reason).toContain("containment.containTargetTypes");
  });

  it("contains it once the policy names the type", () => {
    const policy = containmentPolicy({ containTargetTypes: ["Recon:EC2/PortProbeEMRUnprotectedPort"] });
    const decision = routeFinding(emrProbe(), policy);
    expect(decision.action).toBe("contain");
    expect(decision.reason).toContain('"Recon:EC2/PortProbeEMRUnprotectedPort"');
  });

  it("contains it when an override with role TARGET says contain (the policy naming the type)", () => {
    const policy = containmentPolicy({
      typeOverrides: [{ typePrefix: "Recon:EC2/PortProbe", role: "TARGET", action: "contain" }],
    });
    expect(routeFinding(emrProbe(), policy).action).toBe("contain");
  });

  it("contains the default named types as TARGET, and notifies them once the list is emptied", () => {
    expect(defaults.containTargetTypes).toEqual([
      "UnauthorizedAccess:EC2/MetadataDNSRebind",
      "UnauthorizedAccess:EC2/TorClient",
      "UnauthorizedAccess:EC2/TorRelay",
      "Trojan:EC2/",
    ]);
    const none = containmentPolicy({ containTargetTypes: [] });
    for (const file of [
      "unauthorizedaccess-ec2-metadatadnsrebind-target.json",
      "unauthorizedaccess-ec2-torclient-target.json",
      "unauthorizedaccess-ec2-torrelay-target.json",
    ]) {
      const finding = { ...sampleFinding(file), sample: false };
      expect(finding.resourceRole).toBe("TARGET");
      expect(routeFinding(finding, defaults).action).toBe("contain");
      expect(routeFinding(finding, none).action).toBe("notify");
    }
    const trojan = instanceFinding({ type: "Trojan:EC2/DropPoint!DNS", severity: 8, resourceRole: "TARGET" });
    expect(routeFinding(trojan, defaults).action).toBe("contain");
  });

  it("leaves ACTOR findings, and findings that name no role, to severity", () => {
    const probe = { type: "Recon:EC2/PortProbeEMRUnprotectedPort", severity: 8 };
    expect(routeFinding(instanceFinding({ ...probe, resourceRole: "ACTOR" }), defaults).action).toBe(
      "contain",
    );
    expect(routeFinding(instanceFinding({ ...probe, resourceRole: undefined }), defaults).action).toBe(
      "contain",
    );
  });

  it("keeps a low-severity TARGET where severity puts it", () => {
    const finding = instanceFinding({ type: "Recon:EC2/PortProbeUnprotectedPort", resourceRole: "TARGET" });
    expect(routeFinding({ ...finding, severity: 5 }, defaults).action).toBe("notify");
    expect(routeFinding({ ...finding, severity: 2 }, defaults).action).toBe("log");
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
