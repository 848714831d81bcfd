import type { BusEvent, LocalCloudContext } from "../core/context.js";
import { type LifecycleEnd, lifecycleActionEvent } from "./events.js";
import {
  type InstanceWait,
  LAUNCHING,
  LifecycleActions,
  LifecycleHookBook,
  type LifecycleResult,
  type LifecycleTransition,
  type PendingAction,
  TERMINATING,
} from "./lifecycle-model.js";
import type { GroupMembership, MotoFleet } from "./moto-fleet.js";

/**
 * Lifecycle hooks at work: every instance a group launches while it has launch hooks waits in
 * Pending:Wait, and every instance Auto Scaling terminates while it has terminate hooks waits in
 * Terminating:Wait, until each hook is completed (CompleteLifecycleAction), or its heartbeat
 * timeout (simulated clock) applies its DefaultResult.
 *
 * - Launch, CONTINUE: Pending:Proceed, then InService once booted (SimulatedHealth decides).
 *   Launch, ABANDON: the instance is terminated and the group launches another in its place
 *   ("Auto Scaling terminates the instance and launches a new one", user guide); which one is
 *   remembered so a refresh can wait for it instead.
 * - Terminate: CONTINUE and ABANDON both end in termination (ABANDON only skips the other hooks).
 *   moto terminates at once, so a terminating instance is detached from moto's group when its
 *   wait starts (moto launches its replacement, or lowers desired capacity, as AWS does then) and
 *   kept here, shown in the group as Terminating:Wait, then Terminating:Proceed, until EC2
 *   terminates it.
 */

export interface HeldInstance extends GroupMembership {
  lifecycleState: "Terminating:Wait" | "Terminating:Proceed";
}

export type LaunchGateState = { waiting: true } | { waiting: false; decidedAt: number };

export interface LifecycleDeps {
  context: Pick<LocalCloudContext, "clock" | "log">;
  fleet: Pick<
    MotoFleet,
    "memberships" | "detachForTermination" | "terminateInstances" | "terminateInGroup" | "describeGroup"
  >;
  events: { post(events: BusEvent[]): void };
}

export class LifecycleManager {
  readonly hooks = new LifecycleHookBook();
  readonly actions: LifecycleActions;
  private readonly held = new Map<string, HeldInstance>();
  private readonly groupArns = new Map<string, string>();
  /** Launches abandoned by a hook → the instances the group launched in their place. */
  private readonly successors = new Map<string, string[]>();
  private timer?: AbortController;
  private stopped = false;
  /** Set by the plugin: reads the group again so instances moto just launched are tracked. */
  resync: (groupName: string) => Promise<{ instances: { instanceId: string }[] } | undefined> = async () =>
    undefined;

  constructor(private readonly deps: LifecycleDeps) {
    this.actions = new LifecycleActions(() => deps.context.clock.now());
  }

  // ── launches ──────────────────────────────────────────────────────────────────────────────

  /** A group instance seen for the first time: with launch hooks, it waits in Pending:Wait. */
  onLaunch(group: { name: string; arn: string }, instanceId: string, origin: LifecycleEnd = "EC2"): void {
    this.groupArns.set(group.name, group.arn);
    const wait = this.actions.begin(
      instanceId,
      group.name,
      LAUNCHING,
      this.hooks.forTransition(group.name, LAUNCHING),
    );
    if (!wait) return;
    this.announce(wait, origin, "AutoScalingGroup");
    this.schedule();
  }

  /** For SimulatedHealth: undefined when the instance never waited for launch hooks. */
  launchState(instanceId: string): LaunchGateState | undefined {
    const wait = this.actions.get(instanceId, LAUNCHING);
    if (!wait) return undefined;
    return wait.outcome ? { waiting: false, decidedAt: wait.outcome.at } : { waiting: true };
  }

  /** The instances launched in place of one whose launch a hook abandoned (empty otherwise). */
  successorsOf(instanceId: string): string[] {
    return this.successors.get(instanceId) ?? [];
  }

  // ── terminations ──────────────────────────────────────────────────────────────────────────

  /**
   * Terminates a group instance as Auto Scaling does (refresh, scale-in, the API): through the
   * terminate hooks when the group has some. False when the instance is in no group.
   */
  async terminate(instanceId: string, decrement: boolean): Promise<boolean> {
    if (this.held.has(instanceId)) return true;
    const [membership] = await this.deps.fleet.memberships([instanceId]);
    if (!membership) return false;
    const hooks = this.hooks.forTransition(membership.groupName, TERMINATING);
    if (hooks.length === 0) return this.deps.fleet.terminateInGroup(instanceId, decrement);
    await this.hold([membership], decrement);
    return true;
  }

  /** Puts group instances in Terminating:Wait (they must be in the group and the group hooked). */
  async hold(memberships: GroupMembership[], decrement: boolean): Promise<void> {
    const byGroup = new Map<string, GroupMembership[]>();
    for (const m of memberships) byGroup.set(m.groupName, [...(byGroup.get(m.groupName) ?? []), m]);
    for (const [groupName, members] of byGroup) {
      const hooks = this.hooks.forTransition(groupName, TERMINATING);
      for (const m of members) this.held.set(m.instanceId, { ...m, lifecycleState: "Terminating:Wait" });
      await this.deps.fleet.detachForTermination(
        groupName,
        members.map((m) => m.instanceId),
        decrement,
      );
      await this.knowArn(groupName);
      for (const m of members) {
        // A launch still waiting for its hooks is not awaited any more: the instance is going.
        this.actions.forget(m.instanceId, LAUNCHING);
        const wait = this.actions.begin(m.instanceId, groupName, TERMINATING, hooks);
        if (wait) this.announce(wait, "AutoScalingGroup", "EC2");
      }
      await this.resync(groupName).catch(() => undefined);
    }
    this.schedule();
  }

  /** Instances in Terminating:Wait or :Proceed, still shown as members of their group. */
  heldInstances(groupName?: string): HeldInstance[] {
    return [...this.held.values()].filter((h) => groupName === undefined || h.groupName === groupName);
  }

  isHeld(instanceId: string): boolean {
    return this.held.has(instanceId);
  }

  // ── the API ───────────────────────────────────────────────────────────────────────────────

  complete(request: {
    groupName: string;
    hookName: string;
    result: LifecycleResult;
    token?: string;
    instanceId?: string;
  }): void {
    const { wait, action } = this.actions.find(request);
    this.settle(wait, action, request.result);
  }

  heartbeat(request: { groupName: string; hookName: string; token?: string; instanceId?: string }): void {
    const { action } = this.actions.find(request);
    this.actions.heartbeat(action);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.abort();
  }

  // ── outcomes ──────────────────────────────────────────────────────────────────────────────

  private settle(wait: InstanceWait, action: PendingAction, result: LifecycleResult): void {
    const outcome = this.actions.answer(wait, action, result);
    if (outcome) {
      this.decided(wait, outcome).catch((error: Error) =>
        this.deps.context.log(
          `autoscaling: lifecycle action on ${wait.instanceId} (${wait.transition}): ${error.message}`,
        ),
      );
    }
    this.schedule();
  }

  private async decided(wait: InstanceWait, outcome: LifecycleResult): Promise<void> {
    if (wait.transition === TERMINATING) {
      const held = this.held.get(wait.instanceId);
      if (held) held.lifecycleState = "Terminating:Proceed";
      try {
        await this.deps.fleet.terminateInstances([wait.instanceId]);
      } finally {
        this.held.delete(wait.instanceId);
        this.actions.forget(wait.instanceId, TERMINATING);
      }
      return;
    }
    if (outcome === "CONTINUE") return;
    // Abandoned launch: terminated, and the group launches another (moto does, without decrement).
    // The local cloud runs no terminate hooks for it: it never entered service.
    const before = await this.deps.fleet.describeGroup(wait.groupName);
    const known = new Set(before?.instances.map((i) => i.instanceId) ?? []);
    await this.deps.fleet.terminateInGroup(wait.instanceId, false);
    const after = await this.resync(wait.groupName);
    this.successors.set(
      wait.instanceId,
      (after?.instances ?? []).map((i) => i.instanceId).filter((id) => !known.has(id)),
    );
  }

  /** One timer for every pending action: it wakes at the earliest deadline and applies defaults. */
  private schedule(): void {
    this.timer?.abort();
    if (this.stopped) return;
    const next = this.actions.nextDeadline();
    if (next === undefined) return;
    const controller = new AbortController();
    this.timer = controller;
    const { clock } = this.deps.context;
    clock
      .sleep(Math.max(0, next - clock.now()), controller.signal)
      .then(() => {
        if (controller.signal.aborted) return;
        for (const { wait, action } of this.actions.expired()) {
          this.settle(wait, action, action.hook.DefaultResult);
        }
        this.schedule();
      })
      .catch(() => {});
  }

  private announce(wait: InstanceWait, origin: LifecycleEnd, destination: LifecycleEnd): void {
    const groupArn = this.groupArns.get(wait.groupName) ?? "";
    this.deps.events.post(
      wait.actions.map((action) =>
        lifecycleActionEvent({
          groupName: wait.groupName,
          groupArn,
          instanceId: wait.instanceId,
          hookName: action.hook.LifecycleHookName,
          token: action.token,
          transition: wait.transition as LifecycleTransition,
          ...(action.hook.NotificationMetadata !== undefined
            ? { notificationMetadata: action.hook.NotificationMetadata }
            : {}),
          origin,
          destination,
        }),
      ),
    );
  }

  private async knowArn(groupName: string): Promise<void> {
    if (this.groupArns.has(groupName)) return;
    const group = await this.deps.fleet.describeGroup(groupName);
    if (group) this.groupArns.set(groupName, group.arn);
  }
}
