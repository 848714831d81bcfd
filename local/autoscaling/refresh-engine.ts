import type { BusEvent, LocalCloudContext } from "../core/context.js";
import { type AlarmState, alarmReason } from "./alarms.js";
import { checkpointEvent, type RefreshEventKind, refreshEvent } from "./events.js";
import type { LaunchedFrom, SimulatedHealth } from "./health.js";
import type { LifecycleManager } from "./lifecycle.js";
import type { GroupSnapshot, MotoFleet } from "./moto-fleet.js";
import type { GroupPresentation } from "./overlay.js";
import { BatchReplacer, type BatchTiming } from "./refresh-batches.js";
import {
  type DesiredConfiguration,
  type InstanceRefresh,
  mergedPolicy,
  type RefreshBook,
  templateOf,
} from "./refresh-model.js";
import {
  checkpointCount,
  countsForUpdate,
  DEFAULT_CHECKPOINT_DELAY_SECONDS,
  dispositionOf,
  WAIT_FOR_INSTANCES_SECONDS,
  waitedInVainReason,
  waitingReason,
} from "./refresh-plan.js";
import {
  type Intent,
  Interrupted,
  type Pass,
  type PassFailure,
  type Run,
  sleepIn,
  throwIfInterrupted,
} from "./refresh-run.js";
import type { WarmPoolRefresher } from "./refresh-warm.js";
import { type InstanceTracker, sameLaunchTemplate } from "./tracker.js";

/**
 * Drives each instance refresh through its statuses: Pending → InProgress (replacing, pausing at
 * checkpoints, waiting for protected and Standby instances) → Baking → Successful; on a
 * replacement that fails its health checks, or instances still protected or in Standby after an
 * hour, Failed or (with AutoRollback) RollbackInProgress → RollbackSuccessful/RollbackFailed; on
 * request, Cancelling → Cancelled or a rollback. Which instances it replaces, waits for,
 * terminates or leaves follows ScaleInProtectedInstances and StandbyInstances (dispositionOf);
 * the instance replacement itself is BatchReplacer's. All waits (CheckpointDelay after each
 * checkpoint below the last, up to WAIT_FOR_INSTANCES_SECONDS for protected and Standby
 * instances, BakeTime after the last batch) are on the simulated clock; events go out as each
 * status is reached.
 */

export interface EngineDeps {
  context: Pick<LocalCloudContext, "clock" | "log" | "region" | "accountId">;
  /** Where emitted events go; delivery must not hold up the refresh. */
  events: { post(events: BusEvent[]): void };
  book: RefreshBook;
  fleet: MotoFleet;
  tracker: InstanceTracker;
  health: SimulatedHealth;
  lifecycle: LifecycleManager;
  /** The states of CloudWatch alarms (Preferences.AlarmSpecification), by name. */
  alarms: (names: string[]) => Promise<Map<string, AlarmState>>;
  timing: BatchTiming;
  /** The group's warm pool, replaced after its InService instances (refresh-warm.ts). */
  warm?: WarmPoolRefresher;
  /** See BatchDeps.launchRefusal. */
  launchRefusal?: (groupName: string) => Promise<string | undefined>;
}

/** How often a waiting refresh looks again at the instances it waits for: simulated, and at least real. */
const WAIT_POLL_SIMULATED_MS = 10_000;
const MIN_WAIT_POLL_REAL_MS = 20;
/** Alarms are read at most this often in real time, whatever the clock's speed. */
const ALARM_POLL_REAL_MS = 50;

function checkpointReason(percentage: number, delaySeconds: number): string {
  return `Checkpoint ${percentage}% reached; waiting ${delaySeconds} seconds before continuing.`;
}

export class RefreshEngine {
  private readonly runs = new Map<string, Run>();
  private stopped = false;

  private readonly batches: BatchReplacer;

  constructor(private readonly deps: EngineDeps) {
    this.batches = new BatchReplacer(deps);
  }

  /** Starts driving a Pending refresh in the background. */
  start(refresh: InstanceRefresh, group: GroupSnapshot): void {
    const run: Run = {
      refresh,
      groupArn: group.arn,
      gracePeriodSeconds: group.healthCheckGracePeriod ?? 0,
      controller: new AbortController(),
      surplus: new Set(),
    };
    this.runs.set(refresh.AutoScalingGroupName, run);
    run.finished = this.drive(run).finally(() => {
      if (this.runs.get(refresh.AutoScalingGroupName) === run) this.runs.delete(refresh.AutoScalingGroupName);
    });
  }

  cancel(groupName: string): string {
    const refresh = this.deps.book.cancel(groupName);
    this.interrupt(groupName, "cancel");
    return refresh.InstanceRefreshId;
  }

  rollback(groupName: string): string {
    const refresh = this.deps.book.rollback(
      groupName,
      "Rollback initiated by user request (RollbackInstanceRefresh).",
    );
    this.interrupt(groupName, "rollback");
    return refresh.InstanceRefreshId;
  }

  presentGroup(groupName: string): GroupPresentation | undefined {
    const run = this.runs.get(groupName);
    if (!run) return undefined;
    return {
      ...(run.shownLaunchTemplate ? { launchTemplate: run.shownLaunchTemplate } : {}),
      ...(run.shownMixedPolicy ? { mixedInstancesPolicy: run.shownMixedPolicy } : {}),
      ...(run.shownDesiredCapacity !== undefined ? { desiredCapacity: run.shownDesiredCapacity } : {}),
    };
  }

  activeCount(): number {
    return this.runs.size;
  }

  /** Stops every run without touching moto (which is stopping too). */
  async stop(): Promise<void> {
    this.stopped = true;
    const runs = [...this.runs.values()];
    for (const run of runs) {
      run.intent = "shutdown";
      run.controller.abort();
    }
    await Promise.all(runs.map((run) => run.finished?.catch(() => {})));
  }

  private interrupt(groupName: string, intent: Intent): void {
    const run = this.runs.get(groupName);
    if (!run) return;
    run.intent = intent;
    run.controller.abort();
  }

  private async drive(run: Run): Promise<void> {
    const watch = new AbortController();
    const watching = this.watchAlarms(run, watch.signal);
    try {
      await this.driveUnwatched(run, watch);
    } finally {
      watch.abort();
      await watching;
      if (run.intent !== "shutdown") await this.deps.warm?.settle(run.refresh.AutoScalingGroupName);
    }
  }

  /**
   * While the refresh runs forward (replacing, at checkpoints, baking), an alarm of its
   * AlarmSpecification in ALARM fails it, or rolls it back with AutoRollback (user guide,
   * "Undo changes with a manual or auto rollback"). Not watched during a rollback.
   */
  private async watchAlarms(run: Run, signal: AbortSignal): Promise<void> {
    const names = run.refresh.Preferences.AlarmSpecification?.Alarms ?? [];
    if (names.length === 0) return;
    const { clock } = this.deps.context;
    const poll = Math.max(WAIT_POLL_SIMULATED_MS, ALARM_POLL_REAL_MS * clock.speed);
    const forward = () => ["Pending", "InProgress", "Baking"].includes(run.refresh.Status);
    while (!signal.aborted && forward()) {
      try {
        const states = await this.deps.alarms(names);
        const firing = names.filter((n) => states.get(n) === "ALARM");
        if (firing.length > 0 && forward() && run.intent === undefined && !signal.aborted) {
          run.intent = "alarm";
          run.alarmReason = alarmReason(firing);
          run.controller.abort();
          return;
        }
      } catch (error) {
        this.deps.context.log(
          `instance refresh ${run.refresh.InstanceRefreshId}: alarms: ${(error as Error).message}`,
        );
      }
      await clock.sleep(poll, signal).catch(() => {});
    }
  }

  private async driveUnwatched(run: Run, watch: AbortController): Promise<void> {
    try {
      const failure = await this.forward(run);
      if (!failure) return await this.succeed(run);
      watch.abort();
      if (run.refresh.Preferences.AutoRollback) {
        this.deps.book.beginRollback(run.refresh.InstanceRefreshId, `Automatic rollback: ${failure.reason}`);
        return await this.rollbackAfterInterruption(run);
      }
      await this.fail(run, failure.reason);
    } catch (error) {
      await this.afterInterruption(run, error);
    }
  }

  private async afterInterruption(run: Run, error: unknown): Promise<void> {
    if (run.intent === "shutdown") return;
    try {
      if (!(error instanceof Interrupted)) {
        this.deps.context.log(
          `instance refresh ${run.refresh.InstanceRefreshId} stopped: ${(error as Error).message}`,
        );
        return await this.endAfterError(run, error as Error);
      }
      if (run.intent === "rollback") return await this.rollbackAfterInterruption(run);
      if (run.intent === "cancel") return await this.cancelled(run);
      if (run.intent === "alarm") {
        const reason = run.alarmReason ?? alarmReason([]);
        if (!run.refresh.Preferences.AutoRollback) return await this.fail(run, reason);
        this.deps.book.beginRollback(run.refresh.InstanceRefreshId, reason);
        return await this.rollbackAfterInterruption(run);
      }
    } catch (second) {
      if (second instanceof Interrupted) return this.afterInterruption(run, second);
      this.deps.context.log(
        `instance refresh ${run.refresh.InstanceRefreshId}: ${(second as Error).message}`,
      );
    }
  }

  private async rollbackAfterInterruption(run: Run): Promise<void> {
    if (this.stopped || run.intent === "shutdown") return;
    // A cancel may have come in while the forward pass was unwinding.
    if (run.intent === "cancel") return this.cancelled(run);
    run.intent = undefined;
    run.controller = new AbortController();
    this.emit(run, "Rollback Started");
    try {
      await this.rollBack(run);
    } catch (error) {
      await this.afterInterruption(run, error);
    }
  }

  // ── forward ─────────────────────────────────────────────────────────────────────────────────

  /** The InService instances, then the warm pool's (user guide: "first replaces InService instances"). */
  private async forward(run: Run): Promise<PassFailure | undefined> {
    const failure = await this.forwardLive(run);
    if (failure || run.stoppedShort) return failure;
    const warm = this.deps.warm;
    if (!warm || !run.refresh.pools) return undefined;
    const id = run.refresh.InstanceRefreshId;
    const candidates = warm.candidates(run, run.target);
    await warm.replace(run, candidates, (replaced) =>
      this.deps.book.setPoolCounts(id, "warm", replaced, candidates.length),
    );
    return undefined;
  }

  private async forwardLive(run: Run): Promise<PassFailure | undefined> {
    const { refresh } = run;
    const name = refresh.AutoScalingGroupName;
    const [group] = await this.deps.tracker.sync([name]);
    this.throwIfInterrupted(run);
    if (!group) return { instanceId: "", reason: `The Auto Scaling group ${name} no longer exists.` };
    this.deps.book.transition(refresh.InstanceRefreshId, "InProgress");
    this.emit(run, "Started");

    const desired = templateOf(refresh.DesiredConfiguration);
    const target = await this.deps.tracker.resolve(desired ?? group.launchTemplate);
    if (target) run.target = target;
    if (refresh.DesiredConfiguration) await this.applyConfiguration(run, group, refresh.DesiredConfiguration);
    const preferences = refresh.Preferences;
    const matches = (id: string) =>
      preferences.SkipMatching === true &&
      sameLaunchTemplate(this.deps.health.get(id)?.launchTemplate, target);
    const dispositions = group.instances.map((i) => ({
      id: i.instanceId,
      is: dispositionOf(i, preferences),
    }));
    // What the refresh is to update; those that already match (SkipMatching) count as updated.
    let total = dispositions.filter((d) => countsForUpdate(d.is)).length;
    const candidates = dispositions
      .filter((d) => d.is.action === "replace" && !matches(d.id))
      .map((d) => d.id);
    const waiting = new Map<string, "protected" | "standby">();
    for (const d of dispositions) if (d.is.action === "wait" && !matches(d.id)) waiting.set(d.id, d.is.why);
    await this.batches.terminate(
      run,
      dispositions.filter((d) => d.is.action === "terminate" && !matches(d.id)).map((d) => d.id),
    );

    const checkpoints = preferences.CheckpointPercentages ?? [];
    const delaySeconds = preferences.CheckpointDelay ?? DEFAULT_CHECKPOINT_DELAY_SECONDS;
    let reached = 0;
    let stopped = false;
    // Updated so far, when `remaining` of the current pass's candidates are still to replace.
    const updatedWith = (remaining: number) => total - remaining - waiting.size;
    const pass = (current: GroupSnapshot, ids: string[]): Pass => ({
      group: current,
      candidates: ids,
      room: (remaining) => {
        const next = checkpoints[reached];
        return next === undefined
          ? Number.POSITIVE_INFINITY
          : checkpointCount(total, next) - updatedWith(remaining);
      },
      afterBatch: async (remaining) => {
        const updated = updatedWith(remaining);
        this.deps.book.setPoolCounts(refresh.InstanceRefreshId, "live", updated, total);
        for (let next = checkpoints[reached]; next !== undefined; next = checkpoints[reached]) {
          if (updated < checkpointCount(total, next)) break;
          reached++;
          // AWS emits an event for every checkpoint but the 100% one, and does not wait after the last.
          const last = reached === checkpoints.length;
          if (!last)
            this.deps.book.setReason(refresh.InstanceRefreshId, checkpointReason(next, delaySeconds));
          if (next < 100) this.emitCheckpoint(run, next, delaySeconds);
          if (last) {
            stopped = true;
            if (next < 100) run.stoppedShort = true;
            return "stop";
          }
          await this.sleep(run, delaySeconds * 1000);
          this.deps.book.setReason(refresh.InstanceRefreshId, undefined);
        }
        return "continue";
      },
    });

    const failure = await this.batches.replace(run, pass(group, candidates));
    if (failure || stopped || waiting.size === 0) return failure;

    // Wait (the default for both preferences): the instances it may not replace yet are replaced
    // as they become replaceable; after an hour of simulated time, the refresh fails, naming them.
    const deadline = this.deps.context.clock.now() + WAIT_FOR_INSTANCES_SECONDS * 1000;
    for (;;) {
      this.throwIfInterrupted(run);
      const [current] = await this.deps.tracker.sync([name]);
      if (!current) return { instanceId: "", reason: `The Auto Scaling group ${name} no longer exists.` };
      const present = new Map(current.instances.map((i) => [i.instanceId, i]));
      const freed: string[] = [];
      const terminate: string[] = [];
      for (const [id] of [...waiting]) {
        const instance = present.get(id);
        const now = instance ? dispositionOf(instance, preferences) : undefined;
        if (now?.action === "wait") {
          waiting.set(id, now.why);
          continue;
        }
        waiting.delete(id);
        // Gone from the group: nothing left to update. Ignored now: no longer the refresh's to update.
        if (now?.action === "replace") freed.push(id);
        else if (now?.action === "terminate") terminate.push(id);
        else if (now?.action === "leave") total--;
      }
      await this.batches.terminate(run, terminate);
      if (freed.length > 0) {
        this.deps.book.setReason(refresh.InstanceRefreshId, undefined);
        const failed = await this.batches.replace(run, pass(current, freed));
        if (failed || stopped) return failed;
        continue;
      }
      if (waiting.size === 0) {
        this.deps.book.setReason(refresh.InstanceRefreshId, undefined);
        this.deps.book.setPoolCounts(refresh.InstanceRefreshId, "live", total, total);
        return undefined;
      }
      const now = this.deps.context.clock.now();
      if (now >= deadline) {
        return {
          instanceId: waiting.keys().next().value ?? "",
          reason: waitedInVainReason(waiting, WAIT_FOR_INSTANCES_SECONDS),
        };
      }
      this.deps.book.setReason(refresh.InstanceRefreshId, waitingReason(waiting, WAIT_FOR_INSTANCES_SECONDS));
      const poll = Math.max(WAIT_POLL_SIMULATED_MS, MIN_WAIT_POLL_REAL_MS * this.deps.context.clock.speed);
      await this.sleep(run, Math.min(deadline - now, poll));
    }
  }

  private async succeed(run: Run): Promise<void> {
    const { refresh } = run;
    this.throwIfInterrupted(run);
    const bakeSeconds = refresh.Preferences.BakeTime ?? 0;
    if (bakeSeconds > 0) {
      this.deps.book.transition(refresh.InstanceRefreshId, "Baking", `Baking for ${bakeSeconds} seconds.`);
      await this.sleep(run, bakeSeconds * 1000);
    }
    // The group now shows the desired configuration: moto has had it since the refresh started.
    run.shownLaunchTemplate = undefined;
    run.shownMixedPolicy = undefined;
    this.deps.book.transition(refresh.InstanceRefreshId, "Successful");
    this.deps.book.setReason(refresh.InstanceRefreshId, undefined);
    this.emit(run, "Succeeded");
  }

  private async fail(run: Run, reason: string): Promise<void> {
    await this.restorePreviousConfiguration(run);
    this.deps.book.transition(run.refresh.InstanceRefreshId, "Failed", reason);
    this.emit(run, "Failed");
  }

  private async cancelled(run: Run): Promise<void> {
    await this.restorePreviousConfiguration(run);
    this.deps.book.transition(
      run.refresh.InstanceRefreshId,
      "Cancelled",
      "Instance refresh was cancelled by user request.",
    );
    this.emit(run, "Cancelled");
  }

  /** An unexpected error (e.g. moto refused a call): end in the status that fits the phase. */
  private async endAfterError(run: Run, error: Error): Promise<void> {
    const id = run.refresh.InstanceRefreshId;
    const reason = `The local cloud could not continue the instance refresh: ${error.message}`;
    switch (run.refresh.Status) {
      case "RollbackInProgress":
        this.deps.book.transition(id, "RollbackFailed", reason);
        this.emit(run, "Rollback Failed");
        return;
      case "Cancelling":
        return this.cancelled(run);
      case "Pending":
      case "InProgress":
      case "Baking":
        return this.fail(run, reason);
      default:
        return;
    }
  }

  /**
   * moto launches from the group's configuration, so the desired one is applied to it at once;
   * the group shows the old one (the overlay) until the refresh succeeds, as AWS's does. A mixed
   * desired configuration keeps the group's Overrides and InstancesDistribution it leaves out.
   */
  private async applyConfiguration(
    run: Run,
    group: GroupSnapshot,
    desired: DesiredConfiguration,
  ): Promise<void> {
    const name = group.name;
    await this.sightBeforeChange(name);
    if (desired.MixedInstancesPolicy) {
      run.shownMixedPolicy = group.mixedInstancesPolicy;
      run.shownLaunchTemplate = group.mixedInstancesPolicy ? undefined : group.launchTemplate;
      await this.deps.fleet.setMixedInstancesPolicy(
        name,
        mergedPolicy(group.mixedInstancesPolicy, desired.MixedInstancesPolicy),
      );
    } else if (desired.LaunchTemplate) {
      run.shownLaunchTemplate = group.launchTemplate;
      await this.deps.fleet.setLaunchTemplate(name, desired.LaunchTemplate);
    }
  }

  /**
   * The tracker records an instance's launch template at first sight, from the group's
   * configuration: an instance moto launched a moment ago (the replacement of one this refresh
   * terminated) must be seen before the configuration changes, or it would be taken for one
   * launched from the next configuration (and a rollback would leave it on the failed image).
   */
  private async sightBeforeChange(groupName: string): Promise<void> {
    await this.deps.tracker.sync([groupName]);
  }

  /** Puts the group back on the configuration it had when the refresh started. */
  private async applyPrevious(run: Run): Promise<void> {
    const { previousMixedPolicy, previousLaunchTemplate } = run.refresh;
    const name = run.refresh.AutoScalingGroupName;
    await this.sightBeforeChange(name);
    if (previousMixedPolicy) await this.deps.fleet.setMixedInstancesPolicy(name, previousMixedPolicy);
    else if (previousLaunchTemplate) await this.deps.fleet.setLaunchTemplate(name, previousLaunchTemplate);
    run.shownLaunchTemplate = undefined;
    run.shownMixedPolicy = undefined;
  }

  /** Without a successful refresh, AWS leaves the group on the configuration it had. */
  private async restorePreviousConfiguration(run: Run): Promise<void> {
    const previous = run.refresh.previousLaunchTemplate;
    run.shownLaunchTemplate = undefined;
    run.shownMixedPolicy = undefined;
    if (!run.refresh.DesiredConfiguration || !previous) return;
    try {
      await this.applyPrevious(run);
    } catch (error) {
      // The group may be gone; the refresh must still reach its final status.
      this.deps.context.log(`instance refresh ${run.refresh.InstanceRefreshId}: ${(error as Error).message}`);
    }
  }

  // ── rollback ────────────────────────────────────────────────────────────────────────────────

  private async rollBack(run: Run): Promise<void> {
    const { refresh } = run;
    const id = refresh.InstanceRefreshId;
    const name = refresh.AutoScalingGroupName;
    const previousSpec = refresh.previousLaunchTemplate;
    if (!previousSpec) throw new Error("no previous launch template to roll back to");
    await this.applyPrevious(run);
    const previous = await this.deps.tracker.resolve(previousSpec);
    const [group] = await this.deps.tracker.sync([name]);
    if (!group) throw new Error(`the Auto Scaling group ${name} no longer exists`);
    const candidates = this.eligibleInstances(run, group).filter(
      (instanceId) => !sameLaunchTemplate(this.deps.health.get(instanceId)?.launchTemplate, previous),
    );
    const startPercentage =
      refresh.RollbackDetails?.PercentageCompleteOnRollback ?? refresh.PercentageComplete;
    const failure = await this.batches.replace(run, {
      group,
      candidates,
      room: () => Number.POSITIVE_INFINITY,
      afterBatch: async (remaining) => {
        // PercentageComplete goes back down to zero as the instances the refresh launched are replaced.
        const share = candidates.length === 0 ? 0 : remaining / candidates.length;
        this.deps.book.setProgress(id, startPercentage * share, refresh.InstancesToUpdate);
        return "continue";
      },
    });
    if (failure) {
      this.deps.book.transition(id, "RollbackFailed", `Rollback failed: ${failure.reason}`);
      this.emit(run, "Rollback Failed");
      return;
    }
    await this.rollBackWarmPool(run, previous);
    this.deps.book.setProgress(id, 0, refresh.InstancesToUpdate);
    this.deps.book.transition(id, "RollbackSuccessful");
    this.emit(run, "Rollback Succeeded");
  }

  /** After the InService instances, the warm pool goes back to the previous version too. */
  private async rollBackWarmPool(run: Run, previous: LaunchedFrom | undefined): Promise<void> {
    const warm = this.deps.warm;
    const { refresh } = run;
    if (!warm || !refresh.WarmPoolProgress) return;
    const candidates = warm.notOn(refresh.AutoScalingGroupName, previous);
    const start = refresh.WarmPoolProgress.PercentageComplete;
    const toUpdate = refresh.WarmPoolProgress.InstancesToUpdate;
    await warm.replace(run, candidates, (replaced) => {
      const share = candidates.length === 0 ? 0 : 1 - replaced / candidates.length;
      this.deps.book.setWarmProgress(refresh.InstanceRefreshId, start * share, toUpdate);
    });
    this.deps.book.setWarmProgress(refresh.InstanceRefreshId, 0, toUpdate);
  }

  /**
   * Instances a rollback replaces: those the refresh may replace at once (in service, booting
   * counts; protected ones only with ScaleInProtectedInstances Refresh). A rollback neither
   * waits for protected or Standby instances nor terminates Standby ones.
   */
  private eligibleInstances(run: Run, group: GroupSnapshot): string[] {
    return group.instances
      .filter((i) => dispositionOf(i, run.refresh.Preferences).action === "replace")
      .map((i) => i.instanceId);
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────────────────

  private sleep(run: Run, simulatedMs: number): Promise<void> {
    return sleepIn(run, this.deps.context.clock, simulatedMs);
  }

  private throwIfInterrupted(run: Run): void {
    throwIfInterrupted(run);
  }

  private subject(run: Run) {
    return {
      refreshId: run.refresh.InstanceRefreshId,
      groupName: run.refresh.AutoScalingGroupName,
      groupArn: run.groupArn,
    };
  }

  private emit(run: Run, kind: RefreshEventKind): void {
    this.deps.events.post([refreshEvent(kind, this.subject(run))]);
  }

  private emitCheckpoint(run: Run, percentage: number, delaySeconds: number): void {
    this.deps.events.post([checkpointEvent(this.subject(run), percentage, delaySeconds)]);
  }
}
