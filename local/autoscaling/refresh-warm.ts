import type { LocalCloudContext } from "../core/context.js";
import type { LaunchedFrom } from "./health.js";
import type { LaunchTemplateSpec } from "./refresh-model.js";
import { minHealthyCount } from "./refresh-plan.js";
import { type Run, sleepIn, throwIfInterrupted } from "./refresh-run.js";
import { sameLaunchTemplate } from "./tracker.js";
import type { WarmPools } from "./warm-pool.js";

/**
 * The warm pool's part of an instance refresh: "An instance refresh first replaces InService
 * instances. Then it replaces instances in the warm pool" (user guide, warm pools, "Updating
 * instances in a warm pool"). A warm instance counts as updated once its replacement has
 * initialized and InstanceWarmup has passed (API reference, InstanceRefreshWarmPoolProgress:
 * "When the instance's health status changes to healthy and the specified warm-up time passes,
 * the instance is considered updated"). AWS does not document how many warm instances it
 * replaces at once; the local cloud takes down as many as MinHealthyPercentage allows of the
 * pool, at least one.
 */

export interface WarmRefreshDeps {
  context: Pick<LocalCloudContext, "clock" | "log">;
  pools: Pick<WarmPools, "book" | "replace" | "isReady" | "fill">;
  resolve(spec: LaunchTemplateSpec | undefined): Promise<LaunchedFrom | undefined>;
}

/** Shortest real wait between looks at replacements still initializing. */
const MIN_POLL_REAL_MS = 20;
const POLL_SIMULATED_MS = 1_000;

export class WarmPoolRefresher {
  constructor(private readonly deps: WarmRefreshDeps) {}

  has(groupName: string): boolean {
    return this.deps.pools.book.has(groupName);
  }

  /**
   * StartInstanceRefresh: how many warm instances the refresh is to update (undefined without a
   * pool), given what the group is refreshed to.
   */
  async countAtStart(
    groupName: string,
    target: LaunchTemplateSpec | undefined,
    skipMatching: boolean,
  ): Promise<number | undefined> {
    if (!this.has(groupName)) return undefined;
    const pool = this.deps.pools.book.of(groupName).filter((i) => i.state !== "terminating");
    if (!skipMatching) return pool.length;
    const resolved = await this.deps.resolve(target);
    return pool.filter((i) => !sameLaunchTemplate(i.launchTemplate, resolved)).length;
  }

  /** The warm instances a rollback replaces: those not on the version it goes back to. */
  notOn(groupName: string, from: LaunchedFrom | undefined): string[] {
    return this.deps.pools.book
      .of(groupName)
      .filter((i) => i.state !== "terminating" && !sameLaunchTemplate(i.launchTemplate, from))
      .map((i) => i.instanceId);
  }

  /** After a refresh, whatever its end: the pool back at its size for the group as it now is. */
  async settle(groupName: string): Promise<void> {
    await this.deps.pools
      .fill(groupName)
      .catch((error: Error) =>
        this.deps.context.log(`autoscaling: warm pool of ${groupName}: ${error.message}`),
      );
  }

  /**
   * The warm instances a refresh is to replace: with SkipMatching, those not on `target`;
   * otherwise every one launched before the refresh started, and any other not on `target`.
   */
  candidates(run: Run, target: LaunchedFrom | undefined): string[] {
    const skipMatching = run.refresh.Preferences.SkipMatching === true;
    return this.deps.pools.book
      .of(run.refresh.AutoScalingGroupName)
      .filter((i) => i.state !== "terminating")
      .filter(
        (i) =>
          !sameLaunchTemplate(i.launchTemplate, target) ||
          (!skipMatching && i.launchedAt < run.refresh.StartTime),
      )
      .map((i) => i.instanceId);
  }

  /** Replaces `candidates` batch by batch; `afterBatch` hears how many are replaced so far. */
  async replace(run: Run, candidates: string[], afterBatch: (replaced: number) => void): Promise<void> {
    const name = run.refresh.AutoScalingGroupName;
    const minHealthy = run.refresh.Preferences.MinHealthyPercentage ?? 90;
    const batchSize = Math.max(1, candidates.length - minHealthyCount(candidates.length, minHealthy));
    let replaced = 0;
    afterBatch(replaced);
    for (let i = 0; i < candidates.length; i += batchSize) {
      throwIfInterrupted(run);
      const batch = candidates.slice(i, i + batchSize);
      const launched = await this.deps.pools.replace(name, batch);
      await this.awaitReady(run, launched);
      await this.sleep(run, (run.refresh.Preferences.InstanceWarmup ?? run.gracePeriodSeconds) * 1000);
      replaced += batch.length;
      afterBatch(replaced);
    }
  }

  /** Until every replacement has initialized (or left the pool, e.g. a scale-out took it). */
  private async awaitReady(run: Run, instanceIds: string[]): Promise<void> {
    const { clock } = this.deps.context;
    while (instanceIds.some((id) => this.deps.pools.isReady(id) === false)) {
      await this.sleep(run, Math.max(POLL_SIMULATED_MS, MIN_POLL_REAL_MS * clock.speed));
    }
  }

  private sleep(run: Run, simulatedMs: number): Promise<void> {
    return sleepIn(run, this.deps.context.clock, simulatedMs);
  }
}
