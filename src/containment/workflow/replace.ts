import { DescribeAutoScalingInstancesCommand, DetachInstancesCommand } from "@aws-sdk/client-auto-scaling";
import type { PhoenixDeps } from "../../deps.js";
import { findInstance, isGone } from "../aws/instance.js";
import { once } from "../aws/once.js";
import { ContainmentStepError } from "../core/errors.js";
import { ACTOR, type ContainState, instanceSubject, type ReplaceResult } from "../core/types.js";

/**
 * Step 5, once hardened and its credentials revoked: take the instance out of its group without lowering the desired
 * capacity, so the group launches a clean replacement from its current launch template (and
 * deregisters the instance from its target groups). It comes before the evidence steps, which
 * take minutes: termination protection does not bind Auto Scaling, so until the instance leaves
 * its group an instance refresh, a scale-in or a health replacement (its load balancer checks
 * fail once it is isolated) could terminate it and lose what is only in memory. Checked first: an instance that already left the group (an
 * earlier attempt detached it) is not detached again, which AWS would refuse anyway.
 * A standalone instance has nothing to replace it: people are told.
 */
/** What is left when the group took the instance first (the steps before this one ran). */
const LOST_TO_THE_GROUP =
  "its credentials are already revoked and its volumes kept (DeleteOnTermination=false) for a person to snapshot; what was only in memory is lost.";

export async function replace(deps: PhoenixDeps, state: ContainState): Promise<ReplaceResult> {
  const input = state.containment;
  const { AutoScalingInstances = [] } = await deps.clients.autoScaling.send(
    new DescribeAutoScalingInstancesCommand({ InstanceIds: [input.instanceId] }),
  );
  const membership = AutoScalingInstances[0];
  const groupName = membership?.AutoScalingGroupName ?? input.groupName;

  if (!groupName) {
    await deps.audit.write(
      {
        subject: instanceSubject(input.instanceId),
        action: "replace",
        outcome: "skipped",
        actor: ACTOR,
        execution: input.containmentId,
        findingId: input.findingId,
        reason: "standalone instance: no Auto Scaling group replaces it",
      },
      `${input.containmentId}#replace`,
    );
    await once(deps, `${input.containmentId}#standalone`, () =>
      deps.notifier.notify({
        kind: "containment",
        severity: "warning",
        subject: `Not replaced: ${input.instanceId} is standalone`,
        message: `Instance ${input.instanceId} (finding ${input.findingType}) is isolated and kept, but it belongs to no Auto Scaling group, so Phoenix cannot replace it. Whatever it served is down until a person provides a replacement.`,
        data: {
          instanceId: input.instanceId,
          containmentId: input.containmentId,
          findingId: input.findingId,
        },
      }),
    );
    return { replaced: false };
  }

  // The group got there first (a refresh, a scale-in, a health replacement): the instance is
  // going, and the evidence steps would find nothing to keep. Said plainly, not retried.
  if (membership && /^Terminat/.test(membership.LifecycleState ?? "")) {
    throw new ContainmentStepError(
      "Phoenix.InstanceGone",
      `Instance ${input.instanceId} is being terminated by its Auto Scaling group ${groupName} (${membership.LifecycleState}) before Phoenix could detach it; ${LOST_TO_THE_GROUP}`,
    );
  }
  if (!membership) {
    // Out of the group already: an earlier attempt detached it (the instance runs on), or the
    // group terminated it before this step ran. Only the second is asked about, and only here.
    const instance = await findInstance(deps, input.instanceId);
    if (!instance || isGone(instance)) {
      throw new ContainmentStepError(
        "Phoenix.InstanceGone",
        `Instance ${input.instanceId} left its Auto Scaling group ${groupName} and is ${instance?.State?.Name ?? "gone"} before Phoenix could detach it (a refresh, a scale-in or a health replacement terminates despite termination protection); ${LOST_TO_THE_GROUP}`,
      );
    }
  }
  const inGroup = membership !== undefined && !/^(Detaching|Detached)/.test(membership.LifecycleState ?? "");
  if (inGroup) {
    await deps.clients.autoScaling.send(
      new DetachInstancesCommand({
        AutoScalingGroupName: groupName,
        InstanceIds: [input.instanceId],
        ShouldDecrementDesiredCapacity: false,
      }),
    );
  }
  const detachedAt = deps.now().toISOString();
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "detach",
      outcome: "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      details: { groupName, detachedNow: inGroup, shouldDecrementDesiredCapacity: false, detachedAt },
    },
    `${input.containmentId}#detach`,
  );
  return { replaced: true, groupName, detachedAt };
}
