import { randomUUID } from "node:crypto";

/**
 * The instance refreshes of every Auto Scaling group, as plain data and a state machine: no HTTP,
 * no moto. The engine moves refreshes through their statuses; the wire renders them.
 */

export type RefreshStatus =
  | "Pending"
  | "InProgress"
  | "Baking"
  | "Successful"
  | "Failed"
  | "Cancelling"
  | "Cancelled"
  | "RollbackInProgress"
  | "RollbackSuccessful"
  | "RollbackFailed";

/** Statuses in which a refresh still holds its group: a second StartInstanceRefresh is refused. */
const ACTIVE: ReadonlySet<RefreshStatus> = new Set([
  "Pending",
  "InProgress",
  "Baking",
  "Cancelling",
  "RollbackInProgress",
]);

/** Which status may follow which; anything else is a bug in the engine, not a user error. */
const NEXT: Record<RefreshStatus, readonly RefreshStatus[]> = {
  Pending: ["InProgress", "Failed", "Cancelling", "RollbackInProgress"],
  InProgress: ["Baking", "Successful", "Failed", "Cancelling", "RollbackInProgress"],
  Baking: ["Successful", "Failed", "Cancelling", "RollbackInProgress"],
  Cancelling: ["Cancelled"],
  RollbackInProgress: ["RollbackSuccessful", "RollbackFailed", "Cancelling"],
  Successful: [],
  Failed: [],
  Cancelled: [],
  RollbackSuccessful: [],
  RollbackFailed: [],
};

export function isActive(status: RefreshStatus): boolean {
  return ACTIVE.has(status);
}

export interface LaunchTemplateSpec {
  LaunchTemplateId?: string;
  LaunchTemplateName?: string;
  /** A version number, `$Latest` or `$Default`; absent means `$Default`. */
  Version?: string;
}

/** True for a version AWS accepts for rollback: a number, not `$Latest`/`$Default`/absent. */
export function isNumberedVersion(version: string | undefined): boolean {
  return version !== undefined && /^[1-9][0-9]*$/.test(version);
}

export interface RefreshPreferences {
  MinHealthyPercentage?: number;
  MaxHealthyPercentage?: number;
  InstanceWarmup?: number;
  CheckpointPercentages?: number[];
  CheckpointDelay?: number;
  SkipMatching?: boolean;
  AutoRollback?: boolean;
  ScaleInProtectedInstances?: "Refresh" | "Ignore" | "Wait";
  StandbyInstances?: "Terminate" | "Ignore" | "Wait";
  AlarmSpecification?: { Alarms: string[] };
  BakeTime?: number;
}

/**
 * A MixedInstancesPolicy as the API shapes it (LaunchTemplate.LaunchTemplateSpecification,
 * LaunchTemplate.Overrides, InstancesDistribution): kept as given, rendered back as given.
 */
export interface MixedInstancesPolicy {
  LaunchTemplate?: { LaunchTemplateSpecification?: LaunchTemplateSpec; Overrides?: unknown[] };
  InstancesDistribution?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Either a launch template or a mixed instances policy ("you must specify either", API reference). */
export interface DesiredConfiguration {
  LaunchTemplate?: LaunchTemplateSpec;
  MixedInstancesPolicy?: MixedInstancesPolicy;
}

/** The launch template a configuration launches from, wherever it names it. */
export function templateOf(config: DesiredConfiguration | undefined): LaunchTemplateSpec | undefined {
  return config?.LaunchTemplate ?? config?.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
}

/**
 * The policy a mixed desired configuration gives the group: what it names, and for what it
 * leaves out (Overrides, InstancesDistribution) the group's current values, which AWS keeps.
 */
export function mergedPolicy(
  current: MixedInstancesPolicy | undefined,
  desired: MixedInstancesPolicy,
): MixedInstancesPolicy {
  const overrides = desired.LaunchTemplate?.Overrides ?? current?.LaunchTemplate?.Overrides;
  const distribution = desired.InstancesDistribution ?? current?.InstancesDistribution;
  return {
    ...current,
    ...desired,
    LaunchTemplate: {
      ...(desired.LaunchTemplate?.LaunchTemplateSpecification
        ? { LaunchTemplateSpecification: desired.LaunchTemplate.LaunchTemplateSpecification }
        : {}),
      ...(overrides ? { Overrides: overrides } : {}),
    },
    ...(distribution ? { InstancesDistribution: distribution } : {}),
  };
}

export interface RollbackDetails {
  RollbackReason: string;
  /** Simulated epoch milliseconds. */
  RollbackStartTime: number;
  PercentageCompleteOnRollback: number;
  InstancesToUpdateOnRollback: number;
}

/** LivePoolProgress / WarmPoolProgress of ProgressDetails (API reference, InstanceRefreshProgressDetails). */
export interface PoolProgress {
  PercentageComplete: number;
  InstancesToUpdate: number;
}

/** Instances of one pool the refresh is to update, and how many it has. */
export interface PoolCount {
  updated: number;
  total: number;
}

/** One instance refresh, with AWS's field names (times are simulated epoch milliseconds). */
export interface InstanceRefresh {
  InstanceRefreshId: string;
  AutoScalingGroupName: string;
  Status: RefreshStatus;
  StatusReason?: string;
  StartTime: number;
  EndTime?: number;
  PercentageComplete: number;
  InstancesToUpdate: number;
  Preferences: RefreshPreferences;
  DesiredConfiguration?: DesiredConfiguration;
  RollbackDetails?: RollbackDetails;
  /** ProgressDetails.LivePoolProgress; the overall figures when absent (a group without a warm pool). */
  LivePoolProgress?: PoolProgress;
  /** ProgressDetails.WarmPoolProgress, for a group that had a warm pool when the refresh started. */
  WarmPoolProgress?: PoolProgress;
  /** With a warm pool: each pool's counts, PercentageComplete being over both. */
  pools?: { live: PoolCount; warm: PoolCount };
  Strategy: "Rolling";
  /** The group's launch template when the refresh started (its policy's, for a mixed group). */
  previousLaunchTemplate?: LaunchTemplateSpec;
  /** A mixed group's policy when the refresh started: what a rollback or failure restores. */
  previousMixedPolicy?: MixedInstancesPolicy;
}

/** An AWS error the API answers with (code as on the wire, e.g. `InstanceRefreshInProgress`). */
export class RefreshApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = "RefreshApiError";
  }
}

export interface NewRefresh {
  groupName: string;
  preferences: RefreshPreferences;
  desiredConfiguration?: DesiredConfiguration;
  previousLaunchTemplate?: LaunchTemplateSpec;
  previousMixedPolicy?: MixedInstancesPolicy;
  instancesToUpdate: number;
  /** With a warm pool: its instances to update (instancesToUpdate counting the live pool only). */
  warmInstancesToUpdate?: number;
}

export class RefreshBook {
  /** Per group, newest first (DescribeInstanceRefreshes answers in that order). */
  private readonly byGroup = new Map<string, InstanceRefresh[]>();
  private readonly byId = new Map<string, InstanceRefresh>();

  constructor(
    private readonly now: () => number,
    private readonly newId: () => string = randomUUID,
  ) {}

  /** Records a Pending refresh; refused while the group has an active one, as AWS does. */
  create(request: NewRefresh): InstanceRefresh {
    const current = this.active(request.groupName);
    if (current) {
      throw new RefreshApiError(
        "InstanceRefreshInProgress",
        `An Instance Refresh is already in progress and blocks the execution of this Instance Refresh (${current.InstanceRefreshId}).`,
      );
    }
    const refresh: InstanceRefresh = {
      InstanceRefreshId: this.newId(),
      AutoScalingGroupName: request.groupName,
      Status: "Pending",
      StartTime: this.now(),
      PercentageComplete: 0,
      InstancesToUpdate: request.instancesToUpdate,
      Preferences: request.preferences,
      Strategy: "Rolling",
      ...(request.desiredConfiguration ? { DesiredConfiguration: request.desiredConfiguration } : {}),
      ...(request.previousLaunchTemplate ? { previousLaunchTemplate: request.previousLaunchTemplate } : {}),
      ...(request.previousMixedPolicy ? { previousMixedPolicy: request.previousMixedPolicy } : {}),
    };
    if (request.warmInstancesToUpdate !== undefined) {
      refresh.pools = {
        live: { updated: 0, total: request.instancesToUpdate },
        warm: { updated: 0, total: request.warmInstancesToUpdate },
      };
      derivePoolProgress(refresh);
    }
    this.byGroup.set(request.groupName, [refresh, ...(this.byGroup.get(request.groupName) ?? [])]);
    this.byId.set(refresh.InstanceRefreshId, refresh);
    return refresh;
  }

  get(id: string): InstanceRefresh | undefined {
    return this.byId.get(id);
  }

  active(groupName: string): InstanceRefresh | undefined {
    return this.byGroup.get(groupName)?.find((r) => isActive(r.Status));
  }

  /** Newest first; only the given ids when some are given. */
  list(groupName: string, ids: string[] = []): InstanceRefresh[] {
    const all = this.byGroup.get(groupName) ?? [];
    return ids.length === 0 ? [...all] : all.filter((r) => ids.includes(r.InstanceRefreshId));
  }

  all(): InstanceRefresh[] {
    return [...this.byId.values()];
  }

  transition(id: string, to: RefreshStatus, reason?: string): InstanceRefresh {
    const refresh = this.require(id);
    if (!NEXT[refresh.Status].includes(to)) {
      throw new Error(`instance refresh ${id}: ${refresh.Status} cannot become ${to}`);
    }
    refresh.Status = to;
    if (reason !== undefined) refresh.StatusReason = reason;
    if (!isActive(to)) refresh.EndTime = this.now();
    return refresh;
  }

  setReason(id: string, reason: string | undefined): void {
    const refresh = this.require(id);
    if (reason === undefined) delete refresh.StatusReason;
    else refresh.StatusReason = reason;
  }

  /** The overall figures as given (and the live pool's, with a warm pool): a rollback's countdown. */
  setProgress(id: string, percentageComplete: number, instancesToUpdate: number): void {
    const refresh = this.require(id);
    refresh.PercentageComplete = clampPercentage(percentageComplete);
    refresh.InstancesToUpdate = Math.max(0, instancesToUpdate);
    if (refresh.LivePoolProgress) {
      refresh.LivePoolProgress = {
        PercentageComplete: refresh.PercentageComplete,
        InstancesToUpdate: refresh.InstancesToUpdate,
      };
    }
  }

  /** The warm pool's figures as given (a rollback's countdown); the overall ones are left alone. */
  setWarmProgress(id: string, percentageComplete: number, instancesToUpdate: number): void {
    const refresh = this.require(id);
    if (!refresh.WarmPoolProgress) return;
    refresh.WarmPoolProgress = {
      PercentageComplete: clampPercentage(percentageComplete),
      InstancesToUpdate: Math.max(0, instancesToUpdate),
    };
  }

  /**
   * Progress of a forward pass as counts: one pool's `updated` of `total`. Without a warm pool
   * these are the overall figures; with one, PercentageComplete is over both pools.
   */
  setPoolCounts(id: string, pool: "live" | "warm", updated: number, total: number): void {
    const refresh = this.require(id);
    if (!refresh.pools) {
      if (pool === "live") this.setProgress(id, percentageOf(updated, total), total - updated);
      return;
    }
    refresh.pools[pool] = { updated: Math.max(0, updated), total: Math.max(0, total) };
    derivePoolProgress(refresh);
  }

  /** The refresh CancelInstanceRefresh would cancel, now Cancelling. */
  cancel(groupName: string): InstanceRefresh {
    const refresh = this.active(groupName);
    if (!refresh || refresh.Status === "Cancelling") {
      throw new RefreshApiError(
        "ActiveInstanceRefreshNotFound",
        `No in progress or pending Instance Refresh found for Auto Scaling group ${groupName}`,
      );
    }
    return this.transition(refresh.InstanceRefreshId, "Cancelling");
  }

  /**
   * Starts rolling back the group's active refresh, with AWS's preconditions: there must be one
   * that is not already rolling back or cancelling, and it must be reversible (a desired
   * configuration with a numbered launch template version, from a group on a numbered version).
   */
  rollback(groupName: string, reason: string): InstanceRefresh {
    const refresh = this.active(groupName);
    if (!refresh || refresh.Status === "Cancelling" || refresh.Status === "RollbackInProgress") {
      throw new RefreshApiError(
        "ActiveInstanceRefreshNotFound",
        `No in progress or pending Instance Refresh found for Auto Scaling group ${groupName}`,
      );
    }
    const irreversible = irreversibleReason(refresh);
    if (irreversible) throw new RefreshApiError("IrreversibleInstanceRefresh", irreversible);
    return this.beginRollback(refresh.InstanceRefreshId, reason);
  }

  /** Moves a refresh to RollbackInProgress and records where it stood (used by AutoRollback too). */
  beginRollback(id: string, reason: string): InstanceRefresh {
    const refresh = this.require(id);
    refresh.RollbackDetails = {
      RollbackReason: reason,
      RollbackStartTime: this.now(),
      PercentageCompleteOnRollback: refresh.PercentageComplete,
      InstancesToUpdateOnRollback: refresh.InstancesToUpdate,
    };
    return this.transition(id, "RollbackInProgress", reason);
  }

  private require(id: string): InstanceRefresh {
    const refresh = this.byId.get(id);
    if (!refresh) throw new Error(`no instance refresh ${id}`);
    return refresh;
  }
}

function clampPercentage(value: number): number {
  return Math.max(0, Math.min(100, Math.floor(value)));
}

function percentageOf(part: number, total: number): number {
  return total <= 0 ? 100 : Math.floor((100 * part) / total);
}

function poolProgress(count: PoolCount): PoolProgress {
  return {
    PercentageComplete: clampPercentage(percentageOf(count.updated, count.total)),
    InstancesToUpdate: Math.max(0, count.total - count.updated),
  };
}

/** Each pool's figures from its counts, and the overall ones over both pools. */
function derivePoolProgress(refresh: InstanceRefresh): void {
  if (!refresh.pools) return;
  const { live, warm } = refresh.pools;
  refresh.LivePoolProgress = poolProgress(live);
  refresh.WarmPoolProgress = poolProgress(warm);
  const overall = poolProgress({ updated: live.updated + warm.updated, total: live.total + warm.total });
  refresh.PercentageComplete = overall.PercentageComplete;
  refresh.InstancesToUpdate = overall.InstancesToUpdate;
}

/** Why a refresh cannot be rolled back, in AWS's terms; undefined when it can. */
export function irreversibleReason(
  refresh: Pick<InstanceRefresh, "DesiredConfiguration" | "previousLaunchTemplate">,
): string | undefined {
  if (!refresh.DesiredConfiguration) {
    return "The instance refresh cannot be rolled back because it was started without a desired configuration.";
  }
  if (!isNumberedVersion(templateOf(refresh.DesiredConfiguration)?.Version)) {
    return "The instance refresh cannot be rolled back because its desired configuration uses the $Latest or $Default launch template version.";
  }
  if (!refresh.previousLaunchTemplate) {
    return "The instance refresh cannot be rolled back because the Auto Scaling group did not use a launch template when it started.";
  }
  if (!isNumberedVersion(refresh.previousLaunchTemplate.Version)) {
    return "The instance refresh cannot be rolled back because the Auto Scaling group uses the $Latest or $Default launch template version.";
  }
  return undefined;
}
