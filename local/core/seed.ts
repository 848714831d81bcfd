import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  ModifyImageAttributeCommand,
  RegisterImageCommand,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  IAMClient,
} from "@aws-sdk/client-iam";

/** The demo fleet `npm start` runs Phoenix on: two image families, groups in two waves. */
export interface DemoGroupSpec {
  name: string;
  family: string;
  wave?: number;
  managed: boolean;
  protected?: boolean;
  desired: number;
}

export const DEMO_GROUPS: DemoGroupSpec[] = [
  { name: "web-frontend", family: "web", wave: 1, managed: true, desired: 3 },
  { name: "web-backend", family: "web", wave: 2, managed: true, desired: 2 },
  { name: "api", family: "api", wave: 1, managed: true, desired: 2 },
  { name: "web-legacy", family: "web", managed: false, desired: 1 },
];

export interface SeededFleet {
  vpcId: string;
  subnetIds: string[];
  appSecurityGroupId: string;
  instanceProfileName: string;
  roleName: string;
  images: Record<string, string>;
  groups: { name: string; launchTemplateId: string; instanceIds: string[] }[];
  standaloneInstanceId: string;
}

type ClientConfig = ConstructorParameters<typeof EC2Client>[0] & object;

export interface ImageSpec {
  family: string;
  name: string;
  tags?: Record<string, string>;
  /** Accounts the image is shared with (launch permission), as a platform team shares it with members. */
  sharedWith?: readonly string[];
}

/** Registers an AMI of a family with the tags the image gate expects of a good image. */
export async function registerImage(ec2: EC2Client, spec: ImageSpec): Promise<string> {
  const { ImageId } = await ec2.send(
    new RegisterImageCommand({
      Name: spec.name,
      Architecture: "x86_64",
      RootDeviceName: "/dev/xvda",
      VirtualizationType: "hvm",
      BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { VolumeSize: 8, VolumeType: "gp3" } }],
    }),
  );
  if (!ImageId) throw new Error(`RegisterImage returned no image id for ${spec.name}`);
  if (spec.sharedWith !== undefined && spec.sharedWith.length > 0)
    await ec2.send(
      new ModifyImageAttributeCommand({
        ImageId,
        LaunchPermission: { Add: spec.sharedWith.map((UserId) => ({ UserId })) },
      }),
    );
  const tags = { "phoenix:image-family": spec.family, "phoenix:scan-status": "passed", ...spec.tags };
  await ec2.send(
    new CreateTagsCommand({
      Resources: [ImageId],
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
  return ImageId;
}

export async function seedDemoFleet(
  config: ClientConfig,
  groups: DemoGroupSpec[] = DEMO_GROUPS,
): Promise<SeededFleet> {
  const ec2 = new EC2Client(config);
  const autoScaling = new AutoScalingClient(config);
  const iam = new IAMClient(config);

  const subnets = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  const vpcId = subnets[0]?.VpcId;
  if (!vpcId) throw new Error("the local cloud has no default VPC to seed the demo fleet into");
  const subnetIds = subnets
    .filter((s) => s.VpcId === vpcId)
    .slice(0, 3)
    .map((s) => s.SubnetId!);

  const { GroupId: appSecurityGroupId } = await ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: "demo-app",
      Description: "demo application traffic",
      VpcId: vpcId,
    }),
  );
  const roleName = "demo-app-role";
  const instanceProfileName = "demo-app-profile";
  await iam.send(
    new CreateRoleCommand({
      RoleName: roleName,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
        ],
      }),
      // A fleet role (DESIGN.md): Phoenix may pass it to EC2 and write its revocation on it.
      Tags: [{ Key: "phoenix:fleet-role", Value: "true" }],
    }),
  );
  await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: instanceProfileName }));
  await iam.send(
    new AddRoleToInstanceProfileCommand({ InstanceProfileName: instanceProfileName, RoleName: roleName }),
  );

  const families = [...new Set(groups.map((g) => g.family))];
  const images: Record<string, string> = {};
  for (const family of families)
    images[family] = await registerImage(ec2, { family, name: `golden-${family}-v1` });

  const seeded: SeededFleet["groups"] = [];
  for (const group of groups) {
    const { LaunchTemplate } = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: `${group.name}-lt`,
        LaunchTemplateData: {
          ImageId: images[group.family],
          InstanceType: "t3.micro",
          SecurityGroupIds: [appSecurityGroupId!],
          IamInstanceProfile: { Name: instanceProfileName },
        },
      }),
    );
    const tags: Record<string, string> = { "phoenix:image-family": group.family, Name: group.name };
    if (group.managed) tags["phoenix:managed"] = "true";
    if (group.wave !== undefined) tags["phoenix:wave"] = String(group.wave);
    if (group.protected) tags["phoenix:protected"] = "true";
    await autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: group.name,
        LaunchTemplate: { LaunchTemplateId: LaunchTemplate!.LaunchTemplateId, Version: "1" },
        MinSize: group.desired,
        MaxSize: group.desired * 2,
        DesiredCapacity: group.desired,
        VPCZoneIdentifier: subnetIds.join(","),
        HealthCheckGracePeriod: 60,
        DefaultInstanceWarmup: 60,
        Tags: Object.entries(tags).map(([Key, Value]) => ({
          Key,
          Value,
          PropagateAtLaunch: false,
          ResourceId: group.name,
          ResourceType: "auto-scaling-group",
        })),
      }),
    );
    const described = await autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group.name] }),
    );
    const instanceIds = (described.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId!);
    seeded.push({ name: group.name, launchTemplateId: LaunchTemplate!.LaunchTemplateId!, instanceIds });
  }

  const standalone = await ec2.send(
    new RunInstancesCommand({
      ImageId: images[families[0]!],
      InstanceType: "t3.micro",
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnetIds[0],
      SecurityGroupIds: [appSecurityGroupId!],
      IamInstanceProfile: { Name: instanceProfileName },
      TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "Name", Value: "bastion" }] }],
    }),
  );
  return {
    vpcId,
    subnetIds,
    appSecurityGroupId: appSecurityGroupId!,
    instanceProfileName,
    roleName,
    images,
    groups: seeded,
    standaloneInstanceId: standalone.Instances![0]!.InstanceId!,
  };
}
