import { DescribeInstancesCommand, type Instance, type InstanceNetworkInterface } from "@aws-sdk/client-ec2";
import { isAwsError } from "../../aws/errors.js";
import type { PhoenixDeps } from "../../deps.js";
import type { Tags } from "../../findings/guardduty.js";
import { partitionOf } from "../../scope.js";
import { ContainmentStepError } from "../core/errors.js";

/** An instance with the account that owns it (which DescribeInstances reports on the reservation). */
export type OwnedInstance = Instance & { ownerId?: string };

/** The instance, or undefined when EC2 does not know it (wrong id, another account, long gone). */
export async function findInstance(
  deps: PhoenixDeps,
  instanceId: string,
): Promise<OwnedInstance | undefined> {
  try {
    const { Reservations } = await deps.clients.ec2.send(
      new DescribeInstancesCommand({ InstanceIds: [instanceId] }),
    );
    const reservation = Reservations?.[0];
    const instance = reservation?.Instances?.[0];
    // The owner lives on the reservation; keep it with the instance for its ARN.
    return instance
      ? { ...instance, ...(reservation?.OwnerId ? { ownerId: reservation.OwnerId } : {}) }
      : undefined;
  } catch (error) {
    if (isAwsError(error, "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed")) return undefined;
    throw error;
  }
}

/** A terminated (or terminating) instance has nothing left to contain. */
export function isGone(instance: Instance): boolean {
  const state = instance.State?.Name;
  return state === "terminated" || state === "shutting-down";
}

/** The instance as a step needs it: it exists and is not terminated, or the step cannot act. */
export async function describeLiveInstance(deps: PhoenixDeps, instanceId: string): Promise<OwnedInstance> {
  const instance = await findInstance(deps, instanceId);
  if (!instance) {
    throw new ContainmentStepError(
      "Phoenix.InstanceGone",
      `Instance ${instanceId} does not exist (EC2 does not know it).`,
    );
  }
  if (isGone(instance)) {
    throw new ContainmentStepError(
      "Phoenix.InstanceGone",
      `Instance ${instanceId} is ${instance.State?.Name}: there is nothing left to contain.`,
    );
  }
  return instance;
}

export function tagsOf(tags: readonly { Key?: string; Value?: string }[] | undefined): Tags {
  return Object.fromEntries((tags ?? []).flatMap((tag) => (tag.Key ? [[tag.Key, tag.Value ?? ""]] : [])));
}

/** Network interfaces attached to the instance (a detaching one no longer carries its traffic). */
export function attachedInterfaces(instance: Instance): InstanceNetworkInterface[] {
  return (instance.NetworkInterfaces ?? []).filter(
    (eni) => eni.NetworkInterfaceId && eni.Attachment?.Status !== "detached",
  );
}

export function ebsVolumes(
  instance: Instance,
): { deviceName: string; volumeId: string; deleteOnTermination: boolean }[] {
  return (instance.BlockDeviceMappings ?? []).flatMap((mapping) =>
    mapping.DeviceName && mapping.Ebs?.VolumeId
      ? [
          {
            deviceName: mapping.DeviceName,
            volumeId: mapping.Ebs.VolumeId,
            deleteOnTermination: mapping.Ebs.DeleteOnTermination === true,
          },
        ]
      : [],
  );
}

export { partitionOf };

export function instanceArn(region: string, ownerId: string, instanceId: string): string {
  return `arn:${partitionOf(region)}:ec2:${region}:${ownerId}:instance/${instanceId}`;
}

/** A JSON-safe copy of an SDK object (dates become strings) for the audit trail. */
export function plain<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value));
}
