import { DescribeAutoScalingInstancesCommand, DetachInstancesCommand } from "@aws-sdk/client-auto-scaling";
import type { PhoenixDeps } from "../../deps.js";
import { once } from "../aws/once.js";
import { ACTOR, type ContainState, instanceSubject, type ReplaceResult } from "../core/types.js";

/**
 * Step 6 (start): take the instance out of its group without lowering the desired capacity, so
 * the group launches a clean replacement from its current launch template (and deregisters the
 * instance from its target groups). Checked first: an instance that already left the group (an
 * earlier attempt detached it) is not detached again, which AWS would refuse anyway.
 * A standalone instance has nothing to replace it: people are told.
 */
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

  const inGroup =
    membership !== undefined && !/^(Detaching|Detached|Terminat)/.test(membership.LifecycleState ?? "");
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
