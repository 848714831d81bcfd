import type { RefreshPreferencesPolicy } from "../../policy/index.js";
import { formatRefreshProblem, MAX_REFRESH_ALARMS, refreshProblems } from "../../policy/refresh-rules.js";
import { TAG_ROLLBACK_ALARMS } from "../../tags.js";

/** The group's own rollback alarms: `phoenix:rollback-alarms`, comma-separated names. */
function groupAlarms(tags: Readonly<Record<string, string>> | undefined): string[] {
  const raw = tags?.[TAG_ROLLBACK_ALARMS];
  if (raw === undefined) return [];
  return raw
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
}

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
  AlarmSpecification?: { Alarms: string[] };
  /** Always sent: AWS's default (Wait) would stall a refresh for an hour, then fail it. */
  ScaleInProtectedInstances: "Refresh" | "Ignore" | "Wait";
  StandbyInstances: "Terminate" | "Ignore" | "Wait";
}

/** What of the group the preferences depend on: the settings AWS falls back on for the warmup, and its tags. */
export interface WarmupSource {
  healthCheckGracePeriod?: number | undefined;
  defaultInstanceWarmup?: number | undefined;
  tags?: Readonly<Record<string, string>>;
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
  const alarms = [...new Set([...(refresh.alarms ?? []), ...groupAlarms(group.tags)])];
  if (alarms.length > MAX_REFRESH_ALARMS) {
    problems.push(
      `${alarms.length} rollback alarms (policy and ${TAG_ROLLBACK_ALARMS}): AWS takes at most ${MAX_REFRESH_ALARMS} per refresh`,
    );
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
  if (alarms.length > 0) preferences.AlarmSpecification = { Alarms: alarms };
  return { ok: true, preferences };
}
