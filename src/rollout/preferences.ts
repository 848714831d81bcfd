import type { RefreshPreferencesPolicy } from "../policy/index.js";
import { formatRefreshProblem, refreshProblems } from "../policy/refresh-rules.js";

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
  /** Always sent: AWS's default (Wait) would stall a refresh for an hour, then fail it. */
  ScaleInProtectedInstances: "Refresh" | "Ignore" | "Wait";
  StandbyInstances: "Terminate" | "Ignore" | "Wait";
}

/** The group settings AWS itself falls back on when no InstanceWarmup is given. */
export interface WarmupSource {
  healthCheckGracePeriod?: number | undefined;
  defaultInstanceWarmup?: number | undefined;
}

export type PreferencesResult =
  | { ok: true; preferences: RefreshPreferences }
  | { ok: false; problems: string[] };

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
  // The policy schema already refused these; a policy built without it (a test, a caller that
  // skipped parsePolicy) is checked again rather than trusted.
  const problems = refreshProblems(refresh).map(formatRefreshProblem);
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
    ScaleInProtectedInstances: refresh.scaleInProtectedInstances,
    StandbyInstances: refresh.standbyInstances,
  };
  if (warmup !== undefined) preferences.InstanceWarmup = warmup;
  // An empty list means "no checkpoints": AWS would reject it, so it is left out instead.
  if (checkpoints.length > 0) preferences.CheckpointPercentages = [...checkpoints];
  if (refresh.checkpointDelay !== undefined) preferences.CheckpointDelay = refresh.checkpointDelay;
  if (refresh.bakeTime !== undefined) preferences.BakeTime = refresh.bakeTime;
  return { ok: true, preferences };
}
