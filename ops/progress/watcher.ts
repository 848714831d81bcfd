import { type AutoScalingClient, DescribeInstanceRefreshesCommand } from "@aws-sdk/client-auto-scaling";
import {
  DescribeExecutionCommand,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  type SFNClient,
} from "@aws-sdk/client-sfn";
import { truncateAtWord } from "../output.js";
import { progressBar } from "./bar.js";
import { skippedBecause } from "./skipped.js";

/**
 * Follows Phoenix's workflows the way a person would watch them: each execution as it starts,
 * each state as it completes, each instance refresh's progress, and how each execution ends.
 * It only reads (ListExecutions, GetExecutionHistory, DescribeInstanceRefreshes).
 */
export interface WatchedExecution {
  arn: string;
  name: string;
  machine: string;
  status: ExecutionStatus;
  error?: string;
  cause?: string;
  output?: string;
}

export interface WatchLine {
  kind: "started" | "step" | "refresh" | "finished";
  execution?: string;
  text: string;
}

export class WorkflowWatcher {
  private readonly seenHistory = new Map<string, number>();
  private readonly finished = new Map<string, WatchedExecution>();
  private readonly known = new Set<string>();
  private readonly refreshPercent = new Map<string, string>();

  constructor(
    private readonly clients: { sfn: SFNClient; autoScaling: AutoScalingClient },
    private readonly stateMachineArns: Record<string, string>,
    private readonly emit: (line: WatchLine) => void,
  ) {}

  /** One look at everything; call it on an interval. Returns the executions that ended in this look. */
  async poll(groups: string[] = []): Promise<WatchedExecution[]> {
    const ended: WatchedExecution[] = [];
    for (const [machine, arn] of Object.entries(this.stateMachineArns)) {
      const { executions = [] } = await this.clients.sfn.send(
        new ListExecutionsCommand({ stateMachineArn: arn, maxResults: 100 }),
      );
      for (const execution of [...executions].reverse()) {
        const executionArn = execution.executionArn!;
        if (this.finished.has(executionArn)) continue;
        if (!this.known.has(executionArn)) {
          this.known.add(executionArn);
          this.emit({
            kind: "started",
            execution: execution.name,
            text: `▶ ${machine} ${execution.name} started`,
          });
        }
        await this.followHistory(executionArn, execution.name ?? executionArn);
        if (execution.status !== "RUNNING") {
          const described = await this.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
          const done: WatchedExecution = {
            arn: executionArn,
            name: execution.name ?? executionArn,
            machine,
            status: described.status ?? "FAILED",
            error: described.error,
            cause: described.cause,
            output: described.output,
          };
          this.finished.set(executionArn, done);
          ended.push(done);
          const mark = done.status === "SUCCEEDED" ? "✔" : "✘";
          const why = done.error
            ? ` — ${done.error}${done.cause ? `: ${truncateAtWord(done.cause, 240)}` : ""}`
            : "";
          this.emit({
            kind: "finished",
            execution: done.name,
            text: `${mark} ${machine} ${done.name} ${done.status}${why}`,
          });
        }
      }
    }
    if (groups.length > 0) await this.followRefreshes(groups);
    return ended;
  }

  executions(): WatchedExecution[] {
    return [...this.finished.values()];
  }

  private async followHistory(executionArn: string, name: string): Promise<void> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.clients.sfn.send(
        new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }),
      );
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const seen = this.seenHistory.get(executionArn) ?? 0;
    for (const event of events.slice(seen)) {
      const exited = event.stateExitedEventDetails;
      if (exited?.name && event.type === "TaskStateExited") {
        const skipped = skippedBecause(exited.name, exited.output);
        this.emit({
          kind: "step",
          execution: name,
          text: `  · ${name}: ${exited.name}${skipped ? ` (skipped: ${skipped})` : ""}`,
        });
      }
    }
    this.seenHistory.set(executionArn, events.length);
  }

  private async followRefreshes(groups: string[]): Promise<void> {
    for (const group of groups) {
      const { InstanceRefreshes = [] } = await this.clients.autoScaling.send(
        new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group, MaxRecords: 1 }),
      );
      const latest = InstanceRefreshes[0];
      if (!latest?.InstanceRefreshId) continue;
      const line = `  ⟳ ${group.padEnd(14)} ${progressBar(latest.PercentageComplete ?? 0)} ${latest.Status}${
        latest.InstancesToUpdate !== undefined ? `, ${latest.InstancesToUpdate} left` : ""
      }`;
      const key = `${group}:${latest.InstanceRefreshId}`;
      if (this.refreshPercent.get(key) !== line) {
        this.refreshPercent.set(key, line);
        this.emit({ kind: "refresh", text: line });
      }
    }
  }
}
