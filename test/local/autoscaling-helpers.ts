import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  type CreateAutoScalingGroupCommandInput,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  type InstanceRefresh,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeInstancesCommand,
  EC2Client,
  RegisterImageCommand,
} from "@aws-sdk/client-ec2";
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { autoScalingPlugin, markInstancesBooted } from "../../local/autoscaling/index.js";
import type { LocalCloud } from "../../local/cloud.js";
import { clientConfig, startTestCloud } from "../support/cloud.js";

/**
 * What the autoscaling-*.test.ts files share: a local cloud with the Auto Scaling part (fast
 * clock), SDK clients, images, groups on a two-version launch template, and every
 * aws.autoscaling event of the observed groups collected from a queue, as a rule would see it.
 */

export interface BusEnvelope {
  "detail-type": string;
  source: string;
  resources: string[];
  detail: Record<string, unknown>;
  [key: string]: unknown;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Harness {
  cloud: LocalCloud;
  asg: AutoScalingClient;
  ec2: EC2Client;
  images: { old: string; new: string };
  events: BusEnvelope[];
  stop(): Promise<void>;
}

export async function startHarness(options: {
  speed: number;
  bootSeconds: number;
  observedGroups: string[];
}): Promise<Harness> {
  const cloud = await startTestCloud({
    plugins: [autoScalingPlugin({ bootSeconds: options.bootSeconds })],
    speed: options.speed,
  });
  const asg = new AutoScalingClient(clientConfig(cloud));
  const ec2 = new EC2Client(clientConfig(cloud));
  const sqs = new SQSClient(clientConfig(cloud));
  const images = { old: "", new: "" };
  for (const name of ["old", "new"] as const) {
    const { ImageId } = await ec2.send(
      new RegisterImageCommand({ Name: `phoenix-${name}`, RootDeviceName: "/dev/sda1" }),
    );
    images[name] = ImageId!;
  }
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "autoscaling-events" }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const bus = new EventBridgeClient(clientConfig(cloud));
  const pattern = { source: ["aws.autoscaling"], detail: { AutoScalingGroupName: options.observedGroups } };
  await bus.send(new PutRuleCommand({ Name: "autoscaling-observed", EventPattern: JSON.stringify(pattern) }));
  await bus.send(
    new PutTargetsCommand({
      Rule: "autoscaling-observed",
      Targets: [
        {
          Id: "q",
          Arn: Attributes!.QueueArn!,
          InputTransformer: {
            InputPathsMap: { source: "$.source" },
            InputTemplate: "<aws.events.event.json>",
          },
        },
      ],
    }),
  );
  const events: BusEnvelope[] = [];
  let collecting = true;
  const collector = (async () => {
    while (collecting) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: QueueUrl!, MaxNumberOfMessages: 10 }),
      );
      for (const message of Messages) events.push(JSON.parse(message.Body!) as BusEnvelope);
      if (Messages.length) {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: QueueUrl!,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
      } else await sleep(100);
    }
  })();
  return {
    cloud,
    asg,
    ec2,
    images,
    events,
    stop: async () => {
      collecting = false;
      await collector.catch(() => {});
      await cloud.stop();
    },
  };
}

/** A launch template whose version 1 runs `v1`, version 2 `v2`. */
export async function createTemplate(h: Harness, name: string, v1 = h.images.old, v2 = h.images.new) {
  const { LaunchTemplate } = await h.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${name}-template`,
      LaunchTemplateData: { ImageId: v1, InstanceType: "t3.micro" },
    }),
  );
  const templateId = LaunchTemplate!.LaunchTemplateId!;
  await h.ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: templateId,
      LaunchTemplateData: { ImageId: v2, InstanceType: "t3.micro" },
    }),
  );
  return templateId;
}

/**
 * A group on launch template version 1, its instances booted unless `booted: false`; version 2
 * runs `v2` (default: the new image).
 */
export async function createGroup(
  h: Harness,
  name: string,
  desired: number,
  extra: Partial<CreateAutoScalingGroupCommandInput> & { booted?: boolean; v2?: string } = {},
): Promise<{ templateId: string }> {
  const { booted, v2, ...input } = extra;
  // A mixed instances group names its own (already created) template.
  const mixed = input.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification?.LaunchTemplateId;
  const templateId = mixed ?? (await createTemplate(h, name, h.images.old, v2 ?? h.images.new));
  await h.asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      ...(mixed ? {} : { LaunchTemplate: { LaunchTemplateId: templateId, Version: "1" } }),
      MinSize: 0,
      MaxSize: Math.max(desired * 2, 2),
      DesiredCapacity: desired,
      AvailabilityZones: ["us-east-1a"],
      HealthCheckGracePeriod: 30,
      ...input,
    }),
  );
  if (booted !== false) await markInstancesBooted(h.cloud.endpoint, { autoScalingGroupNames: [name] });
  return { templateId };
}

export async function group(h: Harness, name: string) {
  const { AutoScalingGroups = [] } = await h.asg.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  return AutoScalingGroups[0]!;
}

export async function imagesOf(
  h: Harness,
  ids: string[],
): Promise<Map<string, { image: string; state: string }>> {
  const { Reservations = [] } = await h.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return new Map(
    Reservations.flatMap((r) => r.Instances ?? []).map((i) => [
      i.InstanceId!,
      { image: i.ImageId!, state: i.State?.Name ?? "" },
    ]),
  );
}

export async function until<T>(
  what: string,
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await sleep(40);
  }
}

export async function describeRefresh(h: Harness, groupName: string, id: string): Promise<InstanceRefresh> {
  const { InstanceRefreshes = [] } = await h.asg.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: groupName, InstanceRefreshIds: [id] }),
  );
  return InstanceRefreshes[0]!;
}

export const ended = (r: InstanceRefresh) =>
  ["Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"].includes(r.Status ?? "");

export async function waitForRefresh(
  h: Harness,
  groupName: string,
  id: string,
  ok: (r: InstanceRefresh) => boolean = ended,
  timeoutMs = 30_000,
): Promise<InstanceRefresh> {
  return until(`refresh ${id}`, () => describeRefresh(h, groupName, id), ok, timeoutMs);
}

export async function waitForEvent(
  h: Harness,
  predicate: (e: BusEnvelope) => boolean,
  timeoutMs = 10_000,
): Promise<BusEnvelope> {
  return until(
    "event",
    async () => h.events.find(predicate),
    (e) => e !== undefined,
    timeoutMs,
  ) as Promise<BusEnvelope>;
}
