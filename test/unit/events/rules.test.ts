import { describe, expect, it } from "vitest";
import {
  type EventPattern,
  findingOverridePrefixes,
  findingSeverityThreshold,
  guardDutyFindingPattern,
  imageParameterPattern,
  phoenixEventRules,
} from "../../../src/events/rules.js";
import { EVENT_TARGETS } from "../../../src/events/targets.js";
import { defaultPolicy, parsePolicy } from "../../../src/policy/index.js";

// Which events the patterns match is tested through moto's matcher (test/local/events-patterns);
// these tests pin how the patterns follow the policy, and what EventBridge accepts.

function emptyArrays(pattern: EventPattern, at = ""): string[] {
  return Object.entries(pattern).flatMap(([key, value]) => {
    const path = at ? `${at}.${key}` : key;
    if (Array.isArray(value)) {
      if (value.length === 0) return [path];
      return key === "$or"
        ? (value as EventPattern[]).flatMap((p, i) => emptyArrays(p, `${path}[${i}]`))
        : [];
    }
    return emptyArrays(value as EventPattern, path);
  });
}

describe("Phoenix's EventBridge rules", () => {
  it("has one rule per trigger, each with a known target and a name EventBridge accepts", () => {
    const rules = phoenixEventRules(defaultPolicy());
    expect(rules.map((r) => [r.name, r.target])).toEqual([
      ["phoenix-guardduty-instance-finding", "on-finding"],
      ["phoenix-guardduty-credential-leak", "on-finding"],
      ["phoenix-ami-available", "on-image"],
      ["phoenix-imagebuilder-image-available", "on-image"],
      ["phoenix-image-parameter-change", "on-image"],
      ["phoenix-interactive-session", "on-session"],
      ["phoenix-drift-sweep", "sweep"],
      ["phoenix-instance-refresh-lifecycle", "on-refresh-event"],
    ]);
    for (const rule of rules) {
      expect(rule.name).toMatch(/^[.\-_A-Za-z0-9]{1,64}$/);
      expect(rule.description.length).toBeLessThanOrEqual(512);
      expect(Object.keys(EVENT_TARGETS)).toContain(rule.target);
      // EventBridge refuses empty arrays anywhere in a pattern.
      // Each rule has a pattern or a schedule, never both.
      expect(rule.pattern === undefined).toBe(rule.schedule !== undefined);
      expect(emptyArrays(rule.pattern ?? {})).toEqual([]);
      if (rule.pattern) expect(JSON.parse(JSON.stringify(rule.pattern))).toEqual(rule.pattern);
    }
  });

  it("buffers findings and image events in SQS queues and invokes the refresh handler directly", () => {
    expect(EVENT_TARGETS["on-finding"].delivery).toEqual({
      kind: "buffered",
      queue: "finding-buffer",
      maxReceiveCount: 5,
    });
    expect(EVENT_TARGETS["on-image"].delivery).toEqual({
      kind: "buffered",
      queue: "image-buffer",
      maxReceiveCount: 6,
    });
    expect(EVENT_TARGETS["on-refresh-event"].delivery.kind).toBe("direct");
  });

  it("derives the finding severity threshold from the policy", () => {
    expect(findingSeverityThreshold(defaultPolicy().containment)).toBe(4);
    const notify6 = parsePolicy({ containment: { notifyAtSeverity: 6 } }).containment;
    expect(findingSeverityThreshold(notify6)).toBe(6);
    // A policy that contains below its notification threshold still needs those findings.
    const contain3 = parsePolicy({ containment: { notifyAtSeverity: 6, containAtSeverity: 3 } }).containment;
    expect(findingSeverityThreshold(contain3)).toBe(3);
  });

  it("lets type overrides that act bypass the severity filter, and only those", () => {
    const containment = parsePolicy({
      containment: {
        typeOverrides: [
          { typePrefix: "CryptoCurrency:", action: "contain" },
          { typePrefix: "UnauthorizedAccess:EC2/SSHBruteForce", role: "TARGET", action: "notify" },
          { typePrefix: "UnauthorizedAccess:EC2/SSHBruteForce", role: "ACTOR", action: "contain" },
          { typePrefix: "Recon:", action: "ignore" },
          { typePrefix: "Discovery:", action: "log" },
        ],
      },
    }).containment;
    expect(findingOverridePrefixes(containment)).toEqual([
      "CryptoCurrency:",
      "UnauthorizedAccess:EC2/SSHBruteForce",
    ]);
    expect(guardDutyFindingPattern(containment)).toEqual({
      source: ["aws.guardduty"],
      "detail-type": ["GuardDuty Finding"],
      detail: {
        resource: { resourceType: ["Instance"] },
        $or: [
          { severity: [{ numeric: [">=", 4] }] },
          { type: [{ prefix: "CryptoCurrency:" }, { prefix: "UnauthorizedAccess:EC2/SSHBruteForce" }] },
        ],
      },
    });
    const none = parsePolicy({ containment: { typeOverrides: [] } }).containment;
    expect(guardDutyFindingPattern(none).detail).toEqual({
      resource: { resourceType: ["Instance"] },
      severity: [{ numeric: [">=", 4] }],
    });
  });

  it("watches the configured image parameters: prefixes and exact names, created or updated", () => {
    const rollout = parsePolicy({
      rollout: { imageParameters: ["/phoenix/images/", "/golden/web"] },
    }).rollout;
    expect(imageParameterPattern(rollout)).toEqual({
      source: ["aws.ssm"],
      "detail-type": ["Parameter Store Change"],
      detail: {
        name: [{ prefix: "/phoenix/images/" }, "/golden/web"],
        operation: ["Create", "Update"],
        exception: [{ exists: false }],
      },
    });
  });

  it("has no parameter rule when no image parameter is configured", () => {
    const policy = parsePolicy({ rollout: { imageParameters: [] } });
    expect(imageParameterPattern(policy.rollout)).toBeUndefined();
    expect(phoenixEventRules(policy).map((r) => r.name)).not.toContain("phoenix-image-parameter-change");
  });
});
