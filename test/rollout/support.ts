import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { CreateStateMachineCommand, DescribeExecutionCommand, type SFNClient } from "@aws-sdk/client-sfn";
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { createImageEventHandler, type OnImageResult } from "../../functions/on-image.js";
import { createRolloutFinishHandler } from "../../functions/rollout-finish.js";
import { createRolloutGroupHandler } from "../../functions/rollout-group.js";
import { createRolloutPlanHandler } from "../../functions/rollout-plan.js";
import { createRolloutWaveHandler } from "../../functions/rollout-wave.js";
import { type AutoScalingPart, autoScalingPlugin } from "../../local/autoscaling/index.js";
import type { LocalCloud } from "../../local/cloud.js";
import type { LocalPhoenixResources } from "../../local/phoenix/resources.js";
import { type DemoGroupSpec, type SeededFleet, seedDemoFleet } from "../../local/seed.js";
import { type LocalLambdaHandler, stepFunctionsPlugin } from "../../local/stepfunctions/index.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { resourceNames } from "../../src/resources.js";
import { ROLLOUT_FUNCTIONS, renderRolloutDefinition } from "../../src/rollout/workflow/definition.js";
import { clientConfig, startTestCloud } from "../support/cloud.js";
import { phoenixOn } from "../support/phoenix.js";

/** Powertools logger that prints nothing: test output stays readable (spy on it to check log lines). */
export function quietLogger(): Logger {
  return new Logger({ serviceName: "phoenix-test", logLevel: "SILENT" });
}

/** A Lambda context good enough for handlers invoked directly in tests. */
export function lambdaContext(name = "test"): Context {
  const fail = () => {
    throw new Error("not supported in tests");
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: "512",
    awsRequestId: "test-request",
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "test",
    getRemainingTimeInMillis: () => 60_000,
    done: fail,
    fail,
    succeed: fail,
  };
}

/** The shared sample events, by folder, parsed. */
export function sampleEvents(folder: string): Record<string, Record<string, unknown>> {
  const dir = join("/work/shared/events", folder);
  return Object.fromEntries(
    readdirSync(dir)
      .filter((file) => file.endsWith(".json"))
      .map((file) => [file, JSON.parse(readFileSync(join(dir, file), "utf8")) as Record<string, unknown>]),
  );
}

/**
 * The rollout's Lambda handlers by the names the local Step Functions engine invokes, bound to
 * deps that exist only once the cloud runs (the plugin is built before that).
 */
export function rolloutFunctions(
  getDeps: () => PhoenixDeps,
  /** Every error a step threw (the workflow may retry or catch it), by function. */
  stepErrors: { fn: string; name: string; message: string }[] = [],
): Record<string, LocalLambdaHandler> {
  const lazily = (
    build: (deps: PhoenixDeps, options: { logger: Logger }) => LocalLambdaHandler,
  ): LocalLambdaHandler => {
    let handler: LocalLambdaHandler | undefined;
    return async (event, context) => {
      handler ??= build(getDeps(), { logger: quietLogger() });
      try {
        return await handler(event, context);
      } catch (error) {
        stepErrors.push({
          fn: context.functionName,
          name: (error as Error).name,
          message: (error as Error).message,
        });
        throw error;
      }
    };
  };
  return {
    [ROLLOUT_FUNCTIONS.FnRolloutPlan]: lazily(createRolloutPlanHandler),
    [ROLLOUT_FUNCTIONS.FnRolloutWave]: lazily(createRolloutWaveHandler),
    [ROLLOUT_FUNCTIONS.FnRolloutGroup]: lazily(createRolloutGroupHandler),
    [ROLLOUT_FUNCTIONS.FnRolloutFinish]: lazily(createRolloutFinishHandler),
  };
}

/** Registers workflows/rollout.asl.json (placeholders → the local function names) as the stage's rollout machine. */
export async function createRolloutStateMachine(sfn: SFNClient, stage = "test"): Promise<string> {
  const { stateMachineArn } = await sfn.send(
    new CreateStateMachineCommand({
      name: resourceNames(stage).rolloutStateMachine,
      definition: JSON.stringify(renderRolloutDefinition(ROLLOUT_FUNCTIONS)),
      roleArn: "arn:aws:iam::123456789012:role/phoenix-test-rollout",
    }),
  );
  if (!stateMachineArn) throw new Error("CreateStateMachine returned no ARN");
  return stateMachineArn;
}

/** Polls DescribeExecution until the execution ends (or the real-time limit passes). */
export async function waitForExecution(sfn: SFNClient, executionArn: string, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== "RUNNING") return execution;
    if (Date.now() > deadline)
      throw new Error(`execution ${executionArn} still RUNNING after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface ReceivedNotification {
  subject: string;
  message: string;
  kind?: string;
  severity?: string;
}

/** Drains the notification inbox (SQS subscribed to the topic). */
export async function drainNotifications(
  cloud: LocalCloud,
  queueUrl: string,
): Promise<ReceivedNotification[]> {
  const sqs = new SQSClient(cloud.context.internalClientConfig);
  const received: ReceivedNotification[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (!Messages || Messages.length === 0) return received;
    for (const message of Messages) {
      const envelope = JSON.parse(message.Body ?? "{}") as {
        Subject?: string;
        Message?: string;
        MessageAttributes?: Record<string, { Value?: string }>;
      };
      received.push({
        subject: envelope.Subject ?? "",
        message: envelope.Message ?? "",
        kind: envelope.MessageAttributes?.kind?.Value,
        severity: envelope.MessageAttributes?.severity?.Value,
      });
    }
    // Not deleted: moto's visibility timeout hides them from the next receive.
  }
}

/** Mutating calls the cloud served since `seq` (the call log marks them). */
export function mutatingCallsSince(cloud: LocalCloud, seq: number) {
  return cloud.context.callLog.since(seq).filter((call) => call.mutating);
}

export function lastSeq(cloud: LocalCloud): number {
  return cloud.context.callLog.since(0).at(-1)?.seq ?? 0;
}

export interface RolloutEnvironment {
  cloud: LocalCloud;
  deps: PhoenixDeps;
  resources: LocalPhoenixResources;
  fleet: SeededFleet;
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  stateMachineArn: string;
  /** Errors the workflow's steps threw (retried or caught by the state machine). */
  stepErrors: { fn: string; name: string; message: string }[];
  /** on-image with one EventBridge event, decided at once (createImageEventHandler). */
  onImage(event: unknown): Promise<OnImageResult>;
  /** An AMI State Change (available) for the image, from the shared sample. */
  amiAvailable(imageId: string): Record<string, unknown>;
  /** The groups' launch template version and the images their instances run. */
  groupState(name: string): Promise<{ version?: string; images: string[] }>;
  stop(): Promise<void>;
}

/**
 * The local cloud with instance refresh (autoscaling plugin) and Step Functions running
 * workflows/rollout.asl.json against the rollout's handlers, Phoenix's resources, and the demo fleet.
 */
export async function startRolloutEnvironment(options: {
  speed: number;
  policy?: unknown;
  /** The SDK retry budget of Phoenix's own clients (small: let errors reach the workflow's Retry). */
  backoff?: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  /** The fleet to seed; the demo fleet by default. */
  groups?: DemoGroupSpec[];
}): Promise<RolloutEnvironment> {
  let deps: PhoenixDeps | undefined;
  const stepErrors: RolloutEnvironment["stepErrors"] = [];
  const cloud = await startTestCloud({
    speed: options.speed,
    plugins: [
      autoScalingPlugin({ bootSeconds: 30 }),
      stepFunctionsPlugin({
        functions: rolloutFunctions(() => {
          if (!deps) throw new Error("deps not ready");
          return deps;
        }, stepErrors),
      }),
    ],
  });
  try {
    const phoenix = await phoenixOn(cloud, {
      ...(options.policy !== undefined ? { policy: options.policy } : {}),
      ...(options.backoff !== undefined ? { backoff: options.backoff } : {}),
    });
    deps = phoenix.deps;
    const fleet = await seedDemoFleet(clientConfig(cloud), options.groups);
    await (cloud.parts.find((part) => part.name === "autoscaling") as AutoScalingPart).markBooted();
    const stateMachineArn = await createRolloutStateMachine(deps.clients.sfn);
    const ec2 = new EC2Client(clientConfig(cloud));
    const autoScaling = new AutoScalingClient(clientConfig(cloud));
    const onImage = createImageEventHandler(deps, { logger: quietLogger() });
    const sample = sampleEvents("ami")["docs-ami-available.json"];
    return {
      cloud,
      deps,
      resources: phoenix.resources,
      fleet,
      ec2,
      autoScaling,
      stateMachineArn,
      stepErrors,
      onImage: (event) => onImage(event, lambdaContext("on-image")),
      amiAvailable: (imageId) => ({
        ...structuredClone(sample),
        region: "us-east-1",
        account: "123456789012",
        resources: [`arn:aws:ec2:us-east-1::image/${imageId}`],
        detail: { ...(sample?.detail as object), ImageId: imageId },
      }),
      groupState: async (name) => {
        const { AutoScalingGroups } = await autoScaling.send(
          new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
        );
        const group = AutoScalingGroups?.[0];
        const ids = (group?.Instances ?? []).map((instance) => instance.InstanceId as string);
        const { Reservations } = ids.length
          ? await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }))
          : { Reservations: [] };
        const images = (Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.ImageId as string);
        return {
          ...(group?.LaunchTemplate?.Version ? { version: group.LaunchTemplate.Version } : {}),
          images: [...new Set(images)].sort(),
        };
      },
      stop: () => cloud.stop(),
    };
  } catch (error) {
    await cloud.stop();
    throw error;
  }
}

/** The execution on-image started for an image (it must have started one). */
export function startedExecution(result: OnImageResult): string {
  if (
    result.status !== "handled" ||
    result.images[0]?.action !== "started" ||
    !result.images[0].executionArn
  ) {
    throw new Error(`on-image did not start a rollout: ${JSON.stringify(result)}`);
  }
  return result.images[0].executionArn;
}
