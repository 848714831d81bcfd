import { randomUUID } from "node:crypto";
import type { BusEvent } from "../core/context.js";
import type { TrackedInstance } from "./health.js";

/**
 * The EventBridge events EC2 Auto Scaling emits during an instance refresh, in AWS's shapes
 * (see ../shared/events/instance-refresh and ec2-lifecycle). The bus adds the envelope.
 */

const SOURCE = "aws.autoscaling";

export type RefreshEventKind =
  | "Started"
  | "Succeeded"
  | "Failed"
  | "Cancelled"
  | "Rollback Started"
  | "Rollback Succeeded"
  | "Rollback Failed";

export interface RefreshSubject {
  refreshId: string;
  groupName: string;
  groupArn: string;
}

export function refreshEvent(kind: RefreshEventKind, subject: RefreshSubject): BusEvent {
  return {
    source: SOURCE,
    detailType: `EC2 Auto Scaling Instance Refresh ${kind}`,
    resources: [subject.groupArn],
    detail: { InstanceRefreshId: subject.refreshId, AutoScalingGroupName: subject.groupName },
  };
}

/** AWS sends the checkpoint numbers as strings. */
export function checkpointEvent(subject: RefreshSubject, percentage: number, delaySeconds: number): BusEvent {
  return {
    source: SOURCE,
    detailType: "EC2 Auto Scaling Instance Refresh Checkpoint Reached",
    resources: [subject.groupArn],
    detail: {
      InstanceRefreshId: subject.refreshId,
      AutoScalingGroupName: subject.groupName,
      CheckpointPercentage: String(percentage),
      CheckpointDelay: String(delaySeconds),
    },
  };
}

export interface InstanceActivity {
  kind: "Launch" | "Terminate";
  groupName: string;
  groupArn: string;
  instanceId: string;
  instance?: TrackedInstance;
  region: string;
  accountId: string;
  /** Simulated epoch milliseconds. */
  startTime: number;
  endTime: number;
}

/** `EC2 Instance Launch Successful` / `EC2 Instance Terminate Successful` for one instance. */
export function instanceActivityEvent(activity: InstanceActivity): BusEvent {
  const at = new Date(activity.startTime).toISOString();
  const launching = activity.kind === "Launch";
  return {
    source: SOURCE,
    detailType: `EC2 Instance ${activity.kind} Successful`,
    resources: [
      activity.groupArn,
      `arn:aws:ec2:${activity.region}:${activity.accountId}:instance/${activity.instanceId}`,
    ],
    detail: {
      StatusCode: "InProgress",
      Description: launching
        ? `Launching a new EC2 instance: ${activity.instanceId}`
        : `Terminating EC2 instance: ${activity.instanceId}`,
      AutoScalingGroupName: activity.groupName,
      ActivityId: randomUUID(),
      Details: {
        "Availability Zone": activity.instance?.availabilityZone ?? "",
        "Subnet ID": activity.instance?.subnetId ?? "",
      },
      RequestId: randomUUID(),
      StatusMessage: "",
      EndTime: new Date(activity.endTime).toISOString(),
      EC2InstanceId: activity.instanceId,
      StartTime: at,
      Cause: launching
        ? `At ${at} an instance was launched in response to an instance refresh.`
        : `At ${at} an instance was taken out of service in response to an instance refresh. At ${at} instance ${activity.instanceId} was selected for termination.`,
    },
  };
}

/** Where an instance comes from and goes to in a lifecycle action (warm pools add `WarmPool`). */
export type LifecycleEnd = "EC2" | "AutoScalingGroup" | "WarmPool";

export interface LifecycleActionSubject {
  groupName: string;
  groupArn: string;
  instanceId: string;
  hookName: string;
  token: string;
  transition: "autoscaling:EC2_INSTANCE_LAUNCHING" | "autoscaling:EC2_INSTANCE_TERMINATING";
  notificationMetadata?: string;
  origin: LifecycleEnd;
  destination: LifecycleEnd;
}

/**
 * `EC2 Instance-launch Lifecycle Action` / `EC2 Instance-terminate Lifecycle Action`, sent when an
 * instance enters a wait state for a hook (user guide, event reference and warm pool events):
 * NotificationMetadata only when the hook has some; Origin/Destination EC2 → AutoScalingGroup
 * for a launch into the group, AutoScalingGroup → EC2 for a termination, EC2 → WarmPool and
 * WarmPool → AutoScalingGroup with a warm pool.
 */
export function lifecycleActionEvent(subject: LifecycleActionSubject): BusEvent {
  const launching = subject.transition === "autoscaling:EC2_INSTANCE_LAUNCHING";
  return {
    source: SOURCE,
    detailType: launching
      ? "EC2 Instance-launch Lifecycle Action"
      : "EC2 Instance-terminate Lifecycle Action",
    resources: [subject.groupArn],
    detail: {
      LifecycleActionToken: subject.token,
      AutoScalingGroupName: subject.groupName,
      LifecycleHookName: subject.hookName,
      EC2InstanceId: subject.instanceId,
      LifecycleTransition: subject.transition,
      ...(subject.notificationMetadata !== undefined
        ? { NotificationMetadata: subject.notificationMetadata }
        : {}),
      Origin: subject.origin,
      Destination: subject.destination,
    },
  };
}
