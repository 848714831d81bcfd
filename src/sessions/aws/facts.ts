import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { CreateTagsCommand } from "@aws-sdk/client-ec2";
import { awsErrorCode } from "../../aws/errors.js";
import { findInstance, tagsOf } from "../../containment/aws/instance.js";
import type { PhoenixDeps } from "../../deps.js";
import { declareTagWrite } from "../../iam/tag-writes.js";
import { TAG_TAINTED } from "../../tags.js";
import type { SessionFacts } from "../core/decide.js";

/** The tainted mark, on instances (IAM grants CreateTags for this key alone: build/iam). */
export const TAINTED_TAG_WRITE = declareTagWrite({ resource: "instance", keys: [TAG_TAINTED] });

/**
 * What the session decision needs, read and never changed: the instance (EC2), its place in its
 * Auto Scaling group, and the group's tags and capacity. Three reads, the last two only when the
 * instance exists and is in a group.
 */
export async function readSessionFacts(deps: PhoenixDeps, instanceId: string): Promise<SessionFacts> {
  const instance = await findInstance(deps, instanceId);
  if (!instance) return {};
  const facts: SessionFacts = {
    instance: { state: instance.State?.Name ?? "unknown", tags: tagsOf(instance.Tags) },
  };
  const { AutoScalingInstances } = await deps.clients.autoScaling.send(
    new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
  );
  const membership = AutoScalingInstances?.[0];
  if (!membership?.AutoScalingGroupName) return facts;
  facts.membership = {
    groupName: membership.AutoScalingGroupName,
    lifecycleState: membership.LifecycleState ?? "unknown",
  };
  const { AutoScalingGroups } = await deps.clients.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [membership.AutoScalingGroupName] }),
  );
  const group = AutoScalingGroups?.[0];
  if (group) {
    facts.group = {
      name: membership.AutoScalingGroupName,
      tags: tagsOf(group.Tags),
      desired: group.DesiredCapacity ?? 0,
      inServiceHealthy: (group.Instances ?? []).filter(
        (i) => i.LifecycleState === "InService" && i.HealthStatus === "Healthy",
      ).length,
    };
  }
  return facts;
}

/** Marks the instance tainted (a mark already there is kept: it names the first session). */
export async function markTainted(
  deps: PhoenixDeps,
  instanceId: string,
  existing: string | undefined,
  value: string,
): Promise<boolean> {
  if (existing !== undefined) return false;
  await deps.clients.ec2.send(
    new CreateTagsCommand({
      Resources: [instanceId],
      Tags: TAINTED_TAG_WRITE.tags({ [TAG_TAINTED]: value }),
    }),
  );
  return true;
}

/**
 * Has the group replace the instance: it terminates it (through its terminating lifecycle hooks,
 * so a draining hook still drains) and, the desired capacity kept, launches a clean instance from
 * its launch template. An instance the group already let go is not an error: nothing is left to do.
 */
export async function replaceThroughGroup(
  deps: PhoenixDeps,
  instanceId: string,
): Promise<"terminating" | "gone"> {
  try {
    await deps.clients.autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: instanceId,
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    return "terminating";
  } catch (error) {
    // "The instance … is not part of Auto Scaling group" / already terminating.
    const message = (error as Error).message ?? "";
    if (awsErrorCode(error) === "ValidationError" && /not part of|terminat/i.test(message)) return "gone";
    throw error;
  }
}
