import type { LocalCloudContext } from "../core/context.js";
import type { LaunchedFrom } from "./health.js";
import type { LaunchProfiles } from "./launch-profiles.js";
import type { GroupSnapshot, MotoFleet } from "./moto-fleet.js";
import { RefreshApiError } from "./refresh-model.js";
import type { InstanceTracker } from "./tracker.js";
import { sameLaunchTemplate } from "./tracker.js";
import type { WarmPlacement, WarmPoolFleet } from "./warm-pool-fleet.js";
import {
  mergeConfiguration,
  type PoolState,
  type PutWarmPoolRequest,
  type WarmInstance,
  WarmPoolBook,
  type WarmPoolConfiguration,
  warmPoolSize,
} from "./warm-pool-model.js";

/**
 * Warm pools at work: the pool is kept at the size AWS computes (warm-pool-model.ts), launching
 * from the group's current launch template version and terminating what is over; a new warm
 * instance is Warmed:Pending for `initMs` of simulated time, then stopped in EC2 (pool state
 * Stopped or Hibernated) and Warmed:Stopped/Hibernated, or Warmed:Running. A scale-out takes
 * warm instances first ("the Auto Scaling group can draw on the warm pool to meet its new
 * desired capacity", PutWarmPool), then the pool is filled again. An instance refresh replaces
 * warm instances through `replace` (refresh-warm.ts). Changes to one group's pool are made one
 * at a time, so a fill never races a warm start or a replacement.
 */

export interface WarmPoolDeps {
  context: Pick<LocalCloudContext, "clock" | "log">;
  fleet: Pick<MotoFleet, "describeGroup">;
  ec2: WarmPoolFleet;
  tracker: Pick<InstanceTracker, "resolve" | "noteWarmStart">;
  profiles?: Pick<LaunchProfiles, "apply">;
  /** Simulated milliseconds a warm instance initializes (Warmed:Pending) before its pool state. */
  initMs: number;
  /** Simulated milliseconds instances of a deleted pool show Warmed:Terminating (no ForceDelete). */
  terminateMs?: number;
}

const DEFAULT_TERMINATE_MS = 5_000;
const validation = (message: string) => new RefreshApiError("ValidationError", message);

export class WarmPools {
  readonly book = new WarmPoolBook();
  /** While a refresh holds moto's desired capacity above the group's (refresh-engine.ts). */
  shownDesired: (groupName: string) => number | undefined = () => undefined;
  private readonly timers = new Set<AbortController>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private stopped = false;

  constructor(private readonly deps: WarmPoolDeps) {}

  // ── the API ───────────────────────────────────────────────────────────────────────────────

  /** PutWarmPool: refused where AWS refuses, and where the local cloud cannot launch warm instances. */
  async put(groupName: string, request: PutWarmPoolRequest): Promise<void> {
    const group = await this.requireGroup(groupName);
    // "You cannot add a warm pool to Auto Scaling groups that have a mixed instances policy or
    // that launch Spot Instances" (user guide, warm pools, Limitations; PutWarmPool API reference).
    if (group.usesMixedInstancesPolicy) {
      throw validation(
        "You cannot add a warm pool to an Auto Scaling group that has a mixed instances policy.",
      );
    }
    if (!group.launchTemplate) {
      throw validation(
        "The local cloud supports warm pools only for Auto Scaling groups that use a launch template.",
      );
    }
    if (request.ReuseOnScaleIn === true) {
      throw validation("InstanceReusePolicy.ReuseOnScaleIn is not supported by the local cloud.");
    }
    const current = this.book.config(group.name);
    if (current?.Status === "PendingDelete") {
      throw new RefreshApiError("ResourceInUse", `The warm pool of ${group.name} is being deleted.`);
    }
    const config = mergeConfiguration(current, request);
    const from = await this.deps.tracker.resolve(group.launchTemplate);
    if (from && (await this.deps.ec2.requestsSpot(from))) {
      throw validation("You cannot add a warm pool to an Auto Scaling group that launches Spot Instances.");
    }
    this.book.put(group.name, config);
    await this.fill(group.name);
  }

  describe(groupName: string): { config?: WarmPoolConfiguration; instances: WarmInstance[] } {
    const config = this.book.config(groupName);
    return { ...(config ? { config } : {}), instances: this.book.of(groupName) };
  }

  /**
   * DeleteWarmPool: the pool is PendingDelete while its instances terminate; with ForceDelete,
   * gone at once "without waiting for all instances to be terminated" (API reference).
   */
  async delete(groupName: string, force: boolean): Promise<void> {
    const config = this.book.config(groupName);
    if (!config) throw validation(`No warm pool found for Auto Scaling group ${groupName}.`);
    if (force) return this.drop(groupName);
    if (config.Status === "PendingDelete") return;
    this.book.markPendingDelete(groupName);
    for (const instance of this.book.of(groupName)) instance.state = "terminating";
    this.after(this.deps.terminateMs ?? DEFAULT_TERMINATE_MS, () => this.drop(groupName));
  }

  /** The group is gone (DeleteAutoScalingGroup) or its pool force-deleted: instances terminated. */
  async drop(groupName: string): Promise<void> {
    await this.exclusive(groupName, async () => {
      const ids = this.book.of(groupName).map((i) => i.instanceId);
      this.book.delete(groupName);
      await this.deps.ec2.terminate(ids);
    });
  }

  // ── keeping the pool ──────────────────────────────────────────────────────────────────────

  /** Brings the pool to its size: launches from the group's current version, or terminates extras. */
  async fill(groupName: string): Promise<void> {
    await this.exclusive(groupName, async () => {
      const config = this.book.config(groupName);
      if (!config || config.Status) return;
      const group = await this.deps.fleet.describeGroup(groupName);
      if (!group) return;
      const desiredCapacity = this.shownDesired(groupName) ?? group.desiredCapacity;
      const target = warmPoolSize(config, { maxSize: group.maxSize, desiredCapacity });
      const pool = this.book.of(groupName).filter((i) => i.state !== "terminating");
      const from = await this.deps.tracker.resolve(group.launchTemplate);
      if (pool.length < target && from) {
        await this.launch(group, from, config.PoolState, target - pool.length);
      } else if (pool.length > target) {
        // Instances on an older version go first, then the oldest.
        const extras = [...pool]
          .sort(
            (a, b) =>
              Number(sameLaunchTemplate(a.launchTemplate, from)) -
              Number(sameLaunchTemplate(b.launchTemplate, from)),
          )
          .slice(0, pool.length - target);
        await this.remove(extras.map((i) => i.instanceId));
      }
    });
  }

  /**
   * A scale-out draws on the pool: up to `count` warm instances (initialized ones first) are
   * started and attached to the group. Returns how many it took.
   */
  async warmStart(groupName: string, count: number): Promise<number> {
    return this.exclusive(groupName, async () => {
      const config = this.book.config(groupName);
      if (!config || config.Status || count <= 0) return 0;
      const pool = this.book.of(groupName).filter((i) => i.state !== "terminating");
      const ready = [
        ...pool.filter((i) => i.state !== "pending"),
        ...pool.filter((i) => i.state === "pending"),
      ];
      const taken = ready.slice(0, count);
      if (taken.length === 0) return 0;
      const ids = taken.map((i) => i.instanceId);
      await this.deps.ec2.start(taken.filter((i) => i.state !== "Running").map((i) => i.instanceId));
      for (const instance of taken) {
        this.deps.tracker.noteWarmStart(instance.instanceId, instance.launchTemplate);
        this.book.remove(instance.instanceId);
      }
      await this.deps.ec2.attach(groupName, ids);
      return taken.length;
    });
  }

  /**
   * Before a call that sets the group's desired capacity (SetDesiredCapacity, or
   * UpdateAutoScalingGroup with DesiredCapacity and perhaps MaxSize): a scale-out within the
   * maximum takes warm instances first; moto then launches only the rest.
   */
  async beforeScaleOut(groupName: string, desiredCapacity: number, maxSize?: number): Promise<void> {
    if (!this.book.has(groupName)) return;
    const group = await this.deps.fleet.describeGroup(groupName);
    if (!group || desiredCapacity > (maxSize ?? group.maxSize)) return;
    const current = this.shownDesired(groupName) ?? group.desiredCapacity;
    if (desiredCapacity > current) await this.warmStart(groupName, desiredCapacity - current);
  }

  /**
   * An instance refresh replaces warm instances: these are terminated and as many launched from
   * the group's current version (the refresh's desired one, or the previous one on rollback).
   * Returns the new instances' ids.
   */
  async replace(groupName: string, instanceIds: string[]): Promise<string[]> {
    return this.exclusive(groupName, async () => {
      const config = this.book.config(groupName);
      const group = await this.deps.fleet.describeGroup(groupName);
      const gone = instanceIds.filter((id) => this.book.get(id));
      await this.remove(gone);
      if (!config || config.Status || !group) return [];
      const from = await this.deps.tracker.resolve(group.launchTemplate);
      if (!from) return [];
      return this.launch(group, from, config.PoolState, gone.length);
    });
  }

  /** True once initialized, false while Warmed:Pending, undefined when no longer in a pool. */
  isReady(instanceId: string): boolean | undefined {
    const instance = this.book.get(instanceId);
    return instance ? instance.state !== "pending" : undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) timer.abort();
    await Promise.all([...this.queues.values()].map((q) => q.catch(() => {})));
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────────

  private async launch(group: GroupSnapshot, from: LaunchedFrom, state: PoolState, count: number) {
    const ids: string[] = [];
    const existing = this.book.of(group.name).length;
    for (let i = 0; i < count; i++) {
      const launched = await this.deps.ec2.launch(group.name, from, placement(group, existing + i));
      this.book.add({
        ...launched,
        groupName: group.name,
        launchTemplate: from,
        launchedAt: this.deps.context.clock.now(),
        state: "pending",
      });
      ids.push(launched.instanceId);
    }
    // AWS launches warm instances with the version's instance profile, as any other (launch-profiles.ts).
    await this.deps.profiles?.apply(ids.map((instanceId) => ({ instanceId, launchedFrom: from })));
    this.after(this.deps.initMs, () => this.settle(ids, state));
    return ids;
  }

  /** Initialized: stopped in EC2 unless the pool keeps them running, then in their pool state. */
  private async settle(instanceIds: string[], state: PoolState): Promise<void> {
    const pending = () => instanceIds.filter((id) => this.book.get(id)?.state === "pending");
    if (state !== "Running") await this.deps.ec2.stop(pending(), state === "Hibernated");
    for (const id of pending()) {
      const instance = this.book.get(id);
      if (instance) instance.state = state;
    }
  }

  private async remove(instanceIds: string[]): Promise<void> {
    for (const id of instanceIds) this.book.remove(id);
    await this.deps.ec2.terminate(instanceIds);
  }

  async requireGroup(name: string): Promise<GroupSnapshot> {
    if (!name) {
      throw validation(
        "1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null",
      );
    }
    const group = await this.deps.fleet.describeGroup(name);
    if (!group) throw validation(`AutoScalingGroup name not found - AutoScalingGroup '${name}' not found`);
    return group;
  }

  /** Runs `work` after `ms` of simulated time, unless the part stops first. */
  private after(ms: number, work: () => Promise<void>): void {
    if (this.stopped) return;
    const timer = new AbortController();
    this.timers.add(timer);
    this.deps.context.clock
      .sleep(ms, timer.signal)
      .then(() => (this.stopped ? undefined : work()))
      .catch((error: Error) => {
        if (!timer.signal.aborted) this.deps.context.log(`autoscaling: warm pool: ${error.message}`);
      })
      .finally(() => this.timers.delete(timer));
  }

  private exclusive<T>(groupName: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(groupName) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    const tail = next.catch(() => {});
    this.queues.set(groupName, tail);
    tail.then(() => {
      if (this.queues.get(groupName) === tail) this.queues.delete(groupName);
    });
    return next;
  }
}

/** Spread over the group's subnets (or zones), as Auto Scaling balances its launches. */
function placement(group: GroupSnapshot, index: number): WarmPlacement {
  if (group.subnetIds.length) return { subnetId: group.subnetIds[index % group.subnetIds.length]! };
  if (group.availabilityZones.length) {
    return { availabilityZone: group.availabilityZones[index % group.availabilityZones.length]! };
  }
  return {};
}
