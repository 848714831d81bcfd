import type { RefreshPreferences as SdkRefreshPreferences } from "@aws-sdk/client-auto-scaling";
import { describe, expect, it } from "vitest";
import { parsePolicy, type RefreshPreferencesPolicy } from "../../../src/policy/index.js";
import { buildRefreshPreferences, checkpointProblems } from "../../../src/rollout/preferences.js";

const refresh = (overrides: Record<string, unknown> = {}): RefreshPreferencesPolicy =>
  parsePolicy({ rollout: { refresh: overrides } }).rollout.refresh;

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
      },
    });
  });

  it("omits an empty checkpoint list", () => {
    const result = buildRefreshPreferences(refresh({ checkpointPercentages: [] }), {});
    expect(result.ok && "CheckpointPercentages" in result.preferences).toBe(false);
  });

  it("refuses checkpoints that do not ascend or do not end at 100, naming the field", () => {
    const result = buildRefreshPreferences(refresh({ checkpointPercentages: [50, 20, 100] }), {});
    expect(result).toEqual({
      ok: false,
      problems: ["policy.rollout.refresh.checkpointPercentages[1]: 20 does not ascend from 50"],
    });
    const short = buildRefreshPreferences(refresh({ checkpointPercentages: [25, 50] }), {});
    expect(short).toEqual({
      ok: false,
      problems: ["policy.rollout.refresh.checkpointPercentages: the last checkpoint must be 100, not 50"],
    });
  });

  it("refuses a checkpoint delay without checkpoints", () => {
    const result = buildRefreshPreferences(refresh({ checkpointDelay: 60 }), {});
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems[0]).toContain("policy.rollout.refresh.checkpointDelay");
  });

  it("refuses delays beyond AWS's 48 hours", () => {
    const result = buildRefreshPreferences(
      refresh({ checkpointPercentages: [100], checkpointDelay: 172_801, bakeTime: 172_801 }),
      {},
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

describe("checkpointProblems", () => {
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
