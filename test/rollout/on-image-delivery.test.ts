import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { CreateTagsCommand, EC2Client, RegisterImageCommand } from "@aws-sdk/client-ec2";
import { ListExecutionsCommand } from "@aws-sdk/client-sfn";
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOnImageHandler } from "../../functions/on-image.js";
import type { LocalCloud } from "../../local/cloud.js";
import { registerImage } from "../../local/core/seed.js";
import type { LocalDeployment } from "../../local/deployment/index.js";
import { eventsPlugin } from "../../local/events/index.js";
import type { AuditRecord } from "../../src/audit/audit.js";
import type { PhoenixDeps } from "../../src/deps.js";
import type { PhoenixResources } from "../../src/resources.js";
import { clientConfig } from "../support/cloud.js";
import { ROLLOUT_STARTS_NOTHING, startDeployedCloud } from "../support/phoenix.js";
import { until } from "../support/poll.js";
import { sampleEvents } from "../support/sample-events.js";
import { lambdaContext } from "./support.js";

/**
 * Image events go EventBridge → SQS (the image buffer) → on-image, at least once: on the local
 * cloud's bus (moto's rules, the buffer with its redrive policy and DLQ) with the real handler.
 *
 * The event that was lost under faults (seed 41 of test/reliability/workflows-under-faults):
 * the publisher registers the AMI, then tags it; its CreateTags was throttled twice, the
 * `available` event reached on-image first, DescribeImages showed no phoenix:image-family tag,
 * and on-image ignored the event for good. Nothing failed, so nothing was ever redelivered.
 */

const quiet = new Logger({ serviceName: "test", logLevel: "SILENT" });

let cloud: LocalCloud;
let deployment: LocalDeployment;
let deps: PhoenixDeps;
let resources: PhoenixResources;
let ec2: EC2Client;
let onImage: ReturnType<typeof createOnImageHandler>;
/** The image buffer as the graph declares it: its name, DLQ and redrive limit (maxReceiveCount). */
let buffer: { name: string; arn: string; dlqArn: string; dlqName: string };
let MAX_ATTEMPTS: number;

beforeAll(async () => {
  // At ×600 the buffer's visibility timeout (360 s) is under a second: a redelivery comes after
  // about a second (SQS counts whole seconds).
  const phoenix = await startDeployedCloud({
    speed: 600,
    // The EC2 events (AMI available) that RegisterImage through the gateway makes.
    parts: [eventsPlugin({ instanceEvents: false })],
    // Small SDK retry budgets: a failing call fails the delivery quickly.
    backoff: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
    // on-image only starts the rollout: the deployed rollout's Plan starts nothing here.
    wrap: ROLLOUT_STARTS_NOTHING,
  });
  ({ cloud, deployment, deps, resources } = phoenix);
  const mapping = deployment.model.eventSourceMappings.find(
    (m) => m.functionName === deployment.functionOf("on-image").name,
  )!;
  const queue = deployment.model.queues.find((q) => q.arn === mapping.eventSourceArn)!;
  buffer = {
    name: queue.name,
    arn: queue.arn,
    dlqArn: queue.redrive!.deadLetterTargetArn,
    dlqName: queue.redrive!.deadLetterTargetArn.split(":").pop()!,
  };
  MAX_ATTEMPTS = queue.redrive!.maxReceiveCount;
  onImage = createOnImageHandler(deployment.depsOf("on-image"), { logger: quiet, maxAttempts: MAX_ATTEMPTS });
  ec2 = new EC2Client(clientConfig(cloud));
});
afterAll(async () => {
  cloud?.context.faults.configure({ seed: 1, rules: [] });
  await cloud?.stop();
});

interface DeliveryEntry {
  kind: string;
  function?: string;
  attempt: number;
  outcome: string;
  deadLettered: boolean;
  event?: { detail?: { ImageId?: string } };
}

async function deliveriesOf(imageId: string): Promise<DeliveryEntry[]> {
  const listed = (await (await fetch(`${cloud.endpoint}/_phoenix/events?limit=1000`)).json()) as {
    deliveries: DeliveryEntry[];
  };
  const name = deployment.functionOf("on-image").name;
  return listed.deliveries.filter(
    (d) => d.kind === "sqs" && d.function === name && d.event?.detail?.ImageId === imageId,
  );
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>) => until(what, probe, 20_000);

/** The deliveries of the image's event, once there have been MAX_ATTEMPTS. */
const everyDelivery = (imageId: string) =>
  waitFor("every delivery", async () => {
    const seen = await deliveriesOf(imageId);
    return seen.length >= MAX_ATTEMPTS ? seen : undefined;
  });

async function executionsFor(imageId: string) {
  const { executions = [] } = await deps.clients.sfn.send(
    new ListExecutionsCommand({ stateMachineArn: resources.rolloutStateMachineArn }),
  );
  return executions.filter((execution) => execution.name?.endsWith(imageId));
}

const trail = (records: AuditRecord[]) => records.map((r) => `${r.action}:${r.outcome}`);

async function registerUntagged(name: string): Promise<string> {
  const { ImageId } = await ec2.send(
    new RegisterImageCommand({ Name: name, RootDeviceName: "/dev/xvda", Architecture: "x86_64" }),
  );
  return ImageId!;
}

const familyTags = [
  { Key: "phoenix:image-family", Value: "web" },
  { Key: "phoenix:scan-status", Value: "passed" },
];

describe("on-image through the image buffer", () => {
  it("rolls out an image tagged after its available event reached on-image (the event lost under faults)", async () => {
    const imageId = await registerUntagged(`tag-race-${Date.now()}`);
    // The first delivery sees the image without its tags, as seed 41's did.
    const [first] = await waitFor("the first delivery", async () => {
      const seen = await deliveriesOf(imageId);
      return seen.length > 0 ? seen : undefined;
    });
    expect(first).toMatchObject({ attempt: 1 });
    expect(await executionsFor(imageId)).toEqual([]);
    // Then the publisher's CreateTags lands.
    await ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: familyTags }));

    const [execution] = await waitFor("the rollout", async () => {
      const found = await executionsFor(imageId);
      return found.length > 0 ? found : undefined;
    });
    expect(execution?.name).toBe(`rollout-web-${imageId}`);
    // (The journal has a delivery once its handler has returned.)
    const deliveries = await waitFor("the second delivery", async () => {
      const seen = await deliveriesOf(imageId);
      return seen.length >= 2 ? seen : undefined;
    });
    expect(deliveries.map((d) => [d.attempt, d.outcome])).toEqual([
      [1, "failed"],
      [2, "delivered"],
    ]);
    const history = await deps.audit.history(`image/${imageId}`);
    expect(trail(history)).toEqual(["defer-image-event:held", "start-rollout:ok"]);
    expect(history[0]).toMatchObject({
      reason: expect.stringContaining("no phoenix:image-family tag; looked at again"),
      details: expect.objectContaining({ attempt: 1, maxAttempts: MAX_ATTEMPTS }),
    });
    expect(history[1]?.details).toMatchObject({ attempt: 2 });
  });

  it("ignores an image that never gets its family tag on the last delivery: audited once, not dead-lettered", async () => {
    const imageId = await registerUntagged(`never-tagged-${Date.now()}`);
    const deliveries = await everyDelivery(imageId);
    expect(deliveries.map((d) => [d.attempt, d.outcome, d.deadLettered])).toEqual([
      ...Array.from({ length: MAX_ATTEMPTS - 1 }, (_, i) => [i + 1, "failed", false]),
      [MAX_ATTEMPTS, "delivered", false],
    ]);
    const history = await deps.audit.history(`image/${imageId}`);
    expect(trail(history)).toEqual(["defer-image-event:held", "ignore-image-event:skipped"]);
    expect(history[1]?.reason).toBe(
      `the image has no phoenix:image-family tag (still so on delivery ${MAX_ATTEMPTS} of ${MAX_ATTEMPTS})`,
    );
    expect(await executionsFor(imageId)).toEqual([]);
  });

  it("dead-letters an event that fails on every delivery, audits it, and replays it with start-message-move-task", async () => {
    const dlqArn = buffer.dlqArn;
    const before = await healthOf();
    cloud.context.faults.configure({
      seed: 1,
      rules: [{ service: "states", action: "StartExecution", errorRate: 1 }],
    });
    let imageId: string;
    try {
      imageId = await registerImage(ec2, { family: "web", name: `dead-letter-${Date.now()}` });
      const deliveries = await everyDelivery(imageId);
      expect(deliveries.map((d) => [d.attempt, d.outcome, d.deadLettered])).toEqual([
        ...Array.from({ length: MAX_ATTEMPTS - 1 }, (_, i) => [i + 1, "failed", false]),
        [MAX_ATTEMPTS, "failed", true],
      ]);
    } finally {
      cloud.context.faults.configure({ seed: 1, rules: [] });
    }
    const history = await deps.audit.history(`image/${imageId}`);
    expect(trail(history)).toEqual(["dead-letter-image-event:failed"]);
    expect(history[0]).toMatchObject({
      imageId,
      reason: expect.stringMatching(
        new RegExp(
          `failed on its last delivery \\(${MAX_ATTEMPTS} of ${MAX_ATTEMPTS}\\): .*start-message-move-task`,
        ),
      ),
    });
    expect(await executionsFor(imageId)).toEqual([]);
    expect((await healthOf()).deadLettered).toBe(before.deadLettered + 1);
    // SQS moves it to the DLQ when it would be received once more than maxReceiveCount.
    const sqs = new SQSClient(clientConfig(cloud));
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: buffer.dlqName }));
    await waitFor("the event in the DLQ", async () => {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
      );
      return Number(Attributes?.ApproximateNumberOfMessages) === 1 ? true : undefined;
    });

    // Replayed as in AWS: the DLQ's messages go back to the buffer, and the rollout starts.
    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }));
    expect(TaskHandle).toMatch(/\S/);
    const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn }));
    expect(Results[0]).toMatchObject({ Status: "COMPLETED", ApproximateNumberOfMessagesMoved: 1 });
    const [execution] = await waitFor("the replayed rollout", async () => {
      const found = await executionsFor(imageId);
      return found.length > 0 ? found : undefined;
    });
    expect(execution?.name).toBe(`rollout-web-${imageId}`);
    expect(trail(await deps.audit.history(`image/${imageId}`))).toEqual([
      "dead-letter-image-event:failed",
      "start-rollout:ok",
    ]);
  });
});

describe("on-image: every ignored event leaves one audit record, whatever the redeliveries", () => {
  const ami = sampleEvents("ami");
  const imageBuilder = sampleEvents("imagebuilder");

  /** The samples as the image buffer delivers them, each with an id of its own (EventBridge's). */
  function batch(events: Record<string, unknown>[], receiveCount: number): SQSEvent {
    return {
      Records: events.map((event) => ({
        messageId: randomUUID(),
        receiptHandle: randomUUID(),
        body: JSON.stringify(event),
        attributes: {
          ApproximateReceiveCount: String(receiveCount),
          SentTimestamp: String(Date.now()),
          SenderId: "AIDAEVENTBRIDGE",
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: buffer.arn,
        awsRegion: "us-east-1",
      })),
    };
  }

  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [
      "AMI deregistered",
      ami["docs-ami-deregistered.json"]!,
      "image/ami-0123456789example",
      /AMI state is "deregistered", not available/,
    ],
    [
      "AMI disabled",
      ami["docs-ami-disabled.json"]!,
      "image/ami-0abcdef1234567890",
      /AMI state is "disabled", not available/,
    ],
    [
      "AMI failed",
      ami["docs-ami-failed.json"]!,
      "image/ami-0123456789example",
      /AMI state is "failed", not available/,
    ],
    [
      "an AMI this region does not have",
      ami["docs-ami-available.json"]!,
      "image/ami-0123456789example",
      /image ami-0123456789example not found in this region/,
    ],
    [
      "an Image Builder image of another region",
      imageBuilder["docs-image-state-change-testing-to-available.json"]!,
      "image/arn:aws:imagebuilder:us-west-2:111122223333:image/cmkencryptedworkflowtest-a1b2c3d4-5678-90ab-cdef-EXAMPLE22222/1.0.0/1",
      /event from us-west-2, Phoenix here runs in us-east-1/,
    ],
    [
      "Image Builder CVE Detected",
      imageBuilder["docs-not-state-change-cve-detected.json"]!,
      "image/arn:aws:imagebuilder:us-east-1:111122223333:image/test-image/1.0.0/1",
      /"EC2 Image Builder CVE Detected" does not announce a new image/,
    ],
    [
      "Image Builder pipeline disabled",
      imageBuilder["docs-not-state-change-pipeline-auto-disabled.json"]!,
      "event/",
      /"EC2 Image Builder Image Pipeline Automatically Disabled" does not announce a new image/,
    ],
    [
      "Image Builder workflow step waiting",
      imageBuilder["docs-not-state-change-workflow-step-waiting.json"]!,
      "image/arn:aws:imagebuilder:us-west-2:111122223333:image/workflowstepwaitforactionwithvalidsnstopictest-a1b2c3d4-5678-90ab-cdef-EXAMPLE22222/1.0.0/1",
      /"EC2 Image Builder Workflow Step Waiting" does not announce a new image/,
    ],
  ];

  it("records each sample once, with its reason, through deliveries 1 to the last", async () => {
    const events: Record<string, unknown>[] = cases.map(([, sample]) => ({
      ...structuredClone(sample),
      id: randomUUID(),
    }));
    // Every delivery SQS may make; the not-found image is deferred until the last one.
    for (let receive = 1; receive <= MAX_ATTEMPTS; receive++) {
      const { batchItemFailures } = await onImage(batch(events, receive), lambdaContext("on-image"));
      expect(batchItemFailures).toHaveLength(receive < MAX_ATTEMPTS ? 1 : 0);
    }
    const records = (await deps.audit.since(new Date(0).toISOString())).filter((record) =>
      events.some((event) => record.details?.eventId === event.id),
    );
    for (const [i, [what, , subject, reason]] of cases.entries()) {
      const mine = records.filter((record) => record.details?.eventId === events[i]!.id);
      const ignored = mine.filter((record) => record.action === "ignore-image-event");
      expect(ignored, what).toHaveLength(1);
      expect(ignored[0], what).toMatchObject({
        outcome: "skipped",
        actor: "phoenix:rollout",
        reason: expect.stringMatching(reason),
        details: expect.objectContaining({ eventId: events[i]!.id, source: events[i]!.source }),
      });
      if (subject === "event/") expect(ignored[0]?.subject, what).toBe(`event/${events[i]!.id}`);
      else expect(ignored[0]?.subject, what).toBe(subject);
      // Only the image that may still appear was deferred, and only once.
      expect(
        mine.filter((record) => record.action === "defer-image-event"),
        what,
      ).toHaveLength(what === "an AMI this region does not have" ? 1 : 0);
    }
  });
});

/** The image buffer's event source mapping, as /_phoenix/health counts its deliveries. */
async function healthOf(): Promise<{ deadLettered: number }> {
  const health = (await (await fetch(`${cloud.endpoint}/_phoenix/health`)).json()) as {
    parts: { deployment: { eventSourceMappings: Record<string, { queue: string; deadLettered: number }> } };
  };
  return Object.values(health.parts.deployment.eventSourceMappings).find((m) => m.queue === buffer.name)!;
}
