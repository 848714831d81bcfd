import { readFileSync } from "node:fs";
import {
  AutoScalingClient,
  CancelInstanceRefreshCommand,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  type InstanceRefresh,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
  type StartInstanceRefreshCommandInput,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
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
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  autoScalingPlugin,
  markInstancesBooted,
  UNHEALTHY_IMAGE_TAG,
} from "../../local/autoscaling/index.js";
import type { LocalCloud } from "../../local/cloud.js";
import { awsCli, clientConfig, startTestCloud } from "../support/cloud.js";

/**
 * Instance refresh against a real local cloud (moto behind the gateway), at 200× speed:
 * instances boot in 60 simulated seconds (0.3 s), warm up in 10, and groups use a 30 s
 * health check grace period, so a replacement that is not healthy fails after 2 × 60 s (0.6 s).
 */
const SPEED = 200;
const BOOT_SECONDS = 60;
const WARMUP = 10;

/** Groups whose events reach the test's queue. */
const OBSERVED_GROUPS = ["roll-ok", "roll-back", "roll-fail", "roll-back-fails", "roll-cancel"];

let cloud: LocalCloud;
let asg: AutoScalingClient;
let ec2: EC2Client;
let sqs: SQSClient;
const images = { old: "", new: "", bad: "", fragile: "" };
const events: BusEnvelope[] = [];
let stopCollecting = false;
let collector: Promise<void> | undefined;

interface BusEnvelope {
  "detail-type": string;
  source: string;
  resources: string[];
  detail: Record<string, unknown>;
  [key: string]: unknown;
}

beforeAll(async () => {
  cloud = await startTestCloud({ plugins: [autoScalingPlugin({ bootSeconds: BOOT_SECONDS })], speed: SPEED });
  asg = new AutoScalingClient(clientConfig(cloud));
  ec2 = new EC2Client(clientConfig(cloud));
  sqs = new SQSClient(clientConfig(cloud));
  for (const name of Object.keys(images) as (keyof typeof images)[]) {
    const { ImageId } = await ec2.send(
      new RegisterImageCommand({ Name: `phoenix-${name}`, RootDeviceName: "/dev/sda1" }),
    );
    images[name] = ImageId!;
  }
  await tagUnhealthy(images.bad);

  // Every aws.autoscaling event on the default bus lands in a queue, as a Phoenix rule would see it.
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "autoscaling-events" }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  // Only the groups whose events the tests read: moto spends ~0.1 s of CPU per JSONPath per
  // delivered event, and the whole event as the input costs one JSONPath instead of eight.
  const bus = new EventBridgeClient(clientConfig(cloud));
  const pattern = { source: ["aws.autoscaling"], detail: { AutoScalingGroupName: OBSERVED_GROUPS } };
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
  collector = collectEvents(QueueUrl!);
});

afterAll(async () => {
  stopCollecting = true;
  await collector;
  await cloud?.stop();
});

async function collectEvents(queueUrl: string): Promise<void> {
  while (!stopCollecting) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    for (const message of Messages) events.push(JSON.parse(message.Body!) as BusEnvelope);
    if (Messages.length) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    } else {
      // moto's long polling busy-waits and slows every other call: poll gently instead.
      await sleep(200);
    }
  }
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────────

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tagUnhealthy(imageId: string): Promise<void> {
  await ec2.send(
    new CreateTagsCommand({
      Resources: [imageId],
      Tags: [{ Key: UNHEALTHY_IMAGE_TAG.key, Value: UNHEALTHY_IMAGE_TAG.value }],
    }),
  );
}

interface GroupOptions {
  desired: number;
  v1?: string;
  v2?: string;
  booted?: boolean;
}

/** A group on launch template version 1 (v1 image) whose version 2 uses the v2 image. */
async function createGroup(name: string, options: GroupOptions): Promise<{ templateId: string }> {
  const { LaunchTemplate } = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${name}-template`,
      LaunchTemplateData: { ImageId: options.v1 ?? images.old, InstanceType: "t3.micro" },
    }),
  );
  const templateId = LaunchTemplate!.LaunchTemplateId!;
  await ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: templateId,
      LaunchTemplateData: { ImageId: options.v2 ?? images.new, InstanceType: "t3.micro" },
    }),
  );
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      LaunchTemplate: { LaunchTemplateId: templateId, Version: "1" },
      MinSize: 0,
      MaxSize: options.desired * 2,
      DesiredCapacity: options.desired,
      AvailabilityZones: ["us-east-1a"],
      HealthCheckGracePeriod: 30,
    }),
  );
  if (options.booted !== false) await markInstancesBooted(cloud.endpoint, { autoScalingGroupNames: [name] });
  return { templateId };
}

async function start(input: StartInstanceRefreshCommandInput, client = asg): Promise<string> {
  return (await client.send(new StartInstanceRefreshCommand(input))).InstanceRefreshId!;
}

async function describeRefresh(group: string, id: string, client = asg): Promise<InstanceRefresh> {
  const { InstanceRefreshes = [] } = await client.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group, InstanceRefreshIds: [id] }),
  );
  expect(InstanceRefreshes).toHaveLength(1);
  return InstanceRefreshes[0]!;
}

async function waitForRefresh(
  group: string,
  id: string,
  until: (r: InstanceRefresh) => boolean,
  client = asg,
  timeoutMs = 20_000,
): Promise<InstanceRefresh> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const refresh = await describeRefresh(group, id, client);
    if (until(refresh)) return refresh;
    if (Date.now() > deadline)
      throw new Error(`refresh ${id} stuck in ${refresh.Status} (${refresh.StatusReason})`);
    await sleep(50);
  }
}

const ended = (r: InstanceRefresh) =>
  ["Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"].includes(r.Status ?? "");

async function group(name: string) {
  const { AutoScalingGroups = [] } = await asg.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  return AutoScalingGroups[0]!;
}

async function imagesOf(name: string): Promise<string[]> {
  const ids = ((await group(name)).Instances ?? []).map((i) => i.InstanceId!);
  const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return Reservations.flatMap((r) => r.Instances ?? []).map((i) => i.ImageId!);
}

const healthyCount = (g: Awaited<ReturnType<typeof group>>) =>
  (g.Instances ?? []).filter((i) => i.LifecycleState === "InService" && i.HealthStatus === "Healthy").length;

/** Samples the group through the gateway until stopped, to check invariants while a refresh runs. */
function sampleGroup(name: string) {
  const samples: Awaited<ReturnType<typeof group>>[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push(await group(name));
      await sleep(25);
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

/**
 * Retries throttled and failed calls after 20 ms, up to `maxAttempts` in all: the SDK's own
 * backoff (up to seconds per retry) would make the test's time depend on the dice.
 */
function quickRetries(maxAttempts: number) {
  const token = (count: number) => ({ getRetryCount: () => count, getRetryDelay: () => 20 });
  return {
    acquireInitialRetryToken: async () => token(0),
    refreshRetryTokenForRetry: async (
      previous: { getRetryCount(): number },
      info: { errorType: string; error?: unknown },
    ) => {
      const count = previous.getRetryCount() + 1;
      if (info.errorType === "CLIENT_ERROR" || count >= maxAttempts)
        throw info.error ?? new Error("no more retries");
      return token(count);
    },
    recordSuccess: () => {},
  };
}

async function waitForEvent(
  predicate: (e: BusEnvelope) => boolean,
  timeoutMs = 10_000,
): Promise<BusEnvelope> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = events.find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error("event not received");
    await sleep(25);
  }
}

const eventsOf = (refreshId: string) => events.filter((e) => e.detail.InstanceRefreshId === refreshId);
const typesOf = (refreshId: string) =>
  eventsOf(refreshId).map((e) => e["detail-type"].replace("EC2 Auto Scaling Instance Refresh ", ""));

// ── tests ─────────────────────────────────────────────────────────────────────────────────────

describe("instance refresh", () => {
  it("replaces every instance with the new image, never below MinHealthyPercentage", async () => {
    const { templateId } = await createGroup("roll-ok", { desired: 4 });
    const sampler = sampleGroup("roll-ok");
    const id = await start({
      AutoScalingGroupName: "roll-ok",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
      Preferences: { MinHealthyPercentage: 50, InstanceWarmup: WARMUP, AutoRollback: true },
    });
    const done = await waitForRefresh("roll-ok", id, ended);
    const samples = await sampler.stop();

    expect(done).toMatchObject({ Status: "Successful", PercentageComplete: 100, InstancesToUpdate: 0 });
    expect(done.StartTime).toBeInstanceOf(Date);
    expect(done.EndTime!.getTime()).toBeGreaterThanOrEqual(done.StartTime!.getTime());
    expect(done.DesiredConfiguration?.LaunchTemplate).toEqual({ LaunchTemplateId: templateId, Version: "2" });
    expect(done.Preferences).toMatchObject({
      MinHealthyPercentage: 50,
      InstanceWarmup: WARMUP,
      AutoRollback: true,
      SkipMatching: false,
    });
    expect(await imagesOf("roll-ok")).toEqual(Array(4).fill(images.new));
    const after = await group("roll-ok");
    expect(after.LaunchTemplate?.Version).toBe("2");
    expect(
      after.Instances?.every((i) => i.LaunchTemplate?.Version === "2" && i.HealthStatus === "Healthy"),
    ).toBe(true);

    expect(samples.length).toBeGreaterThan(5);
    expect(Math.min(...samples.map(healthyCount))).toBeGreaterThanOrEqual(2);
    // AWS shows the group's old launch template until the refresh succeeds.
    for (const s of samples) {
      if (s.LaunchTemplate?.Version === "2")
        expect(s.Instances?.every((i) => i.LaunchTemplate?.Version === "2")).toBe(true);
    }
    expect(
      samples.some(
        (s) =>
          s.LaunchTemplate?.Version === "1" && s.Instances?.some((i) => i.LaunchTemplate?.Version === "2"),
      ),
    ).toBe(true);
    await waitForEvent((e) => e.detail.InstanceRefreshId === id && e["detail-type"].endsWith("Succeeded"));
    expect(typesOf(id)).toEqual(["Started", "Succeeded"]);
  });

  it("launches before terminating when MaxHealthyPercentage allows, keeping every instance healthy", async () => {
    const { templateId } = await createGroup("roll-surge", { desired: 2 });
    const sampler = sampleGroup("roll-surge");
    const id = await start({
      AutoScalingGroupName: "roll-surge",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
      Preferences: { MinHealthyPercentage: 100, MaxHealthyPercentage: 150, InstanceWarmup: WARMUP },
    });
    expect(await waitForRefresh("roll-surge", id, ended)).toMatchObject({ Status: "Successful" });
    const samples = await sampler.stop();
    expect(Math.min(...samples.map(healthyCount))).toBe(2);
    expect(Math.max(...samples.map((s) => s.Instances?.length ?? 0))).toBe(3);
    expect(samples.every((s) => s.DesiredCapacity === 2)).toBe(true);
    expect(await imagesOf("roll-surge")).toEqual([images.new, images.new]);
    expect((await group("roll-surge")).DesiredCapacity).toBe(2);
  });

  it("skips instances that already match with SkipMatching, then bakes", async () => {
    const { templateId } = await createGroup("roll-skip", { desired: 2 });
    const before = ((await group("roll-skip")).Instances ?? []).map((i) => i.InstanceId);
    const id = await start({
      AutoScalingGroupName: "roll-skip",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "1" } },
      Preferences: { SkipMatching: true, InstanceWarmup: WARMUP, BakeTime: 300 },
    });
    // 300 simulated seconds of bake: 1.5 s here.
    expect(
      await waitForRefresh("roll-skip", id, (r) => r.Status !== "Pending" && r.Status !== "InProgress"),
    ).toMatchObject({
      Status: "Baking",
      PercentageComplete: 100,
    });
    expect(await waitForRefresh("roll-skip", id, ended)).toMatchObject({
      Status: "Successful",
      PercentageComplete: 100,
    });
    expect(((await group("roll-skip")).Instances ?? []).map((i) => i.InstanceId)).toEqual(before);
  });

  it("stops at a last checkpoint below 100%", async () => {
    const { templateId } = await createGroup("roll-partial", { desired: 2 });
    const id = await start({
      AutoScalingGroupName: "roll-partial",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
      Preferences: { MinHealthyPercentage: 0, InstanceWarmup: WARMUP, CheckpointPercentages: [50] },
    });
    expect(await waitForRefresh("roll-partial", id, ended)).toMatchObject({
      Status: "Successful",
      PercentageComplete: 50,
      InstancesToUpdate: 1,
    });
    expect((await imagesOf("roll-partial")).sort()).toEqual([images.new, images.old].sort());
  });

  it("fails on an unhealthy image and rolls back to the old one with AutoRollback", async () => {
    const { templateId } = await createGroup("roll-back", { desired: 3, v2: images.bad });
    const id = await start({
      AutoScalingGroupName: "roll-back",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
      Preferences: { MinHealthyPercentage: 60, InstanceWarmup: WARMUP, AutoRollback: true },
    });
    const done = await waitForRefresh("roll-back", id, ended);
    expect(done.Status).toBe("RollbackSuccessful");
    expect(done.PercentageComplete).toBe(0);
    expect(done.RollbackDetails?.RollbackReason).toMatch(
      /^Automatic rollback: Instance i-[0-9a-f]+ \(image ami-[0-9a-f]+\) failed health checks/,
    );
    expect(done.RollbackDetails?.RollbackStartTime).toBeInstanceOf(Date);
    expect(await imagesOf("roll-back")).toEqual(Array(3).fill(images.old));
    const after = await group("roll-back");
    expect(after.LaunchTemplate).toMatchObject({ LaunchTemplateId: templateId, Version: "1" });
    expect(healthyCount(after)).toBe(3);
    await waitForEvent(
      (e) => e.detail.InstanceRefreshId === id && e["detail-type"].endsWith("Rollback Succeeded"),
    );
    expect(typesOf(id)).toEqual(["Started", "Rollback Started", "Rollback Succeeded"]);
  });

  it("ends Failed without AutoRollback, naming the instance that failed health checks", async () => {
    const { templateId } = await createGroup("roll-fail", { desired: 2, v2: images.bad });
    const id = await start({
      AutoScalingGroupName: "roll-fail",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
      Preferences: { MinHealthyPercentage: 50, InstanceWarmup: WARMUP },
    });
    const done = await waitForRefresh("roll-fail", id, ended);
    expect(done.Status).toBe("Failed");
    expect(done.StatusReason).toMatch(/^Instance (i-[0-9a-f]+) \(image ami-[0-9a-f]+\) failed health checks/);
    const failed = /^Instance (i-[0-9a-f]+)/.exec(done.StatusReason!)![1];
    const after = await group("roll-fail");
    expect(after.Instances?.find((i) => i.InstanceId === failed)?.HealthStatus).toBe("Unhealthy");
    // The desired configuration only applies on success.
    expect(after.LaunchTemplate?.Version).toBe("1");
    expect((await imagesOf("roll-fail")).sort()).toEqual([images.bad, images.old].sort());
    await waitForEvent((e) => e.detail.InstanceRefreshId === id && e["detail-type"].endsWith("Failed"));
  });

  it("reports RollbackFailed when the old image fails too", async () => {
    const { templateId } = await createGroup("roll-back-fails", {
      desired: 2,
      v1: images.fragile,
      v2: images.bad,
    });
    const id = await start({
      AutoScalingGroupName: "roll-back-fails",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
      Preferences: { MinHealthyPercentage: 50, InstanceWarmup: WARMUP, AutoRollback: true },
    });
    await tagUnhealthy(images.fragile);
    const done = await waitForRefresh("roll-back-fails", id, ended);
    expect(done.Status).toBe("RollbackFailed");
    expect(done.StatusReason).toMatch(/^Rollback failed: Instance i-[0-9a-f]+ .*failed health checks/);
    await waitForEvent(
      (e) => e.detail.InstanceRefreshId === id && e["detail-type"].endsWith("Rollback Failed"),
    );
  });

  it("pauses at checkpoints with an event, refuses a second refresh, and cancels", async () => {
    const { templateId } = await createGroup("roll-cancel", { desired: 4 });
    const id = await start({
      AutoScalingGroupName: "roll-cancel",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
      Preferences: {
        MinHealthyPercentage: 75,
        InstanceWarmup: WARMUP,
        CheckpointPercentages: [50, 100],
        CheckpointDelay: 3600,
      },
    });
    const paused = await waitForRefresh("roll-cancel", id, (r) => r.PercentageComplete === 50);
    expect(paused).toMatchObject({ Status: "InProgress", InstancesToUpdate: 2 });
    expect(paused.StatusReason).toMatch(/Checkpoint 50% reached/);
    const checkpoint = await waitForEvent(
      (e) => e.detail.InstanceRefreshId === id && e["detail-type"].endsWith("Checkpoint Reached"),
    );
    expect(checkpoint.detail).toEqual({
      InstanceRefreshId: id,
      AutoScalingGroupName: "roll-cancel",
      CheckpointPercentage: "50",
      CheckpointDelay: "3600",
    });

    await expect(start({ AutoScalingGroupName: "roll-cancel" })).rejects.toMatchObject({
      name: "InstanceRefreshInProgressFault",
    });

    const cancelled = await asg.send(
      new CancelInstanceRefreshCommand({ AutoScalingGroupName: "roll-cancel" }),
    );
    expect(cancelled.InstanceRefreshId).toBe(id);
    const done = await waitForRefresh("roll-cancel", id, ended);
    expect(done.Status).toBe("Cancelled");
    // Replacements already made stay; the group keeps its configuration.
    expect((await imagesOf("roll-cancel")).filter((image) => image === images.new)).toHaveLength(2);
    expect((await group("roll-cancel")).LaunchTemplate?.Version).toBe("1");
    await expect(
      asg.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: "roll-cancel" })),
    ).rejects.toMatchObject({
      name: "ActiveInstanceRefreshNotFoundFault",
    });
    await waitForEvent((e) => e.detail.InstanceRefreshId === id && e["detail-type"].endsWith("Cancelled"));
    expect(typesOf(id)).toEqual(["Started", "Checkpoint Reached", "Cancelled"]);

    // Newest first.
    const second = await start({
      AutoScalingGroupName: "roll-cancel",
      Preferences: { InstanceWarmup: WARMUP },
    });
    const { InstanceRefreshes = [] } = await asg.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "roll-cancel" }),
    );
    expect(InstanceRefreshes.map((r) => r.InstanceRefreshId)).toEqual([second, id]);
    const firstPage = await asg.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "roll-cancel", MaxRecords: 1 }),
    );
    expect(firstPage.InstanceRefreshes?.map((r) => r.InstanceRefreshId)).toEqual([second]);
    const secondPage = await asg.send(
      new DescribeInstanceRefreshesCommand({
        AutoScalingGroupName: "roll-cancel",
        MaxRecords: 1,
        NextToken: firstPage.NextToken!,
      }),
    );
    expect(secondPage.InstanceRefreshes?.map((r) => r.InstanceRefreshId)).toEqual([id]);
    expect(secondPage.NextToken).toBeUndefined();
    await asg.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: "roll-cancel" }));
    expect(await waitForRefresh("roll-cancel", second, ended)).toMatchObject({ Status: "Cancelled" });
  });

  it("rolls back on request, and refuses rollbacks AWS refuses", async () => {
    const { templateId } = await createGroup("roll-manual", { desired: 2 });
    await expect(
      asg.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: "roll-manual" })),
    ).rejects.toMatchObject({
      name: "ActiveInstanceRefreshNotFoundFault",
    });
    const slow = {
      MinHealthyPercentage: 50,
      InstanceWarmup: WARMUP,
      CheckpointPercentages: [50, 100],
      CheckpointDelay: 3600,
    };

    // No desired configuration: nothing to roll back to.
    const plain = await start({ AutoScalingGroupName: "roll-manual", Preferences: slow });
    await expect(
      asg.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: "roll-manual" })),
    ).rejects.toMatchObject({
      name: "IrreversibleInstanceRefreshFault",
    });
    await asg.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: "roll-manual" }));
    await waitForRefresh("roll-manual", plain, ended);

    // $Latest: allowed without AutoRollback, but irreversible.
    const latest = await start({
      AutoScalingGroupName: "roll-manual",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "$Latest" } },
      Preferences: slow,
    });
    await expect(
      asg.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: "roll-manual" })),
    ).rejects.toMatchObject({
      name: "IrreversibleInstanceRefreshFault",
    });
    await asg.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: "roll-manual" }));
    await waitForRefresh("roll-manual", latest, ended);

    const numbered = await start({
      AutoScalingGroupName: "roll-manual",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } },
      Preferences: slow,
    });
    await waitForRefresh("roll-manual", numbered, (r) => r.PercentageComplete === 50);
    const rolled = await asg.send(
      new RollbackInstanceRefreshCommand({ AutoScalingGroupName: "roll-manual" }),
    );
    expect(rolled.InstanceRefreshId).toBe(numbered);
    const done = await waitForRefresh("roll-manual", numbered, ended);
    expect(done.Status).toBe("RollbackSuccessful");
    expect(done.RollbackDetails).toMatchObject({
      PercentageCompleteOnRollback: 50,
      InstancesToUpdateOnRollback: 1,
    });
    expect(await imagesOf("roll-manual")).toEqual([images.old, images.old]);
    expect((await group("roll-manual")).LaunchTemplate?.Version).toBe("1");
  });

  it("validates requests as AWS does", async () => {
    const { templateId } = await createGroup("roll-invalid", { desired: 1 });
    const invalid = async (input: StartInstanceRefreshCommandInput, message: RegExp) =>
      expect(start(input)).rejects.toMatchObject({
        name: "ValidationError",
        message: expect.stringMatching(message),
      });
    await invalid({ AutoScalingGroupName: "no-such-group" }, /not found/);
    await invalid(
      {
        AutoScalingGroupName: "roll-invalid",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "$Latest" } },
        Preferences: { AutoRollback: true },
      },
      /\$Latest or \$Default/,
    );
    await invalid(
      { AutoScalingGroupName: "roll-invalid", Preferences: { AutoRollback: true } },
      /DesiredConfiguration parameter is empty/,
    );
    await invalid(
      {
        AutoScalingGroupName: "roll-invalid",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: "9" } },
      },
      /has no version 9/,
    );
    await invalid(
      { AutoScalingGroupName: "roll-invalid", Preferences: { MaxHealthyPercentage: 150 } },
      /MinHealthyPercentage/,
    );
    await expect(
      asg.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "no-such-group" })),
    ).rejects.toMatchObject({ name: "ValidationError" });
    await expect(
      asg.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: "no-such-group" })),
    ).rejects.toMatchObject({
      name: "ValidationError",
    });
  });

  it("refreshes many groups at once, correctly, under throttling", async () => {
    const names = ["many-1", "many-2", "many-3", "many-4"];
    const templates = await Promise.all(names.map((name) => createGroup(name, { desired: 2 })));
    cloud.context.faults.configure({
      seed: 7,
      rules: [
        { service: "autoscaling", action: "StartInstanceRefresh", throttleRate: 0.3 },
        { service: "autoscaling", action: "DescribeInstanceRefreshes", throttleRate: 0.3 },
      ],
    });
    const before = cloud.context.faults.injected.throttle;
    try {
      const patient = new AutoScalingClient({ ...clientConfig(cloud), retryStrategy: quickRetries(10) });
      const ids = await Promise.all(
        names.map((name, i) =>
          start(
            {
              AutoScalingGroupName: name,
              DesiredConfiguration: {
                LaunchTemplate: { LaunchTemplateId: templates[i]!.templateId, Version: "2" },
              },
              Preferences: { MinHealthyPercentage: 50, InstanceWarmup: WARMUP },
            },
            patient,
          ),
        ),
      );
      expect(new Set(ids).size).toBe(names.length);
      const results = await Promise.all(
        names.map((name, i) => waitForRefresh(name, ids[i]!, ended, patient)),
      );
      expect(results.map((r) => r.Status)).toEqual(names.map(() => "Successful"));
      expect(cloud.context.faults.injected.throttle).toBeGreaterThan(before);
    } finally {
      cloud.context.faults.configure({ seed: 1, rules: [] });
    }
    for (const name of names) expect(await imagesOf(name)).toEqual([images.new, images.new]);
  });

  it("works from the AWS CLI", async () => {
    const { templateId } = await createGroup("roll-cli", { desired: 2 });
    const started = (await awsCli(cloud, [
      "autoscaling",
      "start-instance-refresh",
      "--auto-scaling-group-name",
      "roll-cli",
      "--desired-configuration",
      JSON.stringify({ LaunchTemplate: { LaunchTemplateId: templateId, Version: "2" } }),
      "--preferences",
      JSON.stringify({
        MinHealthyPercentage: 50,
        InstanceWarmup: WARMUP,
        CheckpointPercentages: [50, 100],
        CheckpointDelay: 3600,
      }),
    ])) as { InstanceRefreshId: string };
    expect(started.InstanceRefreshId).toMatch(/^[0-9a-f-]{36}$/);
    await expect(
      awsCli(cloud, ["autoscaling", "start-instance-refresh", "--auto-scaling-group-name", "roll-cli"]),
    ).rejects.toThrow(/InstanceRefreshInProgress/);
    const described = (await awsCli(cloud, [
      "autoscaling",
      "describe-instance-refreshes",
      "--auto-scaling-group-name",
      "roll-cli",
    ])) as {
      InstanceRefreshes: {
        InstanceRefreshId: string;
        Status: string;
        Preferences: { CheckpointPercentages: number[] };
        StartTime: string;
      }[];
    };
    expect(described.InstanceRefreshes[0]).toMatchObject({
      InstanceRefreshId: started.InstanceRefreshId,
      Preferences: { CheckpointPercentages: [50, 100], MinHealthyPercentage: 50 },
    });
    expect(["Pending", "InProgress"]).toContain(described.InstanceRefreshes[0]!.Status);
    const cancelled = (await awsCli(cloud, [
      "autoscaling",
      "cancel-instance-refresh",
      "--auto-scaling-group-name",
      "roll-cli",
    ])) as {
      InstanceRefreshId: string;
    };
    expect(cancelled.InstanceRefreshId).toBe(started.InstanceRefreshId);
    await waitForRefresh("roll-cli", started.InstanceRefreshId, ended);
  });
});

describe("emitted events", () => {
  const sample = (path: string) =>
    JSON.parse(
      readFileSync(new URL(`../../../shared/events/${path}`, import.meta.url), "utf8"),
    ) as BusEnvelope;
  const keys = (value: object) => Object.keys(value).sort();

  it("match the shapes AWS documents, envelope and detail", async () => {
    const expected: Record<string, BusEnvelope> = {
      "EC2 Auto Scaling Instance Refresh Started": sample("instance-refresh/docs-started.json"),
      "EC2 Auto Scaling Instance Refresh Succeeded": sample("instance-refresh/docs-succeeded.json"),
      "EC2 Auto Scaling Instance Refresh Failed": sample("instance-refresh/docs-failed.json"),
      "EC2 Auto Scaling Instance Refresh Cancelled": sample("instance-refresh/docs-cancelled.json"),
      "EC2 Auto Scaling Instance Refresh Checkpoint Reached": sample(
        "instance-refresh/docs-checkpoint-reached.json",
      ),
      "EC2 Auto Scaling Instance Refresh Rollback Started": sample(
        "instance-refresh/docs-rollback-started.json",
      ),
      "EC2 Auto Scaling Instance Refresh Rollback Succeeded": sample(
        "instance-refresh/docs-rollback-succeeded.json",
      ),
      "EC2 Auto Scaling Instance Refresh Rollback Failed": sample(
        "instance-refresh/docs-rollback-failed.json",
      ),
      "EC2 Instance Launch Successful": sample("ec2-lifecycle/asg-docs-launch-successful.json"),
      "EC2 Instance Terminate Successful": sample("ec2-lifecycle/asg-docs-terminate-successful.json"),
    };
    const arn =
      /^arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:[0-9a-f-]+:autoScalingGroupName\/[\w-]+$/;
    for (const [type, reference] of Object.entries(expected)) {
      const seen = events.filter((e) => e["detail-type"] === type);
      expect(seen.length, type).toBeGreaterThan(0);
      for (const event of seen) {
        // The envelope is the bus's; moto adds its own `ingestion-time` to it.
        expect(
          keys(event).filter((key) => key !== "ingestion-time"),
          type,
        ).toEqual(keys(reference));
        expect(keys(event.detail), type).toEqual(keys(reference.detail));
        expect(event.source).toBe("aws.autoscaling");
        expect(event.resources).toHaveLength(reference.resources.length);
        expect(event.resources[0]).toMatch(arn);
        if (type.startsWith("EC2 Instance")) {
          expect(keys(event.detail.Details as object)).toEqual(keys(reference.detail.Details as object));
          expect(event.resources[1]).toBe(
            `arn:aws:ec2:us-east-1:123456789012:instance/${event.detail.EC2InstanceId}`,
          );
          expect(event.detail.EC2InstanceId).toMatch(/^i-[0-9a-f]+$/);
        }
      }
    }
    expect(events.some((e) => e["detail-type"] === "EC2 Instance State-change Notification")).toBe(false);
  });

  it("report every launch and termination of a refresh", async () => {
    const okGroup = events.filter((e) => e.detail.AutoScalingGroupName === "roll-ok");
    const launched = okGroup
      .filter((e) => e["detail-type"] === "EC2 Instance Launch Successful")
      .map((e) => e.detail.EC2InstanceId);
    const terminated = okGroup
      .filter((e) => e["detail-type"] === "EC2 Instance Terminate Successful")
      .map((e) => e.detail.EC2InstanceId);
    expect(launched).toHaveLength(4);
    expect(terminated).toHaveLength(4);
    const now = ((await group("roll-ok")).Instances ?? []).map((i) => i.InstanceId);
    expect([...launched].sort()).toEqual([...now].sort());
  });
});
