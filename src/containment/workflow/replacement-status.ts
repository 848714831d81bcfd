import {
  type AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeLifecycleHooksCommand,
} from "@aws-sdk/client-auto-scaling";
import type { PhoenixDeps } from "../../deps.js";
import { ContainmentStepError } from "../core/errors.js";
import { ACTOR, type ContainState, instanceSubject, type ReplacementStatusResult } from "../core/types.js";

/**
 * Step 5 (wait, after the evidence steps): one poll of the group. It is whole again when it has its desired count of
 * instances that are InService and Healthy (the contained one no longer counts: it was detached).
 * Gives up after the policy's replacementTimeoutMinutes, plus, while a replacement waits for a
 * launch lifecycle hook (Pending:Wait), that hook's heartbeat timeout: Auto Scaling holds the
 * instance there until someone completes the action or the timeout applies the default result,
 * and a hook that does its work in time must not fail the containment.
 */
export async function checkReplacement(
  deps: PhoenixDeps,
  state: ContainState,
): Promise<ReplacementStatusResult> {
  const input = state.containment;
  const replaced = state.results.replace;
  if (!replaced?.groupName) {
    throw new ContainmentStepError(
      "Phoenix.Refused",
      "The instance was not detached from a group: nothing to wait for.",
    );
  }
  const { AutoScalingGroups = [] } = await deps.clients.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [replaced.groupName] }),
  );
  const group = AutoScalingGroups[0];
  if (!group) {
    throw new ContainmentStepError(
      "Phoenix.Refused",
      `Auto Scaling group ${replaced.groupName} no longer exists.`,
    );
  }
  const desiredCapacity = group.DesiredCapacity ?? 0;
  const healthyCount = (group.Instances ?? []).filter(
    (i) =>
      i.InstanceId !== input.instanceId && i.LifecycleState === "InService" && i.HealthStatus === "Healthy",
  ).length;
  const checkedAt = deps.now().toISOString();
  if (healthyCount >= desiredCapacity) {
    await deps.audit.write(
      {
        subject: instanceSubject(input.instanceId),
        action: "replacement-healthy",
        outcome: "ok",
        actor: ACTOR,
        execution: input.containmentId,
        findingId: input.findingId,
        details: { groupName: replaced.groupName, healthyCount, desiredCapacity, healthyAt: checkedAt },
      },
      `${input.containmentId}#replacement-healthy`,
    );
    return { healthy: true, healthyCount, desiredCapacity, checkedAt, healthyAt: checkedAt };
  }
  const waiting = (group.Instances ?? [])
    .filter(
      (i) => i.InstanceId !== input.instanceId && /^Pending:(Wait|Proceed)$/.test(i.LifecycleState ?? ""),
    )
    .map((i) => i.InstanceId ?? "");
  const hookSeconds =
    waiting.length > 0 ? await launchHookSeconds(deps.clients.autoScaling, replaced.groupName) : 0;
  const minutes = deps.policy.containment.replacementTimeoutMinutes;
  const timeoutMs = minutes * 60_000 + hookSeconds * 1000;
  // The wait begins when the workflow starts waiting: the detach, or the end of the evidence
  // steps that follow it (they can take hours, and the group may be short at that moment for
  // reasons of its own: a refresh, a scale-out).
  const since = Math.max(
    Date.parse(replaced.detachedAt ?? checkedAt),
    Date.parse(
      state.results.evidenceStatus?.completedAt ?? state.results.evidenceStatus?.checkedAt ?? checkedAt,
    ),
  );
  if (Date.parse(checkedAt) - since > timeoutMs) {
    throw new ContainmentStepError(
      "Phoenix.Timeout",
      `Group ${replaced.groupName} has ${healthyCount} of ${desiredCapacity} healthy instances ${minutes} minutes` +
        `${hookSeconds > 0 ? ` (+ ${hookSeconds} s of launch lifecycle hook: ${waiting.join(", ")} in Pending:Wait)` : ""}` +
        " after the detach and the evidence (containment.replacementTimeoutMinutes).",
    );
  }
  return {
    healthy: false,
    healthyCount,
    desiredCapacity,
    checkedAt,
    ...(waiting.length > 0 ? { waitingForLifecycleHook: waiting } : {}),
  };
}

/** The longest heartbeat timeout of the group's launch hooks (AWS's default is 3600 s). */
async function launchHookSeconds(autoScaling: AutoScalingClient, group: string): Promise<number> {
  const { LifecycleHooks = [] } = await autoScaling.send(
    new DescribeLifecycleHooksCommand({ AutoScalingGroupName: group }),
  );
  return Math.max(
    0,
    ...LifecycleHooks.filter((hook) => hook.LifecycleTransition === "autoscaling:EC2_INSTANCE_LAUNCHING").map(
      (hook) => hook.HeartbeatTimeout ?? 3600,
    ),
  );
}
