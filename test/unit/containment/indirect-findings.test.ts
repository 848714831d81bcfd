import { describe, expect, it } from "vitest";
import {
  managedScope,
  type RouteDecision,
  routeFinding,
  unmanagedNodeReason,
} from "../../../src/containment/core/route.js";
import { credentialExfiltrationPattern, phoenixEventRules } from "../../../src/events/rules.js";
import { type Finding, parseGuardDutyEvent } from "../../../src/findings/guardduty.js";
import { defaultPolicy, parsePolicy } from "../../../src/policy/index.js";
import { ownSampleEvent, PLACEHOLDER_INSTANCE_ID } from "../../support/sample-events.js";

/** Findings that lead to an instance without being about it (test/fixtures/events/guardduty). */
const LOCAL = managedScope({ accountId: "123456789012", region: "us-east-1" });
const defaults = defaultPolicy().containment;
const optedIn = parsePolicy({ containment: { containClusterNodes: true } }).containment;

function parsed(event: unknown): Finding {
  const result = parseGuardDutyEvent(event);
  if (!result.ok) throw new Error(result.error);
  return result.finding;
}
const sample = (file: string) => parsed(ownSampleEvent("guardduty", file));

describe("credential exfiltration findings", () => {
  for (const file of [
    "credential-exfiltration-outside-aws.json",
    "credential-exfiltration-inside-aws.json",
  ]) {
    it(`${file}: names the instance by its role session, and contains it although it is a TARGET`, () => {
      const finding = sample(file);
      expect(finding.resourceType).toBe("AccessKey");
      expect(finding.resourceRole).toBe("TARGET");
      expect(finding.instanceId).toBe(PLACEHOLDER_INSTANCE_ID);
      expect(finding.indirect).toEqual({
        kind: "credential-exfiltration",
        accessKeyId: "ASIAQZK5EXAMPLE7XKQ2",
        roleName: "web-instance-role",
      });
      const decision = routeFinding(finding, defaults, LOCAL);
      expect(decision.action).toBe("contain");
      expect(decision.reason).toMatch(
        new RegExp(
          `role credentials of instance ${PLACEHOLDER_INSTANCE_ID} were used from (outside AWS|another AWS account)`,
        ),
      );
    });
  }

  it("a session that is not an instance's names no instance, and is ignored with the reason", () => {
    const event = ownSampleEvent("guardduty", "credential-exfiltration-outside-aws.json");
    const detail = event["detail"] as { resource: { accessKeyDetails: { principalId: string } } };
    detail.resource.accessKeyDetails.principalId = "AROAQZK5EXAMPLEROLE01:deploy-pipeline";
    const finding = parsed(event);
    expect(finding.instanceId).toBeUndefined();
    const decision = routeFinding(finding, defaults, LOCAL);
    expect(decision).toMatchObject({
      action: "ignore",
      reason: expect.stringMatching(/not an EC2 instance's/),
    });
  });

  it("a malformed accessKeyDetails is a parse error naming the field", () => {
    const event = ownSampleEvent("guardduty", "credential-exfiltration-outside-aws.json");
    (event["detail"] as { resource: Record<string, unknown> }).resource["accessKeyDetails"] = "nope";
    expect(parseGuardDutyEvent(event)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^detail\.resource\.accessKeyDetails/),
    });
  });

  it("the policy's thresholds and overrides still apply", () => {
    const finding = { ...sample("credential-exfiltration-outside-aws.json"), severity: 5 };
    expect(routeFinding(finding, defaults, LOCAL).action).toBe("notify");
    const notify = parsePolicy({
      containment: {
        typeOverrides: [
          { typePrefix: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration", action: "notify" },
        ],
      },
    }).containment;
    expect(routeFinding(sample("credential-exfiltration-inside-aws.json"), notify, LOCAL).action).toBe(
      "notify",
    );
  });

  it("has a rule of its own: only these AccessKey findings reach on-finding", () => {
    const rules = phoenixEventRules(defaultPolicy());
    const rule = rules.find((r) => r.name === "phoenix-guardduty-credential-leak");
    expect(rule).toMatchObject({ target: "on-finding", pattern: credentialExfiltrationPattern() });
    expect(rule?.pattern?.["detail"]).toEqual({
      resource: { resourceType: ["AccessKey"] },
      type: [{ prefix: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration" }],
    });
  });
});

describe("Runtime Monitoring findings on a cluster's EC2 node", () => {
  for (const [file, cluster] of [
    ["runtime-eks-node.json", "EKSCluster"],
    ["runtime-ecs-node.json", "ECSCluster"],
  ] as const) {
    it(`${file}: names the node; notified unless the policy opts in`, () => {
      const finding = sample(file);
      expect(finding.instanceId).toBe(PLACEHOLDER_INSTANCE_ID);
      expect(finding.indirect).toEqual({ kind: "cluster-node", cluster });
      const off = routeFinding(finding, defaults, LOCAL);
      expect(off).toMatchObject({
        action: "notify",
        reason: expect.stringMatching(/containClusterNodes is false/),
      });
      const on = routeFinding(finding, optedIn, LOCAL);
      expect(on).toMatchObject({ action: "contain", requiresManagedGroup: true });
    });
  }

  it("opted in, contains a node only of a group Phoenix manages", () => {
    const decision = routeFinding(sample("runtime-eks-node.json"), optedIn, LOCAL) as RouteDecision;
    expect(
      unmanagedNodeReason(decision, { name: "nodes", tags: { "phoenix:managed": "true" } }),
    ).toBeUndefined();
    expect(unmanagedNodeReason(decision, { name: "nodes", tags: {} })).toMatch(
      /Auto Scaling group nodes does not carry phoenix:managed=true/,
    );
    expect(unmanagedNodeReason(decision, undefined)).toMatch(/belongs to no Auto Scaling group/);
    // An EC2 instance finding is not subject to it.
    const direct = routeFinding(
      { ...sample("runtime-eks-node.json"), resourceType: "Instance", indirect: undefined } as Finding,
      optedIn,
      LOCAL,
    );
    expect(unmanagedNodeReason(direct, undefined)).toBeUndefined();
  });

  it("a Fargate task (no instanceDetails, null, or no instance id) names no instance", () => {
    for (const details of [undefined, null, { instanceType: "m5.large" }]) {
      const event = ownSampleEvent("guardduty", "runtime-ecs-node.json");
      const resource = (event["detail"] as { resource: Record<string, unknown> }).resource;
      if (details === undefined) delete resource["instanceDetails"];
      else resource["instanceDetails"] = details;
      const decision = routeFinding(parsed(event), optedIn, LOCAL);
      expect(decision).toMatchObject({
        action: "ignore",
        reason: expect.stringMatching(/names no EC2 node/),
      });
    }
    // A node id that is not an instance id is bad input, said so.
    const event = ownSampleEvent("guardduty", "runtime-ecs-node.json", "i-nothex");
    expect(parseGuardDutyEvent(event)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/detail\.resource\.instanceDetails\.instanceId/),
    });
  });

  it("the instance-finding rule delivers cluster findings only once opted in", () => {
    const pattern = (policy: ReturnType<typeof defaultPolicy>) =>
      phoenixEventRules(policy).find((r) => r.name === "phoenix-guardduty-instance-finding")!.pattern?.[
        "detail"
      ];
    expect(pattern(defaultPolicy())).toMatchObject({ resource: { resourceType: ["Instance"] } });
    expect(pattern(parsePolicy({ containment: { containClusterNodes: true } }))).toMatchObject({
      resource: { resourceType: ["Instance", "EKSCluster", "ECSCluster"] },
    });
  });
});
