import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { DeleteTagsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { GetImageCommand } from "@aws-sdk/client-imagebuilder";
import { DescribeExecutionCommand, ListExecutionsCommand, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { PutParameterCommand } from "@aws-sdk/client-ssm";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createImageEventHandler } from "../../functions/on-image.js";
import type { LocalCloud } from "../../local/cloud.js";
import { registerImage } from "../../local/core/seed.js";
import type { PhoenixDeps } from "../../src/deps.js";
import type { PhoenixResources } from "../../src/resources.js";
import { describeImage } from "../../src/rollout/aws/images.js";
import {
  getRollout,
  putRunningRollout,
  recordFamilyCompleted,
} from "../../src/rollout/aws/rollout-records.js";
import { rolloutExecutionName } from "../../src/rollout/core/execution-name.js";
import type { OnImageResult } from "../../src/rollout/workflow/image-intake.js";
import { clientConfig } from "../support/cloud.js";
import { type DeployedCloud, ROLLOUT_STARTS_NOTHING, startDeployedCloud } from "../support/phoenix.js";
import { sampleEvents } from "../support/sample-events.js";
import { lambdaContext, lastSeq, mutatingCallsSince, waitForExecution } from "./support.js";

let cloud: LocalCloud;
let deps: PhoenixDeps;
let resources: PhoenixResources;
let phoenix: DeployedCloud;
let ec2: EC2Client;
let logger: Logger;
let handle: (event: unknown) => Promise<OnImageResult>;

const ami = sampleEvents("ami");
const imageBuilder = sampleEvents("imagebuilder");
const ssm = sampleEvents("ssm-parameter");

beforeAll(async () => {
  // on-image only starts the rollout: here the deployed rollout's Plan starts nothing, so each
  // execution ends at once (SUCCEEDED) without an effect.
  phoenix = await startDeployedCloud({ wrap: ROLLOUT_STARTS_NOTHING });
  ({ cloud, deps, resources } = phoenix);
  ec2 = new EC2Client(clientConfig(cloud));
  logger = new Logger({ serviceName: "test", logLevel: "SILENT" });
  const handler = createImageEventHandler(phoenix.deployment.depsOf("on-image"), { logger });
  handle = (event) => handler(event, lambdaContext(phoenix.deployment.functionOf("on-image").name));
});
afterAll(async () => {
  await cloud?.stop();
});
beforeEach(() => {
  vi.restoreAllMocks();
});

/** A sample event with this test's ids: the image, and the local cloud's region. */
function rewrite(
  sample: Record<string, unknown> | undefined,
  changes: { imageId?: string; name?: string } = {},
) {
  const event = structuredClone(sample) as Record<string, unknown> & { detail: Record<string, unknown> };
  event.region = "us-east-1";
  if (changes.imageId) {
    event.detail.ImageId = changes.imageId;
    event.resources = [`arn:aws:ec2:us-east-1::image/${changes.imageId}`];
  }
  if (changes.name) event.detail.name = changes.name;
  return event;
}

/** Sets an image parameter (a String, overwritten), as an image pipeline would publish it. */
async function putImageParameter(name: string, value: string) {
  await deps.clients.ssm.send(
    new PutParameterCommand({ Name: name, Value: value, Type: "String", Overwrite: true }),
  );
}

/** The calls made since `seq`, as service:action. */
function callNames(seq: number): string[] {
  return cloud.context.callLog.since(seq).map((call) => `${call.service}:${call.action}`);
}

async function executionsFor(imageId: string) {
  const { executions } = await deps.clients.sfn.send(
    new ListExecutionsCommand({ stateMachineArn: resources.rolloutStateMachineArn }),
  );
  return (executions ?? []).filter((execution) => execution.name?.endsWith(imageId));
}

describe("on-image: the shared sample events", () => {
  it("starts the rollout for an available AMI, named by family and image, input {family, imageId}", async () => {
    const imageId = await registerImage(ec2, { family: "web", name: "on-image-ami" });
    const result = await handle(rewrite(ami["docs-ami-available.json"], { imageId }));
    expect(result).toMatchObject({
      status: "handled",
      images: [{ imageId, action: "started", family: "web" }],
    });
    const [execution] = await executionsFor(imageId);
    expect(execution?.name).toBe(rolloutExecutionName("web", imageId));
    const described = await deps.clients.sfn.send(
      new DescribeExecutionCommand({ executionArn: execution!.executionArn }),
    );
    expect(JSON.parse(described.input ?? "{}")).toEqual({ family: "web", imageId });
    const history = await deps.audit.history(`image/${imageId}`);
    expect(history.map((record) => [record.action, record.outcome])).toEqual([["start-rollout", "ok"]]);

    // The same event again (a redelivery, or the parameter update for the same image): no second execution.
    const again = await handle(rewrite(ami["docs-ami-available.json"], { imageId }));
    expect(again).toMatchObject({ images: [{ action: "already-started" }] });
    expect(await executionsFor(imageId)).toHaveLength(1);
  });

  it.each(["docs-ami-deregistered.json", "docs-ami-failed.json", "docs-ami-disabled.json"])(
    "ignores %s with the reason logged and audited, and does nothing else",
    async (file) => {
      const info = vi.spyOn(logger, "info");
      const seq = lastSeq(cloud);
      // The documentation's samples share one event id; EventBridge gives every event its own.
      const event = { ...rewrite(ami[file]), id: randomUUID() };
      const result = await handle(event);
      expect(result).toMatchObject({
        status: "ignored",
        reason: expect.stringMatching(/AMI state is "\w+", not available/),
      });
      expect(info).toHaveBeenCalledWith(expect.stringContaining("not available"), expect.anything());
      expect(callNames(seq)).toEqual(["dynamodb:PutItem"]);
      const imageId = (event.detail as { ImageId: string }).ImageId;
      const records = (await deps.audit.history(`image/${imageId}`)).filter(
        (record) => record.details?.eventId === event.id,
      );
      expect(records).toMatchObject([
        {
          action: "ignore-image-event",
          outcome: "skipped",
          imageId,
          reason: result.status === "ignored" ? result.reason : "",
        },
      ]);
    },
  );

  it("resolves an Image Builder image to this region's AMI with GetImage", async () => {
    const imageId = await registerImage(ec2, { family: "web", name: "on-image-builder" });
    const event = rewrite(imageBuilder["docs-image-state-change-testing-to-available.json"]);
    const arn = String((event.resources as string[])[0]).replace("us-west-2", "us-east-1");
    event.resources = [arn];
    // moto has no Image Builder: GetImage is answered here, as AWS would for a distributed image.
    const send = vi
      .spyOn(phoenix.deployment.depsOf("on-image").clients.imageBuilder, "send")
      .mockImplementation(async (command) => {
        expect(command).toBeInstanceOf(GetImageCommand);
        expect((command as GetImageCommand).input.imageBuildVersionArn).toBe(arn);
        return {
          image: {
            outputResources: {
              amis: [
                { region: "eu-west-1", image: "ami-0eeeeeeeeeeeeeeee", accountId: "123456789012" },
                { region: "us-east-1", image: imageId, accountId: "123456789012" },
              ],
            },
          },
        };
      });
    const result = await handle(event);
    expect(send).toHaveBeenCalledOnce();
    expect(result).toMatchObject({ status: "handled", images: [{ imageId, action: "started" }] });
    expect(await executionsFor(imageId)).toHaveLength(1);
  });

  it("ignores an Image Builder image with no AMI in this region", async () => {
    const event = rewrite(imageBuilder["docs-image-state-change-testing-to-available.json"]);
    vi.spyOn(phoenix.deployment.depsOf("on-image").clients.imageBuilder, "send").mockImplementation(
      async () => ({
        image: { outputResources: { amis: [{ region: "eu-west-1", image: "ami-0eeeeeeeeeeeeeeee" }] } },
      }),
    );
    const result = await handle(event);
    expect(result).toMatchObject({
      status: "ignored",
      reason: expect.stringContaining("has no AMI in us-east-1 (only eu-west-1)"),
    });
  });

  it.each([
    "docs-not-state-change-cve-detected.json",
    "docs-not-state-change-pipeline-auto-disabled.json",
    "docs-not-state-change-workflow-step-waiting.json",
  ])("ignores Image Builder's %s (audited, nothing else)", async (file) => {
    const seq = lastSeq(cloud);
    const result = await handle({ ...rewrite(imageBuilder[file]), id: randomUUID() });
    expect(result).toMatchObject({
      status: "ignored",
      reason: expect.stringContaining("does not announce a new image"),
    });
    expect(callNames(seq)).toEqual(["dynamodb:PutItem"]);
  });

  it("reads the AMI id of a family's image parameter (Parameter Store Change)", async () => {
    const imageId = await registerImage(ec2, { family: "web", name: "on-image-parameter" });
    await putImageParameter("/phoenix/images/web", imageId);
    const result = await handle(rewrite(ssm["docs-update.json"], { name: "/phoenix/images/web" }));
    expect(result).toMatchObject({
      status: "handled",
      images: [{ imageId, action: "started", family: "web" }],
    });
  });

  it("refuses a parameter whose family disagrees with the image's tag", async () => {
    const imageId = await registerImage(ec2, { family: "api", name: "on-image-parameter-api" });
    await putImageParameter("/phoenix/images/web", imageId);
    const result = await handle(rewrite(ssm["docs-update.json"], { name: "/phoenix/images/web" }));
    expect(result).toMatchObject({
      images: [{ imageId, action: "refused", reason: expect.stringContaining("image family is api") }],
    });
    expect(await executionsFor(imageId)).toHaveLength(0);
  });

  it("ignores a parameter value that is not an AMI id", async () => {
    await putImageParameter("/phoenix/images/api", "latest please");
    const result = await handle(rewrite(ssm["docs-update.json"], { name: "/phoenix/images/api" }));
    expect(result).toMatchObject({ status: "ignored", reason: expect.stringContaining("is not an AMI id") });
  });

  it.each([
    "docs-create.json",
    "docs-update.json",
    "docs-delete.json",
    "docs-create-ec2-image-datatype-exception.json",
    "instance-scheduler-create-hierarchical-name.json",
    "instance-scheduler-delete-hierarchical-name.json",
  ])(
    "ignores the Parameter Store sample %s (not an image parameter, a delete, or an exception)",
    async (file) => {
      const seq = lastSeq(cloud);
      const result = await handle({ ...rewrite(ssm[file]), id: randomUUID() });
      expect(result.status).toBe("ignored");
      expect(callNames(seq)).toEqual(["dynamodb:PutItem"]);
    },
  );
});

describe("on-image: the family's other rollouts", () => {
  it("is not blocked by a rollout record whose execution ended without closing it", async () => {
    const imageId = await registerImage(ec2, { family: "stale", name: "on-image-stale" });
    const { executionArn } = await deps.clients.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: resources.rolloutStateMachineArn,
        name: "stale-run",
        input: "{}",
      }),
    );
    await waitForExecution(deps.clients.sfn, executionArn!);
    const creationDate = (await describeImage(deps.clients.ec2, imageId))!.CreationDate!;
    await putRunningRollout(deps, {
      family: "stale",
      imageId,
      creationDate,
      execution: executionArn!,
      waves: [1],
    });

    const result = await handle(rewrite(ami["docs-ami-available.json"], { imageId }));
    expect(result).toMatchObject({ images: [{ imageId, action: "started" }] });
    expect(await getRollout(deps, "stale", imageId)).toMatchObject({
      status: "failed",
      reason: expect.stringContaining("ended SUCCEEDED without recording its end"),
    });
  });

  it("ignores an image older than the one the family last rolled out", async () => {
    const older = await registerImage(ec2, { family: "late", name: "on-image-late-older" });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const newer = await registerImage(ec2, { family: "late", name: "on-image-late-newer" });
    const creationDate = (await describeImage(deps.clients.ec2, newer))!.CreationDate!;
    await recordFamilyCompleted(deps, "late", { imageId: newer, creationDate, execution: "done" });
    const seq = lastSeq(cloud);
    const result = await handle(rewrite(ami["docs-ami-available.json"], { imageId: older }));
    expect(result).toMatchObject({
      images: [{ action: "ignored", reason: expect.stringContaining("older than") }],
    });
    // Only the audit record of the decision.
    expect(mutatingCallsSince(cloud, seq).map((c) => `${c.service}:${c.action}`)).toEqual([
      "dynamodb:PutItem",
    ]);
  });
});

describe("on-image: images that must not roll out", () => {
  it("refuses an image without a passed scan: audited, notified, not started", async () => {
    const imageId = await registerImage(ec2, { family: "web", name: "on-image-noscan" });
    await ec2.send(new DeleteTagsCommand({ Resources: [imageId], Tags: [{ Key: "phoenix:scan-status" }] }));
    await phoenix.drainNotifications();
    const result = await handle(rewrite(ami["docs-ami-available.json"], { imageId }));
    expect(result).toMatchObject({
      images: [{ action: "refused", reason: expect.stringContaining("phoenix:scan-status is missing") }],
    });
    expect(await executionsFor(imageId)).toHaveLength(0);
    const [record] = await deps.audit.history(`image/${imageId}`);
    expect(record).toMatchObject({
      action: "gate",
      outcome: "refused",
      reason: expect.stringContaining("scan-status"),
    });
    const notes = await phoenix.drainNotifications();
    expect(notes).toContainEqual(
      expect.objectContaining({
        kind: "image-refused",
        message: expect.stringContaining("phoenix:scan-status is missing"),
      }),
    );
  });

  it("ignores an image that has no family", async () => {
    const imageId = await registerImage(ec2, { family: "web", name: "on-image-nofamily" });
    await ec2.send(new DeleteTagsCommand({ Resources: [imageId], Tags: [{ Key: "phoenix:image-family" }] }));
    const result = await handle(rewrite(ami["docs-ami-available.json"], { imageId }));
    expect(result).toMatchObject({
      images: [{ action: "ignored", reason: expect.stringContaining("no phoenix:image-family") }],
    });
    expect(await executionsFor(imageId)).toHaveLength(0);
  });

  it("ignores an image EC2 does not know", async () => {
    const result = await handle(
      rewrite(ami["docs-ami-available.json"], { imageId: "ami-0fedcba9876543210" }),
    );
    expect(result).toMatchObject({
      images: [{ action: "ignored", reason: expect.stringContaining("not found") }],
    });
  });

  it("ignores an event from another region", async () => {
    const event = rewrite(ami["docs-ami-available.json"]);
    event.region = "eu-west-1";
    const result = await handle(event);
    expect(result).toMatchObject({ status: "ignored", reason: expect.stringContaining("eu-west-1") });
  });
});

describe("on-image: malformed events are rejected with no action", () => {
  const available = () => rewrite(ami["docs-ami-available.json"], { imageId: "ami-0123456789abcdef0" });
  const variants: [string, () => unknown, RegExp][] = [
    ["null", () => null, /expected an object/],
    ["an array", () => [available()], /expected an object/],
    ["a string", () => JSON.stringify(available()), /expected an object/],
    ["no detail-type", () => ({ ...available(), "detail-type": undefined }), /detail-type/],
    ["no detail", () => ({ ...available(), detail: undefined }), /detail/],
    [
      "a numeric ImageId",
      () => ({ ...available(), detail: { State: "available", ImageId: 42 } }),
      /detail\.ImageId/,
    ],
    [
      "an ImageId that is no AMI id",
      () => ({ ...available(), detail: { State: "available", ImageId: "i-0abc" } }),
      /not an AMI id/,
    ],
    ["no region", () => ({ ...available(), region: undefined }), /region/],
    [
      "an Image Builder event without the image ARN",
      () => ({
        ...rewrite(imageBuilder["docs-image-state-change-testing-to-available.json"]),
        resources: [],
      }),
      /no Image Builder image build version ARN/,
    ],
    [
      "a parameter event without a name",
      () => ({ ...rewrite(ssm["docs-update.json"]), detail: { operation: "Update" } }),
      /detail\.name/,
    ],
  ];
  it.each(variants)("rejects %s", async (_, build, error) => {
    const logged = vi.spyOn(logger, "error");
    const seq = lastSeq(cloud);
    const result = await handle(build());
    expect(result).toMatchObject({ status: "rejected", error: expect.stringMatching(error) });
    expect(logged).toHaveBeenCalledWith(
      expect.stringContaining("malformed image event rejected"),
      expect.anything(),
    );
    expect(mutatingCallsSince(cloud, seq)).toEqual([]);
    expect(cloud.context.callLog.since(seq)).toEqual([]);
  });
});
