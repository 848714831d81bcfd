import { type AutoScalingClient, DescribeInstanceRefreshesCommand } from "@aws-sdk/client-auto-scaling";
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
} from "@aws-sdk/client-sfn";
import { truncateAtWord } from "../../ops/output.js";
import { progressBar } from "../../ops/progress/bar.js";
import { skippedBecause } from "../../ops/progress/skipped.js";
import { groupKey, type Placed, placeFields, placeOf } from "../../src/rollout/core/place.js";
import { isActiveRefreshStatus } from "../../src/rollout/core/refresh-outcome.js";

/**
 * Follows one execution: each state as it completes, a progress line for each instance refresh
 * it started, and how it ended. Read-only (GetExecutionHistory, DescribeExecution,
 * DescribeInstanceRefreshes). The groups come from the execution itself: the plan's waves and
 * each group branch's input, so nothing needs to be told which groups a rollout touches.
 */
export type FollowEvent =
  | { kind: "step"; state: string; type: string; at?: string; skipped?: string; text: string }
  | {
      kind: "refresh";
      group: string;
      refreshId: string;
      status: string;
      percentComplete: number;
      /** What a running refresh waits for (AWS's StatusReason: a checkpoint, warmup, a hook). */
      reason?: string;
      instancesToUpdate?: number;
      text: string;
    }
  | { kind: "finished"; status: string; error?: string; cause?: string; output?: unknown; text: string };

export interface FollowResult {
  status: string;
  error?: string;
  cause?: string;
  output?: unknown;
}

/** The state types whose exit a person cares about (Choice and Pass are plumbing). */
const SHOWN_EXITS = new Set(["TaskStateExited", "WaitStateExited", "MapStateExited", "ParallelStateExited"]);

export class ExecutionFollower {
  private seenEvents = 0;
  private startedAt: Date | undefined;
  /** The rollout's groups by key (src/rollout/core/place.ts), with where each is. */
  private readonly groups = new Map<string, Placed>();
  private readonly refreshLines = new Map<string, string>();

  constructor(
    private readonly clients: { sfn: SFNClient; autoScaling: AutoScalingClient },
    readonly executionArn: string,
    private readonly emit: (event: FollowEvent) => void,
    /** Auto Scaling in a member account and region, for the refreshes of its groups. */
    private readonly autoScalingAt?: (place: { accountId: string; region: string }) => AutoScalingClient,
  ) {}

  /** One look; returns the result once the execution has ended. */
  async poll(): Promise<FollowResult | undefined> {
    const described = await this.clients.sfn.send(
      new DescribeExecutionCommand({ executionArn: this.executionArn }),
    );
    this.startedAt ??= described.startDate ? new Date(described.startDate) : undefined;
    await this.followHistory();
    await this.followRefreshes();
    if (described.status === "RUNNING" || described.status === "PENDING_REDRIVE") return undefined;
    const result: FollowResult = {
      status: described.status ?? "UNKNOWN",
      ...(described.error ? { error: described.error } : {}),
      ...(described.cause ? { cause: described.cause } : {}),
      ...(described.output ? { output: parseJson(described.output) } : {}),
    };
    this.emit({ kind: "finished", ...result, text: finishedText(result) });
    return result;
  }

  private async followHistory(): Promise<void> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.clients.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: this.executionArn, nextToken, maxResults: 1000 }),
      );
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    for (const event of events.slice(this.seenEvents)) {
      this.learnGroups(event);
      const exited = event.stateExitedEventDetails;
      if (!exited?.name || !event.type || !SHOWN_EXITS.has(event.type)) continue;
      const skipped = skippedBecause(exited.name, exited.output);
      this.emit({
        kind: "step",
        state: exited.name,
        type: event.type.replace(/StateExited$/, ""),
        ...(event.timestamp ? { at: new Date(event.timestamp).toISOString() } : {}),
        ...(skipped ? { skipped } : {}),
        text: `  · ${exited.name}${skipped ? ` (skipped: ${skipped})` : ""}`,
      });
    }
    this.seenEvents = Math.max(this.seenEvents, events.length);
  }

  /** Group names from the rollout plan's output and from group branches' input. */
  private learnGroups(event: HistoryEvent): void {
    const payload = event.stateExitedEventDetails?.output ?? event.stateEnteredEventDetails?.input;
    if (!payload) return;
    type Named = { name?: string; accountId?: string; region?: string };
    const data = parseJson(payload) as {
      rollout?: { waves?: { groups?: Named[] }[] };
      group?: Named;
    } | null;
    const learn = (g: Named | undefined) => {
      if (typeof g?.name !== "string") return;
      const placed: Placed = { name: g.name, ...placeFields(g as Placed) };
      this.groups.set(groupKey(placed), placed);
    };
    for (const wave of data?.rollout?.waves ?? []) for (const g of wave.groups ?? []) learn(g);
    learn(data?.group);
  }

  private memberAutoScaling(place: { accountId: string; region: string }): AutoScalingClient | undefined {
    try {
      return this.autoScalingAt?.(place);
    } catch {
      return undefined;
    }
  }

  private async followRefreshes(): Promise<void> {
    for (const [group, placed] of this.groups) {
      const place = placeOf(placed);
      const autoScaling = place !== undefined ? this.memberAutoScaling(place) : this.clients.autoScaling;
      // A member the person cannot reach shows no refresh line; the workflow's own steps say how it went.
      if (autoScaling === undefined) continue;
      const asked = autoScaling.send(
        new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: placed.name, MaxRecords: 1 }),
      );
      const { InstanceRefreshes = [] } =
        placed.accountId !== undefined ? await asked.catch(() => ({ InstanceRefreshes: [] })) : await asked;
      const latest = InstanceRefreshes[0];
      if (!latest?.InstanceRefreshId) continue;
      // A refresh from before this execution is someone else's history, not its progress.
      if (this.startedAt && latest.StartTime && new Date(latest.StartTime) < this.startedAt) continue;
      const percent = latest.PercentageComplete ?? 0;
      const left = latest.InstancesToUpdate;
      // While it runs, AWS's StatusReason says what it waits for: a checkpoint, warmup, a lifecycle hook.
      const waiting = isActiveRefreshStatus(latest.Status) ? latest.StatusReason : undefined;
      const warm = latest.ProgressDetails?.WarmPoolProgress?.PercentageComplete;
      const text =
        `  ⟳ ${group.padEnd(14)} ${progressBar(percent)} ${latest.Status}` +
        `${left !== undefined ? `, ${left} instance(s) left` : ""}` +
        `${warm !== undefined ? `, warm pool ${warm}%` : ""}` +
        `${waiting ? ` — ${waiting}` : ""}`;
      const key = `${group}:${latest.InstanceRefreshId}`;
      if (this.refreshLines.get(key) === text) continue;
      this.refreshLines.set(key, text);
      this.emit({
        kind: "refresh",
        group,
        refreshId: latest.InstanceRefreshId,
        status: latest.Status ?? "Unknown",
        percentComplete: percent,
        ...(left !== undefined ? { instancesToUpdate: left } : {}),
        ...(waiting ? { reason: waiting } : {}),
        text,
      });
    }
  }
}

/** The outcome in words: a rollout that refused its image or found nothing to do still "succeeds". */
function finishedText(result: FollowResult): string {
  const mark = result.status === "SUCCEEDED" ? "✔" : "✘";
  const why = result.error
    ? ` — ${result.error}${result.cause ? `: ${truncateAtWord(result.cause, 300)}` : ""}`
    : "";
  const output = result.output as { rollout?: { outcome?: string; reason?: string } } | undefined;
  const outcome = output?.rollout?.outcome
    ? ` (${output.rollout.outcome}: ${output.rollout.reason ?? ""})`
    : "";
  return `${mark} ${result.status}${outcome}${why}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
