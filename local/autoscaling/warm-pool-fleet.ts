import { AttachInstancesCommand, AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import {
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import type { LocalCloudContext } from "../core/context.js";
import { inAccount } from "../gateway/moto-account.js";
import type { LaunchedFrom } from "./health.js";
import { autoScalingEc2 } from "./service-ec2.js";

/**
 * The EC2 and Auto Scaling calls warm pools make, straight to moto. moto has no warm pools: a
 * warm instance is an ordinary EC2 instance launched from the group's launch template version
 * (so its ImageId is that version's), stopped when the pool state says so, and attached to
 * moto's group when the group scales out into it.
 */

export interface LaunchedWarm {
  instanceId: string;
  imageId?: string;
  instanceType?: string;
  availabilityZone?: string;
}

/** Where to launch: a subnet of the group's, or else one of its Availability Zones. */
export interface WarmPlacement {
  subnetId?: string;
  availabilityZone?: string;
}

/** The tag AWS puts on every instance it launches for a group, warm pool included. */
const GROUP_TAG = "aws:autoscaling:groupName";

export class WarmPoolFleet {
  private readonly autoscaling: AutoScalingClient;
  private readonly ec2: EC2Client;

  constructor(context: Pick<LocalCloudContext, "internalClientConfig" | "accountId">) {
    this.autoscaling = inAccount(new AutoScalingClient(context.internalClientConfig), context.accountId);
    this.ec2 = autoScalingEc2(context);
  }

  async launch(groupName: string, from: LaunchedFrom, placement: WarmPlacement): Promise<LaunchedWarm> {
    const { Instances = [] } = await this.ec2.send(
      new RunInstancesCommand({
        MinCount: 1,
        MaxCount: 1,
        LaunchTemplate: { LaunchTemplateId: from.LaunchTemplateId, Version: from.Version },
        ...(placement.subnetId ? { SubnetId: placement.subnetId } : {}),
        ...(placement.availabilityZone && !placement.subnetId
          ? { Placement: { AvailabilityZone: placement.availabilityZone } }
          : {}),
        TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: GROUP_TAG, Value: groupName }] }],
      }),
    );
    const instance = Instances[0];
    if (!instance?.InstanceId) throw new Error(`EC2 launched no instance from ${from.LaunchTemplateId}`);
    return {
      instanceId: instance.InstanceId,
      ...(instance.ImageId ? { imageId: instance.ImageId } : {}),
      ...(instance.InstanceType ? { instanceType: instance.InstanceType } : {}),
      ...(instance.Placement?.AvailabilityZone
        ? { availabilityZone: instance.Placement.AvailabilityZone }
        : {}),
    };
  }

  async stop(instanceIds: string[], hibernate: boolean): Promise<void> {
    if (instanceIds.length === 0) return;
    await this.ec2.send(
      new StopInstancesCommand({ InstanceIds: instanceIds, ...(hibernate ? { Hibernate: true } : {}) }),
    );
  }

  async start(instanceIds: string[]): Promise<void> {
    if (instanceIds.length) await this.ec2.send(new StartInstancesCommand({ InstanceIds: instanceIds }));
  }

  async terminate(instanceIds: string[]): Promise<void> {
    if (instanceIds.length) await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }));
  }

  /** Into moto's group (moto raises its desired capacity by as many). */
  async attach(groupName: string, instanceIds: string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    await this.autoscaling.send(
      new AttachInstancesCommand({ AutoScalingGroupName: groupName, InstanceIds: instanceIds }),
    );
  }

  /** Whether the version asks for Spot Instances (InstanceMarketOptions.MarketType spot). */
  async requestsSpot(from: LaunchedFrom): Promise<boolean> {
    const { LaunchTemplateVersions = [] } = await this.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: from.LaunchTemplateId,
        Versions: [from.Version],
      }),
    );
    return LaunchTemplateVersions[0]?.LaunchTemplateData?.InstanceMarketOptions?.MarketType === "spot";
  }
}
