import { randomUUID } from "node:crypto";
import { RefreshApiError } from "./refresh-model.js";

/**
 * Lifecycle hooks and the lifecycle actions they put instances in, as plain data: no HTTP, no
 * moto, no timers. The facts it follows (Auto Scaling API reference, PutLifecycleHook,
 * LifecycleHook, CompleteLifecycleAction, RecordLifecycleActionHeartbeat; user guide "How
 * lifecycle hooks work"):
 * - LifecycleTransition is autoscaling:EC2_INSTANCE_LAUNCHING or _TERMINATING, required when a
 *   hook is created; HeartbeatTimeout 30–7200 s, default 3600; DefaultResult CONTINUE | ABANDON,
 *   default ABANDON; NotificationMetadata up to 1023 characters; hook names [A-Za-z0-9\-_/]+, at
 *   most 255; at most 50 hooks per group (LimitExceeded).
 * - GlobalTimeout: an instance stays in a wait state at most min(172800 s, 100 × HeartbeatTimeout).
 * - A heartbeat restarts the heartbeat timeout; when it elapses, the hook's DefaultResult applies.
 * - An instance with several hooks for one transition waits for all of them; ABANDON from any
 *   one of them decides the transition (the others are no longer awaited).
 */

export type LifecycleTransition =
  | "autoscaling:EC2_INSTANCE_LAUNCHING"
  | "autoscaling:EC2_INSTANCE_TERMINATING";
export type LifecycleResult = "CONTINUE" | "ABANDON";

export const LAUNCHING: LifecycleTransition = "autoscaling:EC2_INSTANCE_LAUNCHING";
export const TERMINATING: LifecycleTransition = "autoscaling:EC2_INSTANCE_TERMINATING";
const TRANSITIONS: readonly string[] = [LAUNCHING, TERMINATING];
const RESULTS: readonly string[] = ["CONTINUE", "ABANDON"];

export const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 3600;
const MIN_HEARTBEAT_SECONDS = 30;
const MAX_HEARTBEAT_SECONDS = 7200;
const MAX_GLOBAL_TIMEOUT_SECONDS = 172_800;
const MAX_HOOKS_PER_GROUP = 50;
const MAX_METADATA_LENGTH = 1023;

/** One hook, with AWS's field names, as DescribeLifecycleHooks answers it. */
export interface LifecycleHook {
  LifecycleHookName: string;
  AutoScalingGroupName: string;
  LifecycleTransition: LifecycleTransition;
  NotificationTargetARN?: string;
  RoleARN?: string;
  NotificationMetadata?: string;
  HeartbeatTimeout: number;
  GlobalTimeout: number;
  DefaultResult: LifecycleResult;
}

/** PutLifecycleHook's parameters (everything optional but the names; validated by `put`). */
export interface PutHookRequest {
  LifecycleHookName?: string;
  AutoScalingGroupName?: string;
  LifecycleTransition?: string;
  NotificationTargetARN?: string;
  RoleARN?: string;
  NotificationMetadata?: string;
  HeartbeatTimeout?: number;
  DefaultResult?: string;
}

const validation = (message: string) => new RefreshApiError("ValidationError", message);

export function globalTimeoutOf(heartbeatSeconds: number): number {
  return Math.min(MAX_GLOBAL_TIMEOUT_SECONDS, 100 * heartbeatSeconds);
}

export class LifecycleHookBook {
  private readonly byGroup = new Map<string, Map<string, LifecycleHook>>();

  /** Creates or updates a hook (an update keeps what it does not name, as AWS does). */
  put(request: PutHookRequest): LifecycleHook {
    const name = request.LifecycleHookName ?? "";
    const group = request.AutoScalingGroupName ?? "";
    if (!name) throw validation(nullParameter("lifecycleHookName"));
    if (!group) throw validation(nullParameter("autoScalingGroupName"));
    if (name.length > 255 || !/^[A-Za-z0-9\-_/]+$/.test(name)) {
      throw validation(
        `1 validation error detected: Value '${name}' at 'lifecycleHookName' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9\\-_\\/]+`,
      );
    }
    const hooks = this.byGroup.get(group) ?? new Map<string, LifecycleHook>();
    const existing = hooks.get(name);
    const transition = request.LifecycleTransition ?? existing?.LifecycleTransition;
    if (!transition) {
      throw validation("LifecycleTransition is required when creating a lifecycle hook.");
    }
    if (!TRANSITIONS.includes(transition)) {
      throw validation(`Invalid Lifecycle Transition: ${transition}`);
    }
    const heartbeat =
      request.HeartbeatTimeout ?? existing?.HeartbeatTimeout ?? DEFAULT_HEARTBEAT_TIMEOUT_SECONDS;
    if (
      !Number.isInteger(heartbeat) ||
      heartbeat < MIN_HEARTBEAT_SECONDS ||
      heartbeat > MAX_HEARTBEAT_SECONDS
    ) {
      throw validation(
        `Heartbeat timeout must be between ${MIN_HEARTBEAT_SECONDS} and ${MAX_HEARTBEAT_SECONDS} seconds, got ${heartbeat}.`,
      );
    }
    const result = request.DefaultResult ?? existing?.DefaultResult ?? "ABANDON";
    if (!RESULTS.includes(result)) {
      throw validation(`Invalid value for DefaultResult: ${result}. Valid values are CONTINUE and ABANDON.`);
    }
    const metadata = request.NotificationMetadata ?? existing?.NotificationMetadata;
    if (metadata !== undefined && metadata.length > MAX_METADATA_LENGTH) {
      throw validation(
        `1 validation error detected: Value at 'notificationMetadata' failed to satisfy constraint: Member must have length less than or equal to ${MAX_METADATA_LENGTH}`,
      );
    }
    if (!existing && hooks.size >= MAX_HOOKS_PER_GROUP) {
      throw new RefreshApiError(
        "LimitExceeded",
        `Exceeded lifecycle hook limit of ${MAX_HOOKS_PER_GROUP} for Auto Scaling group ${group}.`,
      );
    }
    const target = request.NotificationTargetARN ?? existing?.NotificationTargetARN;
    const role = request.RoleARN ?? existing?.RoleARN;
    const hook: LifecycleHook = {
      LifecycleHookName: name,
      AutoScalingGroupName: group,
      LifecycleTransition: transition as LifecycleTransition,
      ...(target ? { NotificationTargetARN: target } : {}),
      ...(role ? { RoleARN: role } : {}),
      ...(metadata !== undefined ? { NotificationMetadata: metadata } : {}),
      HeartbeatTimeout: heartbeat,
      GlobalTimeout: globalTimeoutOf(heartbeat),
      DefaultResult: result as LifecycleResult,
    };
    hooks.set(name, hook);
    this.byGroup.set(group, hooks);
    return hook;
  }

  /** The group's hooks (only the named ones when names are given), in creation order. */
  list(group: string, names: string[] = []): LifecycleHook[] {
    const all = [...(this.byGroup.get(group)?.values() ?? [])];
    return names.length ? all.filter((h) => names.includes(h.LifecycleHookName)) : all;
  }

  forTransition(group: string, transition: LifecycleTransition): LifecycleHook[] {
    return this.list(group).filter((h) => h.LifecycleTransition === transition);
  }

  get(group: string, name: string): LifecycleHook | undefined {
    return this.byGroup.get(group)?.get(name);
  }

  delete(group: string, name: string): void {
    const hooks = this.byGroup.get(group);
    if (!hooks?.has(name)) {
      throw validation(`No Lifecycle Hook found with name ${name} for Auto Scaling group ${group}.`);
    }
    hooks.delete(name);
  }

  /** The group was deleted: its hooks go with it. */
  forgetGroup(group: string): void {
    this.byGroup.delete(group);
  }
}

export function nullParameter(name: string): string {
  return `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`;
}

/** One hook's pending action on one instance. */
export interface PendingAction {
  token: string;
  hook: LifecycleHook;
  /** Simulated epoch ms: when the heartbeat timeout elapses (restarted by a heartbeat). */
  heartbeatDeadline: number;
  /** Simulated epoch ms: the global timeout, which no heartbeat extends. */
  globalDeadline: number;
  result?: LifecycleResult;
}

/** An instance in a wait state for one transition: every hook's action, and the outcome once decided. */
export interface InstanceWait {
  instanceId: string;
  groupName: string;
  transition: LifecycleTransition;
  startedAt: number;
  actions: PendingAction[];
  /** Set once every hook answered (or one abandoned): the wait is over. */
  outcome?: { result: LifecycleResult; at: number };
}

/**
 * The lifecycle actions of every instance in a wait state. `answer` records a result (from
 * CompleteLifecycleAction or a timeout) and says when that decides the transition.
 */
export class LifecycleActions {
  private readonly waits = new Map<string, InstanceWait>();

  constructor(
    private readonly now: () => number,
    private readonly newToken: () => string = randomUUID,
  ) {}

  /** Puts an instance in a wait state for the hooks given (none: no wait, undefined). */
  begin(
    instanceId: string,
    groupName: string,
    transition: LifecycleTransition,
    hooks: LifecycleHook[],
  ): InstanceWait | undefined {
    if (hooks.length === 0) return undefined;
    const at = this.now();
    const wait: InstanceWait = {
      instanceId,
      groupName,
      transition,
      startedAt: at,
      actions: hooks.map((hook) => ({
        token: this.newToken(),
        hook,
        heartbeatDeadline: at + hook.HeartbeatTimeout * 1000,
        globalDeadline: at + hook.GlobalTimeout * 1000,
      })),
    };
    this.waits.set(key(instanceId, transition), wait);
    return wait;
  }

  get(instanceId: string, transition: LifecycleTransition): InstanceWait | undefined {
    return this.waits.get(key(instanceId, transition));
  }

  /** True while the instance waits for hooks of that transition. */
  waiting(instanceId: string, transition: LifecycleTransition): boolean {
    const wait = this.get(instanceId, transition);
    return wait !== undefined && wait.outcome === undefined;
  }

  all(): InstanceWait[] {
    return [...this.waits.values()];
  }

  /**
   * The pending action CompleteLifecycleAction or RecordLifecycleActionHeartbeat names: by token
   * or by instance id, for that group and hook; a ValidationError as AWS words it otherwise.
   */
  find(request: { groupName: string; hookName: string; token?: string; instanceId?: string }): {
    wait: InstanceWait;
    action: PendingAction;
  } {
    if (!request.token && !request.instanceId) {
      throw validation("Either LifecycleActionToken or InstanceId must be specified.");
    }
    for (const wait of this.waits.values()) {
      if (wait.outcome || wait.groupName !== request.groupName) continue;
      if (request.instanceId && wait.instanceId !== request.instanceId) continue;
      const action = wait.actions.find(
        (a) =>
          a.result === undefined &&
          a.hook.LifecycleHookName === request.hookName &&
          (!request.token || a.token === request.token),
      );
      if (action) return { wait, action };
    }
    throw validation(
      request.token
        ? `No active Lifecycle Action found with token ${request.token}`
        : `No active Lifecycle Action found with instance ID ${request.instanceId}`,
    );
  }

  /** Records one hook's result; returns the outcome when this decides the wait. */
  answer(wait: InstanceWait, action: PendingAction, result: LifecycleResult): LifecycleResult | undefined {
    if (wait.outcome || action.result) return undefined;
    action.result = result;
    const decided =
      result === "ABANDON" ? "ABANDON" : wait.actions.every((a) => a.result) ? "CONTINUE" : undefined;
    if (decided) wait.outcome = { result: decided, at: this.now() };
    return decided;
  }

  /** RecordLifecycleActionHeartbeat: the heartbeat timeout starts again, within the global timeout. */
  heartbeat(action: PendingAction): void {
    action.heartbeatDeadline = Math.min(
      this.now() + action.hook.HeartbeatTimeout * 1000,
      action.globalDeadline,
    );
  }

  /** Actions whose timeout has elapsed by now, with the result it gives them (the hook's default). */
  expired(): { wait: InstanceWait; action: PendingAction }[] {
    const now = this.now();
    const due: { wait: InstanceWait; action: PendingAction }[] = [];
    for (const wait of this.waits.values()) {
      if (wait.outcome) continue;
      for (const action of wait.actions) {
        if (!action.result && now >= Math.min(action.heartbeatDeadline, action.globalDeadline))
          due.push({ wait, action });
      }
    }
    return due;
  }

  /** The earliest pending deadline, for the timer; undefined when nothing waits. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const wait of this.waits.values()) {
      if (wait.outcome) continue;
      for (const action of wait.actions) {
        if (action.result) continue;
        const at = Math.min(action.heartbeatDeadline, action.globalDeadline);
        next = next === undefined ? at : Math.min(next, at);
      }
    }
    return next;
  }

  forget(instanceId: string, transition: LifecycleTransition): void {
    this.waits.delete(key(instanceId, transition));
  }
}

function key(instanceId: string, transition: LifecycleTransition): string {
  return `${instanceId}#${transition}`;
}
