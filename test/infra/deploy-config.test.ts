import { describe, expect, it } from "vitest";
import { phoenixEventRules } from "../../src/events/rules.js";
import { EVENT_TARGETS } from "../../src/events/targets.js";
import { parsePolicy } from "../../src/policy/index.js";
import { deployConfig } from "../../stacks/config.js";

// What stacks/ decides without SST: the policy validated at deploy, and the rules it declares.
// Pattern matching itself (moto's EventBridge against the shared sample events) is
// test/local/events-patterns.test.ts: the stack passes the same objects (stacks/events.ts).

describe("deploy configuration", () => {
  it("refuses a bad policy at deploy, naming the field", () => {
    expect(() =>
      deployConfig({ PHOENIX_POLICY: JSON.stringify({ containment: { containAtSeverity: 11 } }) }),
    ).toThrow(/Phoenix deploy refused: .*policy\.containment\.containAtSeverity/s);
    expect(() => deployConfig({ PHOENIX_POLICY: "{not json" })).toThrow(/PHOENIX_POLICY/);
  });

  it("deploys the safe defaults when no policy is given", () => {
    const config = deployConfig({});
    expect(config.policy).toEqual(parsePolicy({}));
    expect(config.policy.containment.allowSampleFindings).toBe(false);
    expect(config.fleetRoleArns).toEqual([]);
  });

  it("takes fleet roles as role ARNs only", () => {
    const arn = "arn:aws:iam::123456789012:role/fleet/web";
    expect(deployConfig({ PHOENIX_FLEET_ROLE_ARNS: ` ${arn} ,` }).fleetRoleArns).toEqual([arn]);
    expect(() => deployConfig({ PHOENIX_FLEET_ROLE_ARNS: "*" })).toThrow(/PHOENIX_FLEET_ROLE_ARNS/);
  });

  it("declares rules EventBridge accepts: names within 64 characters, targets that exist", () => {
    const policy = parsePolicy({
      containment: { typeOverrides: [{ typePrefix: "UnauthorizedAccess:EC2/", action: "contain" }] },
    });
    for (const rule of phoenixEventRules(policy)) {
      // stacks/events.ts names each rule phoenix-<stage>-<base name>.
      expect(`phoenix-production-${rule.name.replace(/^phoenix-/, "")}`.length).toBeLessThanOrEqual(64);
      expect(Object.keys(EVENT_TARGETS)).toContain(rule.target);
      // What the stack serializes is the object the local cloud uses.
      if (rule.pattern) expect(JSON.parse(JSON.stringify(rule.pattern))).toEqual(rule.pattern);
      else expect(rule.schedule).toMatch(/^rate\(\d+ (minute|hour|day)s?\)$/);
    }
  });
});
