import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  CopyImageCommand,
  CreateImageCommand,
  DeregisterImageCommand,
  EC2Client,
  RegisterImageCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { EventBridgeEvent, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import type { LocalDeployment } from "../../local/deployment/index.js";
import { eventsPlugin } from "../../local/events/index.js";
import { WHOLE_EVENT_INPUT } from "../../local/events/topology.js";
import { awsCli, clientConfig } from "../support/cloud.js";
import { startDeployedCloud } from "../support/phoenix.js";

type BusEvent = EventBridgeEvent<string, Record<string, unknown>>;
interface Received<T> {
  at: number;
  event: T;
}

const eventsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../shared/events");
const sample = (file: string) => JSON.parse(readFileSync(path.join(eventsDir, file), "utf8")) as BusEvent;

const SPEED = 50;
const AMI_DELAY_SIMULATED_MS = 30_000;
const findingBatches: Received<SQSEvent>[] = [];
const imageEvents: Received<BusEvent>[] = [];
const refreshAttempts: Received<BusEvent>[] = [];

/** Findings the on-finding handler saw, one per SQS record. */
function receivedFindings(): { at: number; event: BusEvent; record: SQSEvent["Records"][number] }[] {
  return findingBatches.flatMap(({ at, event }) =>
    event.Records.map((record) => ({ at, event: JSON.parse(record.body) as BusEvent, record })),
  );
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One instance, launched through the gateway as a user would. */
async function launchInstance(): Promise<string> {
  const run = await ec2.send(
    new RunInstancesCommand({ ImageId: "ami-12c6146b", MinCount: 1, MaxCount: 1, InstanceType: "t3.micro" }),
  );
  return run.Instances?.[0]?.InstanceId as string;
}

let cloud: LocalCloud;
let deployment: LocalDeployment;
let ec2: EC2Client;
let eventbridge: EventBridgeClient;
let sqs: SQSClient;
beforeAll(async () => {
  // Phoenix deployed from its graph, its three event handlers stubbed (they record what they
  // receive): the rules, queues, event source mappings and retries are the deployment's.
  const entry = (fn: { handler: string }) =>
    fn.handler
      .replace(/\.[^.]+$/, "")
      .split("/")
      .pop();
  ({ cloud, deployment } = await startDeployedCloud({
    speed: SPEED,
    parts: [eventsPlugin({ amiAvailableAfterMs: AMI_DELAY_SIMULATED_MS })],
    wrap: (fn, handler) => {
      switch (entry(fn)) {
        case "on-finding":
          return async (event: SQSEvent) => {
            findingBatches.push({ at: Date.now(), event });
            return { batchItemFailures: [] };
          };
        // Buffered, as findings: Lambda's SQS batch event, one record per image event.
        case "on-image":
          return async (event: SQSEvent) => {
            for (const record of event.Records) {
              imageEvents.push({ at: Date.now(), event: JSON.parse(record.body) as BusEvent });
            }
            return { batchItemFailures: [] };
          };
        case "on-refresh-event":
          return async (event: BusEvent) => {
            refreshAttempts.push({ at: Date.now(), event });
            if ((event.detail as { AutoScalingGroupName?: string }).AutoScalingGroupName === "broken") {
              throw new Error("simulated handler failure");
            }
            return { status: "observed" };
          };
        default:
          return handler;
      }
    },
  }));
  ec2 = new EC2Client(clientConfig(cloud));
  eventbridge = new EventBridgeClient(clientConfig(cloud));
  sqs = new SQSClient(clientConfig(cloud));
});
afterAll(async () => {
  await cloud?.stop();
});

/** A queue of the graph by its resource's logical name. */
const queueOf = (resource: string) => deployment.model.queues.find((q) => q.resource === resource)!;

describe("events in the local cloud", () => {
  it("delivers a GuardDuty finding put with the AWS CLI to on-finding, as Lambda's SQS batch event", async () => {
    const finding = sample("guardduty/canary-ec2-stateless-integtest-target.json");
    const dir = mkdtempSync(path.join(tmpdir(), "phoenix-events-"));
    const entries = path.join(dir, "entries.json");
    writeFileSync(
      entries,
      JSON.stringify([
        {
          Source: finding.source,
          DetailType: finding["detail-type"],
          Detail: JSON.stringify(finding.detail),
        },
      ]),
    );
    const put = (await awsCli(cloud, ["events", "put-events", "--entries", `file://${entries}`]).finally(() =>
      rmSync(dir, { recursive: true, force: true }),
    )) as { FailedEntryCount: number; Entries: { EventId: string }[] };
    expect(put.FailedEntryCount).toBe(0);
    const eventId = put.Entries[0]?.EventId;

    const got = await waitFor("the finding at on-finding", () =>
      receivedFindings().find((f) => f.event.id === eventId),
    );
    expect(got.event).toMatchObject({
      version: "0",
      "detail-type": "GuardDuty Finding",
      source: "aws.guardduty",
      account: "123456789012",
      region: "us-east-1",
      resources: [],
    });
    expect(got.event.detail).toEqual(finding.detail);
    expect(got.event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Object.keys(got.event)).toEqual(Object.keys(finding).filter((key) => key !== "debug"));
    expect(got.record).toMatchObject({
      eventSource: "aws:sqs",
      awsRegion: "us-east-1",
      attributes: { ApproximateReceiveCount: "1" },
    });
    expect(got.record.eventSourceARN).toBe(queueOf("FindingBuffer").arn);
    expect(got.record.messageId).toMatch(/\S/);
  });

  it("delivers within a fraction of a second of PutEvents", async () => {
    const finding = sample("guardduty/trojan-ec2-dnsdataexfiltration-actor.json");
    const latencies: number[] = [];
    const putDurations: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const put = await eventbridge.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: finding.source,
              DetailType: finding["detail-type"],
              Detail: JSON.stringify(finding.detail),
            },
          ],
        }),
      );
      putDurations.push(Date.now() - started);
      const eventId = put.Entries?.[0]?.EventId;
      const got = await waitFor("the finding", () => receivedFindings().find((f) => f.event.id === eventId));
      latencies.push(got.at - started);
    }
    console.log(
      `PutEvents call (real ms): ${putDurations.join(", ")}; PutEvents → handler: ${latencies.join(", ")} (the event source mapping's 5 s batching window is ${cloud.context.clock.toRealMs(5_000)} ms at ×${SPEED})`,
    );
    // The median, as other processes on a small machine can delay any one call. (moto's default
    // SQS target input alone would add ~0.5 s to every delivery.)
    const median = [...latencies].sort((a, b) => a - b)[2] as number;
    expect(median).toBeLessThan(1_500);
  });

  it("does not deliver a low-severity finding or a finding on something other than an instance", async () => {
    const low = sample("guardduty/recon-ec2-portprobeunprotectedport-target.json");
    const notInstance = sample("guardduty/policy-iamuser-rootcredentialusage.json");
    const marker = sample("guardduty/unauthorizedaccess-ec2-torrelay-target.json");
    expect(low.detail.severity).toBeLessThan(4);
    expect(notInstance.detail.severity).toBeGreaterThanOrEqual(4);
    // moto matches and enqueues entries in order: once the last one is delivered, the others
    // would have been too.
    const put = await eventbridge.send(
      new PutEventsCommand({
        Entries: [low, notInstance, marker].map((e) => ({
          Source: e.source,
          DetailType: e["detail-type"],
          Detail: JSON.stringify(e.detail),
        })),
      }),
    );
    const [lowId, notInstanceId, markerId] = (put.Entries ?? []).map((e) => e.EventId);
    await waitFor("the marker finding", () => receivedFindings().find((f) => f.event.id === markerId));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const ids = receivedFindings().map((f) => f.event.id);
    expect(ids).not.toContain(lowId);
    expect(ids).not.toContain(notInstanceId);
  });

  it("emits EC2 AMI State Change (available) after CreateImage, with AWS's shape, to on-image", async () => {
    const instanceId = await launchInstance();
    const started = Date.now();
    const { ImageId } = await ec2.send(
      new CreateImageCommand({ InstanceId: instanceId, Name: `golden-${Date.now()}` }),
    );
    expect(ImageId).toMatch(/^ami-/);

    const got = await waitFor("the AMI event", () =>
      imageEvents.find((e) => e.event.detail.ImageId === ImageId),
    );
    // Not before the simulated creation time has passed.
    expect(got.at - started).toBeGreaterThanOrEqual(
      cloud.context.clock.toRealMs(AMI_DELAY_SIMULATED_MS) - 20,
    );

    const reference = sample("ami/docs-ami-available.json");
    expect(Object.keys(got.event)).toEqual(Object.keys(reference));
    expect(Object.keys(got.event.detail)).toEqual(Object.keys(reference.detail));
    expect(got.event).toMatchObject({
      version: "0",
      "detail-type": "EC2 AMI State Change",
      source: "aws.ec2",
      account: "123456789012",
      region: "us-east-1",
      resources: [`arn:aws:ec2:us-east-1::image/${ImageId}`],
      detail: { ImageId, State: "available", ErrorMessage: "" },
    });
    expect(got.event.detail.RequestId).toMatch(/\S/);
    expect(got.event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(imageEvents.filter((e) => e.event.detail.ImageId === ImageId)).toHaveLength(1);

    // Deregistering emits `deregistered`, which on-image's rule does not match.
    await ec2.send(new DeregisterImageCommand({ ImageId }));
    await waitFor("the deregistered event in /_phoenix/events", async () => {
      const listed = (await (await fetch(`${cloud.endpoint}/_phoenix/events`)).json()) as {
        emitted: { detailType: string; detail: { ImageId?: string; State?: string } }[];
      };
      return listed.emitted.find((e) => e.detail.ImageId === ImageId && e.detail.State === "deregistered");
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(imageEvents.filter((e) => e.event.detail.ImageId === ImageId)).toHaveLength(1);
  });

  it("emits the available event after RegisterImage and CopyImage too", async () => {
    const registered = await ec2.send(
      new RegisterImageCommand({
        Name: `registered-${Date.now()}`,
        RootDeviceName: "/dev/xvda",
        Architecture: "x86_64",
      }),
    );
    const copied = await ec2.send(
      new CopyImageCommand({
        Name: `copied-${Date.now()}`,
        SourceImageId: registered.ImageId,
        SourceRegion: "us-east-1",
      }),
    );
    for (const imageId of [registered.ImageId, copied.ImageId]) {
      expect(imageId).toMatch(/^ami-/);
      const got = await waitFor(`the AMI event of ${imageId}`, () =>
        imageEvents.find((e) => e.event.detail.ImageId === imageId),
      );
      expect(got.event.detail.State).toBe("available");
    }
  });

  it("emits EC2 Instance State-change Notification through running to terminated", async () => {
    // Watch as any user would: a rule of our own with an SQS target, created through the gateway
    // (with the whole-event input: moto's default input takes ~0.5 s per event).
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "test-instance-states" }));
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] })))
      .Attributes?.QueueArn;
    const instanceId = await launchInstance();
    await eventbridge.send(
      new PutRuleCommand({
        Name: "test-instance-states",
        EventPattern: JSON.stringify({
          source: ["aws.ec2"],
          "detail-type": ["EC2 Instance State-change Notification"],
          detail: { "instance-id": [instanceId] },
        }),
      }),
    );
    await eventbridge.send(
      new PutTargetsCommand({
        Rule: "test-instance-states",
        Targets: [{ Id: "q", Arn: arn, InputTransformer: WHOLE_EVENT_INPUT }],
      }),
    );
    // (The watcher may have seen the launch before the rule existed: look only at what follows.)
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));

    const states: BusEvent[] = [];
    await waitFor("terminated", async () => {
      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      states.push(...(received.Messages ?? []).map((m) => JSON.parse(m.Body ?? "{}") as BusEvent));
      return states.some((s) => s.detail.state === "terminated") ? true : undefined;
    });
    const reference = sample("ec2-lifecycle/ebdocs-state-change-terminated.json");
    const terminated = states.find((s) => s.detail.state === "terminated") as BusEvent;
    expect(states.map((s) => s.detail.state).slice(-2)).toEqual(["shutting-down", "terminated"]);
    expect(terminated.detail).toEqual({ "instance-id": instanceId, state: "terminated" });
    expect(Object.keys(terminated.detail)).toEqual(Object.keys(reference.detail));
    expect(terminated).toMatchObject({
      source: "aws.ec2",
      "detail-type": "EC2 Instance State-change Notification",
      resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`],
    });
  });

  it("reports an instance launched and terminated between two looks of the watcher", async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "test-short-lived" }));
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] })))
      .Attributes?.QueueArn;
    await eventbridge.send(
      new PutRuleCommand({
        Name: "test-short-lived",
        EventPattern: JSON.stringify({
          source: ["aws.ec2"],
          "detail-type": ["EC2 Instance State-change Notification"],
        }),
      }),
    );
    await eventbridge.send(
      new PutTargetsCommand({
        Rule: "test-short-lived",
        Targets: [{ Id: "q", Arn: arn, InputTransformer: WHOLE_EVENT_INPUT }],
      }),
    );
    const instanceId = await launchInstance();
    // At once: no look of the watcher can come between the two calls' effects in moto.
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    const states: BusEvent[] = [];
    await waitFor("terminated", async () => {
      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      states.push(
        ...(received.Messages ?? [])
          .map((m) => JSON.parse(m.Body ?? "{}") as BusEvent)
          .filter((e) => e.detail["instance-id"] === instanceId),
      );
      return states.some((e) => e.detail.state === "terminated") ? true : undefined;
    });
    expect(states.map((e) => e.detail.state).slice(-2)).toEqual(["shutting-down", "terminated"]);
    await eventbridge.send(new RemoveTargetsCommand({ Rule: "test-short-lived", Ids: ["q"] }));
  });

  it("retries a failing asynchronous Lambda target as Lambda does, then sends it to its onFailure destination", async () => {
    const refresh = sample("instance-refresh/docs-failed.json");
    const detail = { ...refresh.detail, AutoScalingGroupName: "broken" };
    const put = await eventbridge.send(
      new PutEventsCommand({
        Entries: [
          { Source: refresh.source, DetailType: refresh["detail-type"], Detail: JSON.stringify(detail) },
        ],
      }),
    );
    const eventId = put.Entries?.[0]?.EventId;
    const attemptsOf = () => refreshAttempts.filter((a) => a.event.id === eventId);
    const fn = deployment.functionOf("on-refresh-event");
    const config = deployment.model.invokeConfigs.find((c) => c.functionName === fn.name)!;
    const destination = config.onFailure!.split(":").pop()!;
    const attempts = 1 + config.maximumRetryAttempts;
    await waitFor(`${attempts} attempts`, () => (attemptsOf().length >= attempts ? true : undefined), 30_000);

    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: destination }));
    const record = await waitFor("the invocation record in the onFailure destination", async () => {
      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      return received.Messages?.map(
        (m) => JSON.parse(m.Body ?? "{}") as { requestPayload?: BusEvent } & Record<string, unknown>,
      ).find((r) => r.requestPayload?.id === eventId);
    });
    expect(record).toMatchObject({
      version: "1.0",
      requestContext: { condition: "RetriesExhausted", approximateInvokeCount: attempts },
      responseContext: { functionError: "Unhandled" },
      responsePayload: { errorType: "Error", errorMessage: "simulated handler failure" },
    });
    expect(record.requestPayload?.detail).toEqual(detail);
    // Exactly 1 + maximumRetryAttempts invocations, Lambda's one then two (simulated) minutes apart.
    expect(attemptsOf()).toHaveLength(attempts);
    const [first, second, third] = attemptsOf();
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(cloud.context.clock.toRealMs(60_000) - 5);
    expect(third!.at - second!.at).toBeGreaterThanOrEqual(cloud.context.clock.toRealMs(120_000) - 5);
    expect(second!.event).toEqual(first!.event);

    const health = (await (await fetch(`${cloud.endpoint}/_phoenix/health`)).json()) as {
      parts: {
        deployment: {
          functions: Record<string, { errors: number; asyncRetries: number; asyncFailed: number }>;
        };
      };
    };
    expect(health.parts.deployment.functions[fn.name]).toMatchObject({
      asyncRetries: config.maximumRetryAttempts,
      asyncFailed: 1,
    });
    const listed = (await (await fetch(`${cloud.endpoint}/_phoenix/events`)).json()) as {
      deliveries: {
        kind: string;
        event?: BusEvent;
        outcome: string;
        attempt: number;
        deadLettered?: string;
        error?: string;
      }[];
    };
    expect(listed.deliveries.filter((d) => d.kind === "async" && d.event?.id === eventId)).toMatchObject([
      { outcome: "failed", attempt: 1, error: "Error: simulated handler failure" },
      { outcome: "failed", attempt: 2 },
      { outcome: "failed", attempt: 3, deadLettered: config.onFailure },
    ]);
  });

  it("lists recent deliveries at /_phoenix/events, bounded by limit and paged by since", async () => {
    const all = (await (await fetch(`${cloud.endpoint}/_phoenix/events`)).json()) as {
      deliveries: { seq: number; kind: string; function?: string; outcome: string; event?: BusEvent }[];
      emitted: { seq: number }[];
    };
    expect(all.deliveries.length).toBeGreaterThan(3);
    expect(
      all.deliveries.some(
        (d) =>
          d.kind === "sqs" &&
          d.function === deployment.functionOf("on-finding").name &&
          d.outcome === "delivered" &&
          d.event?.source === "aws.guardduty",
      ),
    ).toBe(true);
    const newest = Math.max(...all.deliveries.map((d) => d.seq), ...all.emitted.map((e) => e.seq));
    const one = (await (await fetch(`${cloud.endpoint}/_phoenix/events?limit=1`)).json()) as typeof all;
    expect(one.deliveries).toHaveLength(1);
    const none = (await (
      await fetch(`${cloud.endpoint}/_phoenix/events?since=${newest}`)
    ).json()) as typeof all;
    expect(none.deliveries).toEqual([]);
    expect(none.emitted).toEqual([]);
  });
});
