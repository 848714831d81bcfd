import type { BusEvent, LocalCloudContext } from "../core/context.js";
import { instanceActivityEvent } from "./events.js";
import type { SimulatedHealth } from "./health.js";
import type { LifecycleManager } from "./lifecycle.js";
import type { GroupSnapshot, MotoFleet } from "./moto-fleet.js";
import { type Batch, nextBatch } from "./refresh-plan.js";
import { type Pass, type PassFailure, type Run, sleepIn, throwIfInterrupted } from "./refresh-run.js";
import type { InstanceTracker } from "./tracker.js";

/**
 * Replaces a group's instances through moto, batch by batch, as an instance refresh (or its
 * rollback) does: each batch sized by MinHealthyPercentage/MaxHealthyPercentage, its
 * replacements launched, awaited until InService and Healthy on the simulated clock, warmed up.
 *
 * A replacement must be InService and Healthy within `healthTimeoutSeconds` (simulated) of its
 * launch, by default max(HealthCheckGracePeriod, 2 × bootSeconds): the grace period is how long
 * AWS lets an instance come up before its health checks count, and twice the boot time keeps a
 * healthy instance from ever timing out when the grace period is shorter than a boot. After it
 * is healthy, InstanceWarmup (default: the group's HealthCheckGracePeriod) passes before it
 * counts as updated and the next batch starts.
 *
 * Lifecycle hooks: a replacement in Pending:Wait is not healthy yet, and its health timeout
 * only starts once its launch hooks completed (the grace period starts then); one whose launch
 * a hook abandoned is replaced by the group, and the batch waits for that one instead. An old
 * instance terminated with terminate hooks waits in Terminating:Wait; the batch is over once it
 * is gone (a refresh waits for in-flight terminations, as CancelInstanceRefresh's
 * WaitForTransitioningInstances describes).
 */

export interface BatchTiming {
  bootSeconds: number;
  healthTimeoutSeconds?: number;
}

export interface BatchDeps {
  context: Pick<LocalCloudContext, "clock" | "log" | "region" | "accountId">;
  events: { post(events: BusEvent[]): void };
  fleet: MotoFleet;
  tracker: InstanceTracker;
  health: SimulatedHealth;
  /** Terminations go through the group's terminate hooks; launches may wait for launch hooks. */
  lifecycle: Pick<LifecycleManager, "terminate" | "isHeld" | "successorsOf">;
  timing: BatchTiming;
  /**
   * Why the group cannot launch what it launches now (an image its account may not launch:
   * core/launch-permission.ts), or undefined. Asked before each batch: EC2 would refuse every
   * launch, and the refresh fails on it.
   */
  launchRefusal?: (groupName: string) => Promise<string | undefined>;
}

/** Shortest (real) and longest (simulated) waits between health polls. */
const MIN_POLL_REAL_MS = 20;
const MAX_POLL_SIMULATED_MS = 10_000;

export class BatchReplacer {
  constructor(private readonly deps: BatchDeps) {}

  async replace(run: Run, pass: Pass): Promise<PassFailure | undefined> {
    const name = run.refresh.AutoScalingGroupName;
    let remaining = [...pass.candidates];
    let current: GroupSnapshot | undefined = pass.group;
    if ((await pass.afterBatch(remaining.length)) === "stop") return undefined;
    while (remaining.length > 0) {
      this.throwIfInterrupted(run);
      if (!current) return { instanceId: "", reason: `The Auto Scaling group ${name} no longer exists.` };
      const present = new Map(current.instances.map((i) => [i.instanceId, i]));
      // Instances that left the group on their own need no replacement.
      remaining = remaining.filter((id) => present.has(id));
      if (remaining.length === 0) break;
      const healthy = (id: string) => this.isHealthy(id, present);
      const batch = nextBatch({
        desiredCapacity: current.desiredCapacity,
        healthyCount: current.instances.filter((i) => healthy(i.instanceId)).length,
        candidates: remaining.map((instanceId) => ({ instanceId, healthy: healthy(instanceId) })),
        minHealthyPercentage: run.refresh.Preferences.MinHealthyPercentage ?? 90,
        ...(run.refresh.Preferences.MaxHealthyPercentage !== undefined
          ? { maxHealthyPercentage: run.refresh.Preferences.MaxHealthyPercentage }
          : {}),
        room: pass.room(remaining.length),
      });
      const replaced = [...batch.terminateFirst, ...batch.launchFirst];
      if (replaced.length === 0) break;
      const outcome = await this.replaceBatch(run, current, batch);
      if ("failure" in outcome) return outcome.failure;
      current = outcome.group;
      remaining = remaining.filter((id) => !replaced.includes(id));
      if ((await pass.afterBatch(remaining.length)) === "stop") break;
    }
    return undefined;
  }

  /**
   * Terminates instances that need no replacement (Standby instances, with StandbyInstances
   * Terminate: they do not count toward desired capacity, so moto launches nothing for them).
   */
  async terminate(run: Run, instanceIds: string[]): Promise<void> {
    for (const id of instanceIds) {
      this.throwIfInterrupted(run);
      const startedAt = this.deps.context.clock.now();
      if (await this.deps.lifecycle.terminate(id, false)) this.emitActivity(run, "Terminate", id, startedAt);
    }
    await this.awaitTerminated(run, instanceIds);
  }

  /** Waits until instances terminated with terminate hooks have left Terminating:Wait/Proceed. */
  private async awaitTerminated(run: Run, instanceIds: string[]): Promise<void> {
    const floor = MIN_POLL_REAL_MS * this.deps.context.clock.speed;
    while (instanceIds.some((id) => this.deps.lifecycle.isHeld(id))) {
      await this.sleep(run, Math.max(floor, MAX_POLL_SIMULATED_MS / 10));
    }
  }

  /**
   * Replaces one batch and waits for its replacements. Returns the group as it stands after the
   * batch (so the next batch needs no fresh look-up in moto), or why the batch failed.
   */
  private async replaceBatch(
    run: Run,
    group: GroupSnapshot,
    batch: Batch,
  ): Promise<{ group: GroupSnapshot | undefined } | { failure: PassFailure }> {
    const { fleet } = this.deps;
    const name = group.name;
    const before = new Set(group.instances.map((i) => i.instanceId));
    let launched: string[] = [];
    const refused = await this.deps.launchRefusal?.(name);
    if (refused !== undefined) return { failure: { instanceId: "", reason: refused } };
    try {
      if (batch.launchFirst.length > 0) {
        for (const id of batch.launchFirst) run.surplus.add(id);
        run.shownDesiredCapacity = group.desiredCapacity;
        await fleet.setDesiredCapacity(name, group.desiredCapacity + batch.launchFirst.length);
      }
      for (const id of batch.terminateFirst) {
        const startedAt = this.deps.context.clock.now();
        await this.deps.lifecycle.terminate(id, false);
        this.emitActivity(run, "Terminate", id, startedAt);
      }
      const launchedAt = this.deps.context.clock.now();
      const [after] = await this.deps.tracker.sync([name]);
      launched = (after?.instances ?? []).map((i) => i.instanceId).filter((id) => !before.has(id));
      for (const id of launched) this.emitActivity(run, "Launch", id, launchedAt);

      const waited = await this.awaitHealthy(run, launched);
      if ("failure" in waited) {
        await this.dropSurplus(run, launched);
        return waited;
      }
      const warmupSeconds = run.refresh.Preferences.InstanceWarmup ?? run.gracePeriodSeconds;
      await this.sleep(run, warmupSeconds * 1000);
      const gone = new Set<string>();
      for (const id of [...run.surplus]) {
        const startedAt = this.deps.context.clock.now();
        await this.deps.lifecycle.terminate(id, true);
        run.surplus.delete(id);
        gone.add(id);
        this.emitActivity(run, "Terminate", id, startedAt);
      }
      run.shownDesiredCapacity = undefined;
      await this.awaitTerminated(run, [...batch.terminateFirst, ...gone]);
      const latest = waited.group;
      if (!latest) return { group: undefined };
      return {
        group: {
          ...latest,
          desiredCapacity: latest.desiredCapacity - gone.size,
          instances: latest.instances.filter((i) => !gone.has(i.instanceId)),
        },
      };
    } catch (error) {
      if (run.intent !== "shutdown" && run.surplus.size > 0) {
        await this.dropSurplus(run, launched.length ? launched : await this.newInstances(name, before)).catch(
          (e: Error) =>
            this.deps.context.log(`instance refresh ${run.refresh.InstanceRefreshId}: ${e.message}`),
        );
      }
      throw error;
    }
  }

  /**
   * Undoes a launch-first batch that will not complete: the group goes back to its desired
   * capacity by dropping replacements (those not healthy first), so the old instances stay.
   */
  private async dropSurplus(run: Run, launched: string[]): Promise<void> {
    if (run.surplus.size === 0) return;
    const name = run.refresh.AutoScalingGroupName;
    const [group] = await this.deps.fleet.describeGroups([name]);
    const states = new Map((group?.instances ?? []).map((i) => [i.instanceId, i]));
    const ordered = launched
      .filter((id) => states.has(id))
      .sort((a, b) => Number(this.isHealthy(a, states)) - Number(this.isHealthy(b, states)));
    for (const id of ordered.slice(0, run.surplus.size)) {
      const startedAt = this.deps.context.clock.now();
      await this.deps.lifecycle.terminate(id, true);
      this.emitActivity(run, "Terminate", id, startedAt);
    }
    run.surplus.clear();
    run.shownDesiredCapacity = undefined;
  }

  private isHealthy(
    id: string,
    states: Map<string, { lifecycleState: string; healthStatus: string }>,
  ): boolean {
    const state = states.get(id);
    return state !== undefined && this.deps.health.isHealthy(id, state);
  }

  private async newInstances(groupName: string, before: Set<string>): Promise<string[]> {
    const [group] = await this.deps.fleet.describeGroups([groupName]);
    return (group?.instances ?? []).map((i) => i.instanceId).filter((id) => !before.has(id));
  }

  /**
   * Waits until every new instance is InService and Healthy, or one of them runs out of time.
   * Returns the group as last read, for the next batch.
   */
  private async awaitHealthy(
    run: Run,
    launchedIds: string[],
  ): Promise<{ group: GroupSnapshot | undefined } | { failure: PassFailure }> {
    let instanceIds = [...launchedIds];
    const { clock } = this.deps.context;
    const timeoutMs = this.healthTimeoutSeconds(run) * 1000;
    const started = clock.now();
    // Nothing can be healthy before it has booted: sleep until then instead of asking moto.
    const booted = Math.max(started, ...instanceIds.map((id) => this.deps.health.bootedAt(id) ?? started));
    if (booted > started) await this.sleep(run, booted - started);
    for (;;) {
      this.throwIfInterrupted(run);
      const [group] = await this.deps.tracker.sync([run.refresh.AutoScalingGroupName]);
      const states = new Map((group?.instances ?? []).map((i) => [i.instanceId, i]));
      const waiting = instanceIds.filter((id) => !this.isHealthy(id, states));
      if (waiting.length === 0) return { group };
      const now = clock.now();
      let wakeAt = Number.POSITIVE_INFINITY;
      // A launch a hook abandoned: the group launched another in its place, which is awaited instead.
      const abandoned = waiting.filter(
        (id) => !states.has(id) && this.deps.lifecycle.successorsOf(id).length > 0,
      );
      if (abandoned.length > 0) {
        const successors = abandoned.flatMap((id) => this.deps.lifecycle.successorsOf(id));
        instanceIds = [...instanceIds.filter((id) => !abandoned.includes(id)), ...successors];
        continue;
      }
      for (const id of waiting) {
        if (!states.has(id)) {
          return {
            failure: {
              instanceId: id,
              reason: `Instance ${id} left the Auto Scaling group before it became healthy.`,
            },
          };
        }
        const tracked = this.deps.health.get(id);
        // In Pending:Wait there is no deadline yet: the hook's own timeout bounds the wait.
        const clockStart = this.deps.health.healthClockStart(id) ?? (tracked ? undefined : started);
        const deadline = clockStart === undefined ? Number.POSITIVE_INFINITY : clockStart + timeoutMs;
        if (now >= deadline) {
          const image = tracked?.imageId ? ` (image ${tracked.imageId})` : "";
          return {
            failure: {
              instanceId: id,
              reason: `Instance ${id}${image} failed health checks: it was not InService and Healthy within ${timeoutMs / 1000} seconds of launch.`,
            },
          };
        }
        const bootedAt = tracked?.bootedAt ?? now;
        wakeAt = Math.min(wakeAt, bootedAt > now ? bootedAt : deadline);
      }
      const floor = MIN_POLL_REAL_MS * clock.speed;
      await this.sleep(run, Math.min(Math.max(wakeAt - now, floor), Math.max(MAX_POLL_SIMULATED_MS, floor)));
    }
  }

  private healthTimeoutSeconds(run: Run): number {
    const { timing } = this.deps;
    return timing.healthTimeoutSeconds ?? Math.max(run.gracePeriodSeconds, 2 * timing.bootSeconds);
  }

  private emitActivity(run: Run, kind: "Launch" | "Terminate", instanceId: string, startTime: number): void {
    const { context } = this.deps;
    this.deps.events.post([
      instanceActivityEvent({
        kind,
        groupName: run.refresh.AutoScalingGroupName,
        groupArn: run.groupArn,
        instanceId,
        instance: this.deps.health.get(instanceId),
        region: context.region,
        accountId: context.accountId,
        startTime,
        endTime: context.clock.now(),
      }),
    ]);
  }

  private sleep(run: Run, simulatedMs: number): Promise<void> {
    return sleepIn(run, this.deps.context.clock, simulatedMs);
  }

  private throwIfInterrupted(run: Run): void {
    throwIfInterrupted(run);
  }
}
