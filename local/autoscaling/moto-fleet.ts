import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  AssociateIamInstanceProfileCommand,
  CreateTagsCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeTagsCommand,
  EC2Client,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import type { LocalCloudContext } from "../core/context.js";
import { inAccount } from "../gateway/moto-account.js";
import { type LaunchedFrom, UNHEALTHY_IMAGE_TAG } from "./health.js";
import type { LaunchTemplateSpec, MixedInstancesPolicy } from "./refresh-model.js";
import { autoScalingEc2 } from "./service-ec2.js";

/**
 * The Auto Scaling and EC2 calls the refresh engine makes, straight to moto (no faults, not in
 * the call log), returning plain data. What moto does that the engine relies on:
 * - TerminateInstanceInAutoScalingGroup without decrement detaches the instance, launches its
 *   replacement at once from the group's current launch template version, then terminates it;
 *   with decrement it lowers desired capacity instead of replacing.
 * - SetDesiredCapacity above the current count launches the difference from the current version
 *   (moto does not check MaxSize, which lets a refresh exceed desired capacity as AWS does).
 * - UpdateAutoScalingGroup with LaunchTemplate switches the version new instances launch from.
 * What moto does not do: give the instances it launches for a group the launch template
 * version's instance profile (see launch-profiles.ts).
 */

export interface GroupInstance {
  instanceId: string;
  lifecycleState: string;
  healthStatus: string;
  availabilityZone?: string;
  protectedFromScaleIn: boolean;
}

/** One instance as DescribeAutoScalingInstances answers it (what a held instance keeps showing). */
export interface GroupMembership {
  instanceId: string;
  groupName: string;
  instanceType?: string;
  availabilityZone?: string;
  lifecycleState: string;
  healthStatus: string;
  launchTemplate?: LaunchTemplateSpec;
  protectedFromScaleIn: boolean;
}

export interface GroupSnapshot {
  name: string;
  arn: string;
  desiredCapacity: number;
  maxSize: number;
  /** Where the group launches: its zones, and its subnets (VPCZoneIdentifier) when it has some. */
  availabilityZones: string[];
  subnetIds: string[];
  healthCheckGracePeriod?: number;
  launchTemplate?: LaunchTemplateSpec;
  launchConfigurationName?: string;
  usesMixedInstancesPolicy: boolean;
  /** As moto returns it; `launchTemplate` is then its LaunchTemplateSpecification. */
  mixedInstancesPolicy?: MixedInstancesPolicy;
  instances: GroupInstance[];
}

export interface InstanceFacts {
  instanceId: string;
  imageId?: string;
  availabilityZone?: string;
  subnetId?: string;
  /** The instance profile associated with the instance, if any. */
  instanceProfileArn?: string;
}

/** A launch template's IamInstanceProfile: by ARN or by name, as the template has it. */
export interface InstanceProfileSpec {
  Arn?: string;
  Name?: string;
}

export interface LaunchTemplateFacts {
  id: string;
  name: string;
  defaultVersion: number;
  latestVersion: number;
}

export class MotoFleet {
  private readonly autoscaling: AutoScalingClient;
  private readonly ec2: EC2Client;

  /** EC2 in each local account, for what an image is wherever it was made (unhealthyImageIds). */
  private readonly imageOwners: Map<string, EC2Client>;

  /**
   * `imageAccounts`: the local accounts whose images this place's groups may launch (shared
   * ones among them); this place's own account when not given.
   */
  constructor(
    context: Pick<LocalCloudContext, "internalClientConfig" | "accountId">,
    imageAccounts: readonly string[] = [context.accountId],
  ) {
    this.autoscaling = inAccount(new AutoScalingClient(context.internalClientConfig), context.accountId);
    this.ec2 = autoScalingEc2(context);
    this.imageOwners = new Map(
      imageAccounts.map((account) => [
        account,
        inAccount(new EC2Client(context.internalClientConfig), account),
      ]),
    );
  }

  /** EC2 in one of the image accounts, in this fleet's region (launch-permission.ts asks there). */
  ec2In(account: string): EC2Client {
    const client = this.imageOwners.get(account);
    if (!client) throw new Error(`account ${account} is not one of this fleet's image accounts`);
    return client;
  }

  /** The named groups (all groups when no names are given) as moto has them. */
  async describeGroups(names: string[] = []): Promise<GroupSnapshot[]> {
    const groups: GroupSnapshot[] = [];
    let token: string | undefined;
    do {
      const page = await this.autoscaling.send(
        new DescribeAutoScalingGroupsCommand({
          ...(names.length ? { AutoScalingGroupNames: names } : {}),
          NextToken: token,
          MaxRecords: 100,
        }),
      );
      for (const group of page.AutoScalingGroups ?? []) {
        const mixed = group.MixedInstancesPolicy as MixedInstancesPolicy | undefined;
        const lt = group.LaunchTemplate ?? mixed?.LaunchTemplate?.LaunchTemplateSpecification;
        groups.push({
          name: group.AutoScalingGroupName ?? "",
          arn: group.AutoScalingGroupARN ?? "",
          desiredCapacity: group.DesiredCapacity ?? 0,
          maxSize: group.MaxSize ?? 0,
          availabilityZones: group.AvailabilityZones ?? [],
          subnetIds: (group.VPCZoneIdentifier ?? "").split(",").filter((s) => s.trim() !== ""),
          ...(group.HealthCheckGracePeriod !== undefined
            ? { healthCheckGracePeriod: group.HealthCheckGracePeriod }
            : {}),
          ...(lt
            ? {
                launchTemplate: {
                  ...(lt.LaunchTemplateId ? { LaunchTemplateId: lt.LaunchTemplateId } : {}),
                  ...(lt.LaunchTemplateName ? { LaunchTemplateName: lt.LaunchTemplateName } : {}),
                  ...(lt.Version ? { Version: lt.Version } : {}),
                },
              }
            : {}),
          ...(group.LaunchConfigurationName
            ? { launchConfigurationName: group.LaunchConfigurationName }
            : {}),
          usesMixedInstancesPolicy: mixed !== undefined,
          ...(mixed ? { mixedInstancesPolicy: mixed } : {}),
          instances: (group.Instances ?? []).map((i) => ({
            instanceId: i.InstanceId ?? "",
            lifecycleState: i.LifecycleState ?? "InService",
            healthStatus: i.HealthStatus ?? "Healthy",
            ...(i.AvailabilityZone ? { availabilityZone: i.AvailabilityZone } : {}),
            protectedFromScaleIn: i.ProtectedFromScaleIn ?? false,
          })),
        });
      }
      token = page.NextToken;
    } while (token);
    return groups;
  }

  async describeGroup(name: string): Promise<GroupSnapshot | undefined> {
    return (await this.describeGroups([name])).find((g) => g.name === name);
  }

  async describeInstances(instanceIds: string[]): Promise<InstanceFacts[]> {
    const facts: InstanceFacts[] = [];
    for (let i = 0; i < instanceIds.length; i += 100) {
      const result = await this.ec2.send(
        new DescribeInstancesCommand({ InstanceIds: instanceIds.slice(i, i + 100) }),
      );
      for (const reservation of result.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          facts.push({
            instanceId: instance.InstanceId ?? "",
            ...(instance.ImageId ? { imageId: instance.ImageId } : {}),
            ...(instance.Placement?.AvailabilityZone
              ? { availabilityZone: instance.Placement.AvailabilityZone }
              : {}),
            ...(instance.SubnetId ? { subnetId: instance.SubnetId } : {}),
            ...(instance.IamInstanceProfile?.Arn
              ? { instanceProfileArn: instance.IamInstanceProfile.Arn }
              : {}),
          });
        }
      }
    }
    return facts;
  }

  /**
   * Images tagged to fail health checks. DescribeTags, because moto answers it from its tag index
   * at once, while a tag filter on DescribeImages walks every public AMI it knows (~0.3 s).
   */
  async unhealthyImageIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    // The tag is the image's, read in the account that owns it: a member sees a shared image
    // without its tags, yet it boots as badly there.
    for (const ec2 of this.imageOwners.values()) for (const id of await unhealthyIn(ec2)) ids.add(id);
    return ids;
  }

  async describeLaunchTemplate(spec: LaunchTemplateSpec): Promise<LaunchTemplateFacts | undefined> {
    try {
      const result = await this.ec2.send(
        new DescribeLaunchTemplatesCommand(
          spec.LaunchTemplateId
            ? { LaunchTemplateIds: [spec.LaunchTemplateId] }
            : { LaunchTemplateNames: [spec.LaunchTemplateName ?? ""] },
        ),
      );
      const template = result.LaunchTemplates?.[0];
      if (!template?.LaunchTemplateId) return undefined;
      return {
        id: template.LaunchTemplateId,
        name: template.LaunchTemplateName ?? "",
        defaultVersion: template.DefaultVersionNumber ?? 1,
        latestVersion: template.LatestVersionNumber ?? 1,
      };
    } catch (error) {
      if (/NotFound|Malformed/i.test((error as Error).name)) return undefined;
      throw error;
    }
  }

  /** The IamInstanceProfile of one launch template version; undefined when it sets none. */
  async launchTemplateProfile(from: LaunchedFrom): Promise<InstanceProfileSpec | undefined> {
    const { LaunchTemplateVersions = [] } = await this.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: from.LaunchTemplateId,
        Versions: [from.Version],
      }),
    );
    const profile = LaunchTemplateVersions[0]?.LaunchTemplateData?.IamInstanceProfile;
    if (!profile?.Arn && !profile?.Name) return undefined;
    return { ...(profile.Arn ? { Arn: profile.Arn } : {}), ...(profile.Name ? { Name: profile.Name } : {}) };
  }

  /** The ImageId of a launch template version (the default one when none is named). */
  async launchTemplateImage(spec: LaunchTemplateSpec): Promise<string | undefined> {
    const { LaunchTemplateVersions = [] } = await this.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        ...(spec.LaunchTemplateId
          ? { LaunchTemplateId: spec.LaunchTemplateId }
          : { LaunchTemplateName: spec.LaunchTemplateName }),
        Versions: [spec.Version ?? "$Default"],
      }),
    );
    return LaunchTemplateVersions[0]?.LaunchTemplateData?.ImageId;
  }

  async associateInstanceProfile(instanceId: string, profile: InstanceProfileSpec): Promise<void> {
    await this.ec2.send(
      new AssociateIamInstanceProfileCommand({ InstanceId: instanceId, IamInstanceProfile: profile }),
    );
  }

  async setLaunchTemplate(groupName: string, spec: LaunchTemplateSpec): Promise<void> {
    // Auto Scaling takes the template by id or by name, never both (Describe answers show both).
    const template = spec.LaunchTemplateId
      ? { LaunchTemplateId: spec.LaunchTemplateId }
      : { LaunchTemplateName: spec.LaunchTemplateName };
    await this.autoscaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: groupName,
        LaunchTemplate: { ...template, ...(spec.Version ? { Version: spec.Version } : {}) },
      }),
    );
  }

  /** A mixed group's policy, whole (moto replaces the policy it had with what it is given). */
  async setMixedInstancesPolicy(groupName: string, policy: MixedInstancesPolicy): Promise<void> {
    const spec = policy.LaunchTemplate?.LaunchTemplateSpecification;
    const named = spec?.LaunchTemplateId
      ? { LaunchTemplateId: spec.LaunchTemplateId }
      : { LaunchTemplateName: spec?.LaunchTemplateName };
    await this.autoscaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: groupName,
        MixedInstancesPolicy: {
          ...policy,
          LaunchTemplate: {
            ...policy.LaunchTemplate,
            LaunchTemplateSpecification: { ...named, ...(spec?.Version ? { Version: spec.Version } : {}) },
          },
        } as NonNullable<
          ConstructorParameters<typeof UpdateAutoScalingGroupCommand>[0]["MixedInstancesPolicy"]
        >,
      }),
    );
  }

  async setDesiredCapacity(groupName: string, capacity: number): Promise<void> {
    await this.autoscaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: groupName, DesiredCapacity: capacity }),
    );
  }

  /** The instances' group memberships as moto has them (none for instances outside any group). */
  async memberships(instanceIds: string[]): Promise<GroupMembership[]> {
    if (instanceIds.length === 0) return [];
    const { AutoScalingInstances = [] } = await this.autoscaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: instanceIds }),
    );
    return AutoScalingInstances.map((i) => ({
      instanceId: i.InstanceId ?? "",
      groupName: i.AutoScalingGroupName ?? "",
      ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
      ...(i.AvailabilityZone ? { availabilityZone: i.AvailabilityZone } : {}),
      lifecycleState: i.LifecycleState ?? "InService",
      healthStatus: i.HealthStatus ?? "HEALTHY",
      ...(i.LaunchTemplate
        ? {
            launchTemplate: {
              ...(i.LaunchTemplate.LaunchTemplateId
                ? { LaunchTemplateId: i.LaunchTemplate.LaunchTemplateId }
                : {}),
              ...(i.LaunchTemplate.LaunchTemplateName
                ? { LaunchTemplateName: i.LaunchTemplate.LaunchTemplateName }
                : {}),
              ...(i.LaunchTemplate.Version ? { Version: i.LaunchTemplate.Version } : {}),
            },
          }
        : {}),
      protectedFromScaleIn: i.ProtectedFromScaleIn ?? false,
    }));
  }

  /**
   * Takes instances out of moto's group while they wait for terminate hooks: moto then launches
   * their replacements (without decrement) or lowers desired capacity (with), as AWS does when a
   * termination starts. The group tag goes back on, since AWS keeps it until the instance is gone.
   */
  async detachForTermination(groupName: string, instanceIds: string[], decrement: boolean): Promise<void> {
    await this.autoscaling.send(
      new DetachInstancesCommand({
        AutoScalingGroupName: groupName,
        InstanceIds: instanceIds,
        ShouldDecrementDesiredCapacity: decrement,
      }),
    );
    await this.ec2
      .send(
        new CreateTagsCommand({
          Resources: instanceIds,
          Tags: [{ Key: "aws:autoscaling:groupName", Value: groupName }],
        }),
      )
      .catch(() => {});
  }

  async terminateInstances(instanceIds: string[]): Promise<void> {
    if (instanceIds.length) await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }));
  }

  /** False when the instance already left the group (e.g. a containment detached it): nothing to do. */
  async terminateInGroup(instanceId: string, decrementDesiredCapacity: boolean): Promise<boolean> {
    // moto answers TerminateInstanceInAutoScalingGroup on an instance outside any group with an
    // HTML 500; AWS with a ValidationError. Either way the refresh has nothing left to replace.
    const { AutoScalingInstances = [] } = await this.autoscaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
    );
    if (AutoScalingInstances.length === 0) return false;
    await this.autoscaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: instanceId,
        ShouldDecrementDesiredCapacity: decrementDesiredCapacity,
      }),
    );
    return true;
  }
}

/** Images of one account tagged to fail health checks (UNHEALTHY_IMAGE_TAG). */
async function unhealthyIn(ec2: EC2Client): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeTagsCommand({
        Filters: [
          { Name: "resource-type", Values: ["image"] },
          { Name: "key", Values: [UNHEALTHY_IMAGE_TAG.key] },
          { Name: "value", Values: [UNHEALTHY_IMAGE_TAG.value] },
        ],
        NextToken: token,
      }),
    );
    for (const tag of page.Tags ?? []) if (tag.ResourceId) ids.push(tag.ResourceId);
    token = page.NextToken;
  } while (token);
  return ids;
}
