import type { BusEvent, LocalCloudContext } from "../context.js";
import { checkpointEvent, type RefreshEventKind, refreshEvent } from "./events.js";
import type { SimulatedHealth } from "./health.js";
import type { GroupSnapshot, MotoFleet } from "./moto-fleet.js";
import type { GroupPresentation } from "./overlay.js";
import { BatchReplacer, type BatchTiming } from "./refresh-batches.js";
import type { InstanceRefresh, RefreshBook } from "./refresh-model.js";
import { checkpointCount, DEFAULT_CHECKPOINT_DELAY_SECONDS, percentageOf } from "./refresh-plan.js";
import {
  type Intent,
  Interrupted,
  type PassFailure,
  type Run,
  sleepIn,
  throwIfInterrupted,
} from "./refresh-run.js";
import { type InstanceTracker, sameLaunchTemplate } from "./tracker.js";

/**
 * Drives each instance refresh through its statuses: Pending → InProgress (replacing, pausing at
 * checkpoints) → Baking → Successful; on a replacement that fails its health checks, Failed or
 * (with AutoRollback) RollbackInProgress → RollbackSuccessful/RollbackFailed; on request,
 * Cancelling → Cancelled or a rollback. The instance replacement itself is BatchReplacer's. All
 * waits (CheckpointDelay after each checkpoint below the last, BakeTime after the last batch)
 * are on the simulated clock; events go out as each status is reached.
 */

export interface EngineDeps {
  context: Pick<LocalCloudContext, "clock" | "log" | "region" | "accountId">;
  /** Where emitted events go; delivery must not hold up the refresh. */
  events: { post(events: BusEvent[]): void };
  book: RefreshBook;
  fleet: MotoFleet;
  tracker: InstanceTracker;
  health: SimulatedHealth;
  timing: BatchTiming;
}

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
    try {
      const failure = await this.forward(run);
      if (!failure) return await this.succeed(run);
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

  private async forward(run: Run): Promise<PassFailure | undefined> {
    const { refresh } = run;
    const name = refresh.AutoScalingGroupName;
    const [group] = await this.deps.tracker.sync([name]);
    this.throwIfInterrupted(run);
    if (!group) return { instanceId: "", reason: `The Auto Scaling group ${name} no longer exists.` };
    this.deps.book.transition(refresh.InstanceRefreshId, "InProgress");
    this.emit(run, "Started");

    const desired = refresh.DesiredConfiguration?.LaunchTemplate;
    const target = await this.deps.tracker.resolve(desired ?? group.launchTemplate);
    if (desired) {
      run.shownLaunchTemplate = group.launchTemplate;
      await this.deps.fleet.setLaunchTemplate(name, desired);
    }
    const eligible = this.eligibleInstances(run, group);
    const total = eligible.length;
    const candidates = eligible.filter(
      (id) =>
        !(
          refresh.Preferences.SkipMatching &&
          sameLaunchTemplate(this.deps.health.get(id)?.launchTemplate, target)
        ),
    );
    const checkpoints = refresh.Preferences.CheckpointPercentages ?? [];
    const delaySeconds = refresh.Preferences.CheckpointDelay ?? DEFAULT_CHECKPOINT_DELAY_SECONDS;
    let reached = 0;
    return this.batches.replace(run, {
      group,
      candidates,
      room: (remaining) => {
        const next = checkpoints[reached];
        return next === undefined
          ? Number.POSITIVE_INFINITY
          : checkpointCount(total, next) - (total - remaining);
      },
      afterBatch: async (remaining) => {
        const updated = total - remaining;
        this.deps.book.setProgress(refresh.InstanceRefreshId, percentageOf(updated, total), remaining);
        for (let next = checkpoints[reached]; next !== undefined; next = checkpoints[reached]) {
          if (updated < checkpointCount(total, next)) break;
          reached++;
          // AWS emits an event for every checkpoint but the 100% one, and does not wait after the last.
          const last = reached === checkpoints.length;
          if (!last)
            this.deps.book.setReason(refresh.InstanceRefreshId, checkpointReason(next, delaySeconds));
          if (next < 100) this.emitCheckpoint(run, next, delaySeconds);
          if (last) return "stop";
          await this.sleep(run, delaySeconds * 1000);
          this.deps.book.setReason(refresh.InstanceRefreshId, undefined);
        }
        return "continue";
      },
    });
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

  /** Without a successful refresh, AWS leaves the group on the configuration it had. */
  private async restorePreviousConfiguration(run: Run): Promise<void> {
    const previous = run.refresh.previousLaunchTemplate;
    run.shownLaunchTemplate = undefined;
    if (!run.refresh.DesiredConfiguration || !previous) return;
    try {
      await this.deps.fleet.setLaunchTemplate(run.refresh.AutoScalingGroupName, previous);
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
    await this.deps.fleet.setLaunchTemplate(name, previousSpec);
    run.shownLaunchTemplate = undefined;
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
    this.deps.book.setProgress(id, 0, refresh.InstancesToUpdate);
    this.deps.book.transition(id, "RollbackSuccessful");
    this.emit(run, "Rollback Succeeded");
  }

  /** Instances a refresh replaces: in service (booting counts), not Standby, protected only if asked. */
  private eligibleInstances(run: Run, group: GroupSnapshot): string[] {
    const replaceProtected = run.refresh.Preferences.ScaleInProtectedInstances !== "Ignore";
    return group.instances
      .filter((i) => i.lifecycleState === "InService" && (replaceProtected || !i.protectedFromScaleIn))
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
