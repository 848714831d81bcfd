import { DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import type { PhoenixDeps } from "../../deps.js";
import { ContainmentStepError } from "./errors.js";
import { ACTOR, type ContainState, instanceSubject, type ReplacementStatusResult } from "./types.js";

/**
 * Step 6 (wait): one poll of the group. It is whole again when it has its desired count of
 * instances that are InService and Healthy (the contained one no longer counts: it was detached).
 * Gives up after the policy's replacementTimeoutMinutes.
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
  const timeoutMs = deps.policy.containment.replacementTimeoutMinutes * 60_000;
  if (Date.parse(checkedAt) - Date.parse(replaced.detachedAt ?? checkedAt) > timeoutMs) {
    throw new ContainmentStepError(
      "Phoenix.Timeout",
      `Group ${replaced.groupName} has ${healthyCount} of ${desiredCapacity} healthy instances ${deps.policy.containment.replacementTimeoutMinutes} minutes after the detach (containment.replacementTimeoutMinutes).`,
    );
  }
  return { healthy: false, healthyCount, desiredCapacity, checkedAt };
}
