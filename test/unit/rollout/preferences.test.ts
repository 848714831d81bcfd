import type { RefreshPreferences as SdkRefreshPreferences } from "@aws-sdk/client-auto-scaling";
import { describe, expect, it } from "vitest";
import { parsePolicy, type RefreshPreferencesPolicy } from "../../../src/policy/index.js";
import { refreshProblems } from "../../../src/policy/refresh-rules.js";
import { buildRefreshPreferences } from "../../../src/rollout/core/preferences.js";

const refresh = (overrides: Record<string, unknown> = {}): RefreshPreferencesPolicy =>
  parsePolicy({ rollout: { refresh: overrides } }).rollout.refresh;

/**
 * A policy the schema would refuse, built without it: the planner must refuse it too (and the
 * schema must refuse it first, which `refusedByTheSchema` checks).
 */
const unchecked = (overrides: Record<string, unknown>): RefreshPreferencesPolicy =>
  ({ ...refresh(), ...overrides }) as RefreshPreferencesPolicy;

function refusedByTheSchema(overrides: Record<string, unknown>, message: string): void {
  expect(() => parsePolicy({ rollout: { refresh: overrides } })).toThrow(message);
}
const checkpointProblems = (percentages: number[]) =>
  refreshProblems({
    minHealthyPercentage: 90,
    maxHealthyPercentage: 100,
    checkpointPercentages: percentages,
  }).map((problem) => problem.message);

describe("buildRefreshPreferences", () => {
  it("turns the default policy into safe AWS preferences, warmup from the grace period", () => {
    const result = buildRefreshPreferences(refresh(), { healthCheckGracePeriod: 300 });
    expect(result).toEqual({
      ok: true,
      preferences: {
        MinHealthyPercentage: 90,
        MaxHealthyPercentage: 100,
        InstanceWarmup: 300,
        SkipMatching: true,
        AutoRollback: true,
        ScaleInProtectedInstances: "Refresh",
        StandbyInstances: "Terminate",
      },
    });
  });

  it("is assignable to the SDK's RefreshPreferences", () => {
    const result = buildRefreshPreferences(refresh(), {});
    if (!result.ok) throw new Error("expected preferences");
    const sdk: SdkRefreshPreferences = result.preferences;
    expect(sdk.MinHealthyPercentage).toBe(90);
  });

  it("prefers the group's default instance warmup to its grace period, as AWS does", () => {
    const result = buildRefreshPreferences(refresh(), {
      healthCheckGracePeriod: 300,
      defaultInstanceWarmup: 120,
    });
    expect(result.ok && result.preferences.InstanceWarmup).toBe(120);
  });

  it("lets the policy's warmup win over the group", () => {
    const result = buildRefreshPreferences(refresh({ instanceWarmup: 60 }), { healthCheckGracePeriod: 300 });
    expect(result.ok && result.preferences.InstanceWarmup).toBe(60);
  });

  it("leaves the warmup out when nobody sets one", () => {
    const result = buildRefreshPreferences(refresh(), {});
    expect(result.ok && "InstanceWarmup" in result.preferences).toBe(false);
  });

  it("passes every policy field under its AWS name", () => {
    const policy = refresh({
      minHealthyPercentage: 50,
      maxHealthyPercentage: 150,
      skipMatching: false,
      autoRollback: false,
      checkpointPercentages: [20, 50, 100],
      checkpointDelay: 600,
      bakeTime: 900,
    });
    expect(buildRefreshPreferences(policy, { healthCheckGracePeriod: 30 })).toEqual({
      ok: true,
      preferences: {
        MinHealthyPercentage: 50,
        MaxHealthyPercentage: 150,
        InstanceWarmup: 30,
        SkipMatching: false,
        AutoRollback: false,
        CheckpointPercentages: [20, 50, 100],
        CheckpointDelay: 600,
        BakeTime: 900,
        ScaleInProtectedInstances: "Refresh",
        StandbyInstances: "Terminate",
      },
    });
  });

  it("omits an empty checkpoint list", () => {
    const result = buildRefreshPreferences(refresh({ checkpointPercentages: [] }), {});
    expect(result.ok && "CheckpointPercentages" in result.preferences).toBe(false);
  });

  it("refuses checkpoints that do not ascend or do not end at 100, naming the field", () => {
    const result = buildRefreshPreferences(unchecked({ checkpointPercentages: [50, 20, 100] }), {});
    expect(result).toEqual({
      ok: false,
      problems: ["policy.rollout.refresh.checkpointPercentages[1]: 20 does not ascend from 50"],
    });
    refusedByTheSchema(
      { checkpointPercentages: [50, 20, 100] },
      "policy.rollout.refresh.checkpointPercentages.1: 20 does not ascend from 50",
    );
    const short = buildRefreshPreferences(unchecked({ checkpointPercentages: [25, 50] }), {});
    expect(short).toEqual({
      ok: false,
      problems: [
        "policy.rollout.refresh.checkpointPercentages: the last checkpoint must be 100, not 50 (a refresh would stop short of the whole group)",
      ],
    });
    refusedByTheSchema(
      { checkpointPercentages: [50] },
      "policy.rollout.refresh.checkpointPercentages: the last checkpoint must be 100, not 50",
    );
  });

  it("refuses a checkpoint delay without checkpoints", () => {
    const result = buildRefreshPreferences(unchecked({ checkpointDelay: 60 }), {});
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems[0]).toContain("policy.rollout.refresh.checkpointDelay");
    refusedByTheSchema(
      { checkpointDelay: 60 },
      "policy.rollout.refresh.checkpointDelay: set without checkpointPercentages",
    );
  });

  it("refuses delays beyond AWS's 48 hours", () => {
    const result = buildRefreshPreferences(
      unchecked({ checkpointPercentages: [100], checkpointDelay: 172_801, bakeTime: 172_801 }),
      {},
    );
    refusedByTheSchema(
      { bakeTime: 172_801 },
      "policy.rollout.refresh.bakeTime: 172801 exceeds AWS's maximum",
    );
    expect(!result.ok && result.problems).toEqual([
      "policy.rollout.refresh.checkpointDelay: 172801 exceeds AWS's maximum of 172800 seconds",
      "policy.rollout.refresh.bakeTime: 172801 exceeds AWS's maximum of 172800 seconds",
    ]);
    expect(buildRefreshPreferences(refresh({ bakeTime: 172_800 }), {}).ok).toBe(true);
  });

  it("refuses a group warmup that is not whole seconds", () => {
    expect(buildRefreshPreferences(refresh(), { healthCheckGracePeriod: -1 }).ok).toBe(false);
  });
});

describe("the checkpoint rules (src/policy/refresh-rules.ts)", () => {
  it.each([[[100]], [[1, 100]], [[10, 20, 30, 100]]])("accepts %j", (percentages) => {
    expect(checkpointProblems(percentages)).toEqual([]);
  });

  it.each([
    [[50, 50, 100], "does not ascend"],
    [[100, 100], "does not ascend"],
    [[0, 100], "not a whole percentage"],
    [[50, 101], "not a whole percentage"],
    [[12.5, 100], "not a whole percentage"],
    [[10, 90], "must be 100"],
  ])("refuses %j (%s)", (percentages, problem) => {
    expect(checkpointProblems(percentages).join("\n")).toContain(problem);
  });
});

describe("rollback alarms and per-family preferences", () => {
  it("sends the policy's alarms and the group's own (phoenix:rollback-alarms) as one AlarmSpecification", () => {
    const result = buildRefreshPreferences(refresh({ alarms: ["fleet-5xx", "latency"] }), {
      tags: { "phoenix:rollback-alarms": " checkout-errors ,latency,," },
    });
    expect(result.ok && result.preferences.AlarmSpecification).toEqual({
      Alarms: ["fleet-5xx", "latency", "checkout-errors"],
    });
  });

  it("sends no AlarmSpecification when there are no alarms", () => {
    const result = buildRefreshPreferences(refresh(), { tags: {} });
    expect(result.ok && "AlarmSpecification" in result.preferences).toBe(false);
  });

  it("refuses more than AWS's 10 alarms, naming the tag", () => {
    const tags = { "phoenix:rollback-alarms": Array.from({ length: 11 }, (_, i) => `a${i}`).join(",") };
    const result = buildRefreshPreferences(refresh(), { tags });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.join()).toMatch(
      /11 rollback alarms .*phoenix:rollback-alarms.*at most 10/,
    );
    refusedByTheSchema({ alarms: Array.from({ length: 11 }, (_, i) => `a${i}`) }, "alarms");
  });

  it("a family's override applies on top of rollout.refresh for that family only", async () => {
    const { familyRefresh } = await import("../../../src/policy/family.js");
    const rollout = parsePolicy({
      rollout: {
        refresh: { alarms: ["global"], minHealthyPercentage: 80 },
        families: { web: { refresh: { alarms: ["web-5xx"], checkpointPercentages: [20, 100] } } },
      },
    }).rollout;
    expect(familyRefresh(rollout, "web")).toMatchObject({
      alarms: ["web-5xx"],
      checkpointPercentages: [20, 100],
      minHealthyPercentage: 80,
    });
    expect(familyRefresh(rollout, "api")).toMatchObject({ alarms: ["global"], minHealthyPercentage: 80 });
    expect(familyRefresh(rollout, "api").checkpointPercentages).toBeUndefined();
  });

  it("checks a family's merged preferences against AWS's rules, naming the family's field", () => {
    expect(() =>
      parsePolicy({ rollout: { families: { web: { refresh: { checkpointPercentages: [50] } } } } }),
    ).toThrow("policy.rollout.families.web.refresh.checkpointPercentages: the last checkpoint must be 100");
    expect(() => parsePolicy({ rollout: { families: { web: { refresh: { speed: 1 } } } } })).toThrow(
      "policy.rollout.families.web.refresh.speed: unknown field",
    );
  });
});
