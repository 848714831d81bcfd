import type { LaunchedFrom } from "./health.js";
import { RefreshApiError } from "./refresh-model.js";

/**
 * Warm pools as plain data: no HTTP, no moto, no timers. The facts it follows (Auto Scaling API
 * reference: PutWarmPool, WarmPoolConfiguration, DescribeWarmPool, DeleteWarmPool, Instance;
 * user guide, "Warm pools for Amazon EC2 Auto Scaling"):
 * - MaxGroupPreparedCapacity ≥ -1 (-1 removes a value set before), MinSize ≥ 0 (default 0),
 *   PoolState Stopped | Running | Hibernated (default Stopped). PutWarmPool "creates or
 *   updates": what a call leaves out keeps its earlier value (hence -1 to remove one).
 * - Size: "If a value for MaxGroupPreparedCapacity is not specified, Amazon EC2 Auto Scaling
 *   launches and maintains the difference between the group's maximum capacity and its desired
 *   capacity. If you specify a value …, the difference between the MaxGroupPreparedCapacity and
 *   the desired capacity instead", and "the capacity of the warm pool is 0, unless you specify a
 *   value for MinSize" when the desired capacity is higher: max(MinSize, prepared − desired).
 * - An instance launched into the pool is Warmed:Pending while it initializes, then
 *   Warmed:Stopped / Warmed:Running / Warmed:Hibernated as the pool state says; a deleted pool
 *   has Status PendingDelete and its instances Warmed:Terminating until they are gone.
 */

export type PoolState = "Stopped" | "Running" | "Hibernated";
const POOL_STATES: readonly string[] = ["Stopped", "Running", "Hibernated"];

export interface WarmPoolConfiguration {
  MaxGroupPreparedCapacity?: number;
  MinSize: number;
  PoolState: PoolState;
  InstanceReusePolicy?: { ReuseOnScaleIn: boolean };
  Status?: "PendingDelete";
}

/** PutWarmPool's parameters, as given (validated by `mergeConfiguration`). */
export interface PutWarmPoolRequest {
  MaxGroupPreparedCapacity?: number;
  MinSize?: number;
  PoolState?: string;
  ReuseOnScaleIn?: boolean;
}

const validation = (message: string) => new RefreshApiError("ValidationError", message);

/** The configuration after PutWarmPool: the request over what the pool had; AWS's errors for bad values. */
export function mergeConfiguration(
  current: WarmPoolConfiguration | undefined,
  request: PutWarmPoolRequest,
): WarmPoolConfiguration {
  const max = request.MaxGroupPreparedCapacity;
  if (max !== undefined && max < -1) {
    throw validation(
      `1 validation error detected: Value '${max}' at 'maxGroupPreparedCapacity' failed to satisfy constraint: Member must have value greater than or equal to -1`,
    );
  }
  const min = request.MinSize;
  if (min !== undefined && min < 0) {
    throw validation(
      `1 validation error detected: Value '${min}' at 'minSize' failed to satisfy constraint: Member must have value greater than or equal to 0`,
    );
  }
  const state = request.PoolState;
  if (state !== undefined && !POOL_STATES.includes(state)) {
    throw validation(
      `1 validation error detected: Value '${state}' at 'poolState' failed to satisfy constraint: Member must satisfy enum value set: [${POOL_STATES.join(", ")}]`,
    );
  }
  const prepared = max === undefined ? current?.MaxGroupPreparedCapacity : max === -1 ? undefined : max;
  const reuse =
    request.ReuseOnScaleIn !== undefined
      ? { ReuseOnScaleIn: request.ReuseOnScaleIn }
      : current?.InstanceReusePolicy;
  return {
    ...(prepared !== undefined ? { MaxGroupPreparedCapacity: prepared } : {}),
    MinSize: min ?? current?.MinSize ?? 0,
    PoolState: (state as PoolState | undefined) ?? current?.PoolState ?? "Stopped",
    ...(reuse ? { InstanceReusePolicy: reuse } : {}),
  };
}

/** How many instances the pool keeps, as AWS computes it (see above). */
export function warmPoolSize(
  config: Pick<WarmPoolConfiguration, "MaxGroupPreparedCapacity" | "MinSize">,
  group: { maxSize: number; desiredCapacity: number },
): number {
  const prepared = config.MaxGroupPreparedCapacity ?? group.maxSize;
  return Math.max(config.MinSize, prepared - group.desiredCapacity, 0);
}

/** One instance in a warm pool. */
export interface WarmInstance {
  instanceId: string;
  groupName: string;
  /** The launch template version it was launched from (its image is that version's). */
  launchTemplate: LaunchedFrom;
  imageId?: string;
  instanceType?: string;
  availabilityZone?: string;
  /** Simulated epoch milliseconds. */
  launchedAt: number;
  /** `pending` until initialized (and, for Stopped/Hibernated, stopped in EC2). */
  state: "pending" | PoolState | "terminating";
}

export function warmLifecycleState(instance: Pick<WarmInstance, "state">): string {
  switch (instance.state) {
    case "pending":
      return "Warmed:Pending";
    case "terminating":
      return "Warmed:Terminating";
    default:
      return `Warmed:${instance.state}`;
  }
}

/** Every group's warm pool: its configuration and its instances. */
export class WarmPoolBook {
  private readonly configs = new Map<string, WarmPoolConfiguration>();
  private readonly instances = new Map<string, WarmInstance>();

  config(groupName: string): WarmPoolConfiguration | undefined {
    return this.configs.get(groupName);
  }

  has(groupName: string): boolean {
    return this.configs.has(groupName);
  }

  put(groupName: string, config: WarmPoolConfiguration): void {
    this.configs.set(groupName, config);
  }

  markPendingDelete(groupName: string): void {
    const config = this.configs.get(groupName);
    if (config) config.Status = "PendingDelete";
  }

  /** Forgets the pool and its instances. */
  delete(groupName: string): void {
    this.configs.delete(groupName);
    for (const instance of this.of(groupName)) this.instances.delete(instance.instanceId);
  }

  /** The pool's instances, oldest first. */
  of(groupName: string): WarmInstance[] {
    return [...this.instances.values()]
      .filter((i) => i.groupName === groupName)
      .sort((a, b) => a.launchedAt - b.launchedAt);
  }

  get(instanceId: string): WarmInstance | undefined {
    return this.instances.get(instanceId);
  }

  add(instance: WarmInstance): void {
    this.instances.set(instance.instanceId, instance);
  }

  remove(instanceId: string): void {
    this.instances.delete(instanceId);
  }
}
