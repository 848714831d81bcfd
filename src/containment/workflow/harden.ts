import { DescribeInstanceAttributeCommand, ModifyInstanceAttributeCommand } from "@aws-sdk/client-ec2";
import type { PhoenixDeps } from "../../deps.js";
import { describeLiveInstance, ebsVolumes } from "../aws/instance.js";
import { ACTOR, type ContainState, type HardenResult, instanceSubject } from "../core/types.js";

export const hardenOriginalKey = (containmentId: string): string => `${containmentId}#harden-original`;

export interface HardenOriginal {
  disableApiTermination: boolean;
  shutdownBehavior: string;
  /** Device name → DeleteOnTermination before Phoenix set it false. */
  deleteOnTermination: Record<string, boolean>;
}

/**
 * Step 3: nothing Phoenix does later may lose the evidence. Termination protection on, shutdown
 * from inside the instance only stops it, and the volumes outlive the instance. The attributes
 * are read first and only what differs is changed; the values found are audited before any
 * change (first attempt wins), which is what release restores.
 */
export async function harden(deps: PhoenixDeps, state: ContainState): Promise<HardenResult> {
  const input = state.containment;
  const ec2 = deps.clients.ec2;
  const [instance, termination, shutdown] = await Promise.all([
    describeLiveInstance(deps, input.instanceId),
    ec2.send(
      new DescribeInstanceAttributeCommand({
        InstanceId: input.instanceId,
        Attribute: "disableApiTermination",
      }),
    ),
    ec2.send(
      new DescribeInstanceAttributeCommand({
        InstanceId: input.instanceId,
        Attribute: "instanceInitiatedShutdownBehavior",
      }),
    ),
  ]);
  const volumes = ebsVolumes(instance);
  const found: HardenOriginal = {
    disableApiTermination: termination.DisableApiTermination?.Value === true,
    shutdownBehavior: shutdown.InstanceInitiatedShutdownBehavior?.Value ?? "stop",
    deleteOnTermination: Object.fromEntries(volumes.map((v) => [v.deviceName, v.deleteOnTermination])),
  };
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "record-original-attributes",
      outcome: "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      details: found as unknown as Record<string, unknown>,
    },
    hardenOriginalKey(input.containmentId),
  );

  const changes: { name: string; command: ModifyInstanceAttributeCommand }[] = [];
  if (!found.disableApiTermination) {
    changes.push({
      name: "termination-protection",
      command: new ModifyInstanceAttributeCommand({
        InstanceId: input.instanceId,
        DisableApiTermination: { Value: true },
      }),
    });
  }
  if (found.shutdownBehavior !== "stop") {
    changes.push({
      name: "shutdown-behavior-stop",
      command: new ModifyInstanceAttributeCommand({
        InstanceId: input.instanceId,
        InstanceInitiatedShutdownBehavior: { Value: "stop" },
      }),
    });
  }
  const deletable = volumes.filter((v) => v.deleteOnTermination);
  if (deletable.length > 0) {
    changes.push({
      name: "keep-volumes",
      command: new ModifyInstanceAttributeCommand({
        InstanceId: input.instanceId,
        BlockDeviceMappings: deletable.map((v) => ({
          DeviceName: v.deviceName,
          Ebs: { DeleteOnTermination: false },
        })),
      }),
    });
  }
  // Each call sets one attribute (EC2 allows no more), and they are independent.
  await Promise.all(changes.map((change) => ec2.send(change.command)));

  const hardenedAt = deps.now().toISOString();
  await deps.audit.write(
    {
      subject: instanceSubject(input.instanceId),
      action: "harden",
      outcome: "ok",
      actor: ACTOR,
      execution: input.containmentId,
      findingId: input.findingId,
      details: { changed: changes.map((c) => c.name), volumes: volumes.map((v) => v.volumeId), hardenedAt },
    },
    `${input.containmentId}#harden`,
  );
  return { changed: changes.map((c) => c.name), hardenedAt };
}
