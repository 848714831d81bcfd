import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import type { BusEvent, LocalCloudContext } from "../core/context.js";
import type { ResponseObserver } from "../gateway/server.js";

export const INSTANCE_STATE_CHANGE = "EC2 Instance State-change Notification";

// The moves an EC2 instance makes, one event each. moto jumps (running → terminated at once),
// so the watcher fills in the states AWS would have reported on the way.
const NEXT_STATES: Record<string, string[]> = {
  "": ["pending"],
  pending: ["running", "shutting-down"],
  running: ["stopping", "shutting-down"],
  stopping: ["stopped", "shutting-down"],
  stopped: ["pending", "shutting-down"],
  "shutting-down": ["terminated"],
  terminated: [],
};

/**
 * The states an instance passes through from `from` (undefined: not yet launched) to `to`,
 * `to` included, `from` not: the shortest path through EC2's lifecycle, or just `to` when the
 * lifecycle has no such path.
 */
export function stateTransitions(from: string | undefined, to: string): string[] {
  const start = from ?? "";
  if (start === to) return [];
  const previous = new Map<string, string>([[start, start]]);
  const queue = [start];
  while (queue.length > 0) {
    const state = queue.shift() as string;
    for (const next of NEXT_STATES[state] ?? []) {
      if (previous.has(next)) continue;
      previous.set(next, state);
      if (next === to) {
        const path = [to];
        for (let at = state; at !== start; at = previous.get(at) as string) path.unshift(at);
        return path;
      }
      queue.push(next);
    }
  }
  return [to];
}

export function instanceStateChangeEvent(
  instanceId: string,
  state: string,
  region: string,
  accountId: string,
): BusEvent {
  return {
    source: "aws.ec2",
    detailType: INSTANCE_STATE_CHANGE,
    resources: [`arn:aws:ec2:${region}:${accountId}:instance/${instanceId}`],
    detail: { "instance-id": instanceId, state },
  };
}

const LIVE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"];

// Calls through the gateway after which instances have probably changed state: look at once.
const INSTANCE_ACTIONS = new Set(["RunInstances", "StartInstances", "StopInstances", "TerminateInstances"]);

export interface InstanceStateOptions {
  /** Real ms between two looks at moto's instances. */
  intervalMs: number;
  emit(events: BusEvent[]): Promise<void>;
}

/**
 * Emits `EC2 Instance State-change Notification` by diffing moto's instances: every change is
 * seen, whoever made it (a client through the gateway, moto's Auto Scaling, the refresh engine).
 */
export class InstanceStateWatcher {
  private readonly ec2: EC2Client;
  private readonly known = new Map<string, string>();
  /**
   * Instances a call through the gateway named (Terminate/Stop/StartInstances) since the last
   * look. Read by id, whatever their state: one launched and terminated between two looks is
   * never among the live instances, and would otherwise pass without a single event.
   */
  private readonly named = new Set<string>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  /** When the last look ended, and how long it took (real ms): the next waits 4× that. */
  private lastEnd = 0;
  private lastTook = 0;

  constructor(
    private readonly context: Pick<
      LocalCloudContext,
      "internalClientConfig" | "region" | "accountId" | "log"
    >,
    private readonly options: InstanceStateOptions,
  ) {
    this.ec2 = new EC2Client(context.internalClientConfig);
  }

  readonly observe: ResponseObserver = (request) => {
    if (request.service === "ec2" && INSTANCE_ACTIONS.has(request.action)) {
      for (const [key, value] of request.params) if (/^InstanceId\.\d+$/.test(key)) this.named.add(value);
      this.poke();
    }
    if (request.service === "autoscaling") this.poke();
  };

  /** Takes the instances that exist now as known: no events for them. */
  async start(): Promise<void> {
    for (const [id, state] of await this.describe()) this.known.set(id, state);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => {});
    this.ec2.destroy();
  }

  /**
   * Looks now (or right after the look in progress), but never sooner than four times the last
   * look's duration after it: a look reads every live instance from moto, and at hundreds of
   * instances back-to-back looks after every Auto Scaling call took most of moto's time.
   */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const wait = this.lastEnd + 4 * this.lastTook - Date.now();
    if (wait > 0) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.poke(), wait);
      this.timer.unref();
      return;
    }
    clearTimeout(this.timer);
    const began = Date.now();
    this.running = this.look()
      .catch((error: unknown) =>
        this.context.log(`events: watching instances failed: ${(error as Error).message}`),
      )
      .finally(() => {
        this.running = undefined;
        this.lastEnd = Date.now();
        this.lastTook = this.lastEnd - began;
        if (this.again) {
          this.again = false;
          this.poke();
        } else this.schedule();
      });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.poke(), this.options.intervalMs);
    this.timer.unref();
  }

  private async look(): Promise<void> {
    const named = [...this.named].filter((id) => !this.known.has(id));
    this.named.clear();
    const [current, unseen] = await Promise.all([this.describe(), this.describeGone(named)]);
    // Named, never seen live, and gone already: its whole life is reported now.
    for (const [id, state] of unseen) if (!current.has(id)) current.set(id, state);
    const events: BusEvent[] = [];
    for (const [id, state] of current) {
      for (const passed of stateTransitions(this.known.get(id), state)) {
        events.push(instanceStateChangeEvent(id, passed, this.context.region, this.context.accountId));
      }
      this.known.set(id, state);
    }
    // Only live instances are read: one known that is no longer among them was terminated.
    for (const [id, state] of this.known) {
      if (current.has(id)) continue;
      for (const passed of stateTransitions(state, "terminated")) {
        events.push(instanceStateChangeEvent(id, passed, this.context.region, this.context.accountId));
      }
      this.known.delete(id);
    }
    if (events.length > 0 && !this.stopped) await this.options.emit(events);
  }

  private async describeGone(ids: readonly string[]): Promise<Map<string, string>> {
    const states = new Map<string, string>();
    if (ids.length === 0) return states;
    // By filter, not InstanceIds: one id EC2 does not know would fail the call for all of them.
    const page = await this.ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: "instance-id", Values: [...ids] }] }),
    );
    for (const instance of (page?.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      if (instance.InstanceId && instance.State?.Name) states.set(instance.InstanceId, instance.State.Name);
    }
    return states;
  }

  private async describe(): Promise<Map<string, string>> {
    const states = new Map<string, string>();
    let NextToken: string | undefined;
    do {
      const page = await this.ec2.send(
        new DescribeInstancesCommand({
          NextToken,
          MaxResults: 1000,
          // Terminated instances stay in moto (and in AWS for an hour): reading them every look
          // cost more than the live ones at scale.
          Filters: [{ Name: "instance-state-name", Values: LIVE_STATES }],
        }),
      );
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          if (instance.InstanceId && instance.State?.Name)
            states.set(instance.InstanceId, instance.State.Name);
        }
      }
      NextToken = page.NextToken;
    } while (NextToken);
    return states;
  }
}
