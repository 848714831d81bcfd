import type { RefreshPreferencesPolicy } from "../policy/index.js";

/**
 * StartInstanceRefresh `Preferences`, with AWS's field names so it can be passed as is
 * (it is assignable to the SDK's RefreshPreferences).
 */
export interface RefreshPreferences {
  MinHealthyPercentage: number;
  MaxHealthyPercentage: number;
  InstanceWarmup?: number;
  SkipMatching: boolean;
  AutoRollback: boolean;
  CheckpointPercentages?: number[];
  CheckpointDelay?: number;
  BakeTime?: number;
}

/** The group settings AWS itself falls back on when no InstanceWarmup is given. */
export interface WarmupSource {
  healthCheckGracePeriod?: number | undefined;
  defaultInstanceWarmup?: number | undefined;
}

export type PreferencesResult =
  | { ok: true; preferences: RefreshPreferences }
  | { ok: false; problems: string[] };

/** AWS's upper bound for CheckpointDelay and BakeTime (48 hours). */
export const MAX_DELAY_SECONDS = 172_800;

const FIELD = "policy.rollout.refresh";

/**
 * Builds the preferences for one group. The warmup, when the policy leaves it unset, is the
 * group's DefaultInstanceWarmup, else its health check grace period: the same order AWS uses,
 * made explicit so the plan shows the value that will apply. Rules AWS enforces only at
 * StartInstanceRefresh time are checked here, so a bad policy fails at plan time, naming the field.
 */
export function buildRefreshPreferences(
  refresh: RefreshPreferencesPolicy,
  group: WarmupSource,
): PreferencesResult {
  const checkpoints = refresh.checkpointPercentages ?? [];
  const problems = [
    ...checkpointProblems(checkpoints),
    ...delayProblems(refresh, checkpoints.length > 0),
    ...rangeProblems(refresh),
  ];
  const warmup = refresh.instanceWarmup ?? group.defaultInstanceWarmup ?? group.healthCheckGracePeriod;
  if (warmup !== undefined && (!Number.isInteger(warmup) || warmup < 0)) {
    problems.push(`instance warmup ${warmup} (from the group) is not a whole number of seconds`);
  }
  if (problems.length > 0) return { ok: false, problems };

  const preferences: RefreshPreferences = {
    MinHealthyPercentage: refresh.minHealthyPercentage,
    MaxHealthyPercentage: refresh.maxHealthyPercentage,
    SkipMatching: refresh.skipMatching,
    AutoRollback: refresh.autoRollback,
  };
  if (warmup !== undefined) preferences.InstanceWarmup = warmup;
  // An empty list means "no checkpoints": AWS would reject it, so it is left out instead.
  if (checkpoints.length > 0) preferences.CheckpointPercentages = [...checkpoints];
  if (refresh.checkpointDelay !== undefined) preferences.CheckpointDelay = refresh.checkpointDelay;
  if (refresh.bakeTime !== undefined) preferences.BakeTime = refresh.bakeTime;
  return { ok: true, preferences };
}

/** AWS: values unique and ascending; Phoenix also needs the last to be 100, or the refresh would stop short. */
export function checkpointProblems(percentages: readonly number[]): string[] {
  const problems: string[] = [];
  const field = `${FIELD}.checkpointPercentages`;
  percentages.forEach((value, index) => {
    if (!Number.isInteger(value) || value < 1 || value > 100) {
      problems.push(`${field}[${index}]: ${value} is not a whole percentage from 1 to 100`);
    }
    const previous = percentages[index - 1];
    if (previous !== undefined && value <= previous) {
      problems.push(`${field}[${index}]: ${value} does not ascend from ${previous}`);
    }
  });
  const last = percentages.at(-1);
  if (last !== undefined && last !== 100)
    problems.push(`${field}: the last checkpoint must be 100, not ${last}`);
  return problems;
}

function delayProblems(refresh: RefreshPreferencesPolicy, hasCheckpoints: boolean): string[] {
  if (refresh.checkpointDelay === undefined || hasCheckpoints) return [];
  return [`${FIELD}.checkpointDelay: set without checkpointPercentages (AWS requires both)`];
}

function rangeProblems(refresh: RefreshPreferencesPolicy): string[] {
  const problems: string[] = [];
  for (const key of ["checkpointDelay", "bakeTime"] as const) {
    const value = refresh[key];
    if (value !== undefined && value > MAX_DELAY_SECONDS) {
      problems.push(`${FIELD}.${key}: ${value} exceeds AWS's maximum of ${MAX_DELAY_SECONDS} seconds`);
    }
  }
  if (refresh.maxHealthyPercentage - refresh.minHealthyPercentage > 100) {
    problems.push(`${FIELD}.maxHealthyPercentage: more than 100 above minHealthyPercentage`);
  }
  return problems;
}
