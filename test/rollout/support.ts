import { Logger } from "@aws-lambda-powertools/logger";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { DescribeExecutionCommand, type SFNClient } from "@aws-sdk/client-sfn";
import type { Context } from "aws-lambda";
import { createImageEventHandler } from "../../functions/on-image.js";
import { type AutoScalingPart, autoScalingPlugin } from "../../local/autoscaling/index.js";
import type { LocalCloud } from "../../local/cloud.js";
import { type DemoGroupSpec, type SeededFleet, seedDemoFleet } from "../../local/core/seed.js";
import type { LocalDeployment } from "../../local/deployment/index.js";
import type { PhoenixDeps } from "../../src/deps.js";
import type { PhoenixResources } from "../../src/resources.js";
import type { OnImageResult } from "../../src/rollout/workflow/image-intake.js";
import { clientConfig } from "../support/cloud.js";
import { startedForFile } from "../support/lifecycle.js";
import { type ReceivedNotification, recordingErrors, startDeployedCloud } from "../support/phoenix.js";
import { sampleEvent } from "../support/sample-events.js";

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

export type { ReceivedNotification } from "../support/phoenix.js";

/** Mutating calls the cloud served since `seq` (the call log marks them). */
export function mutatingCallsSince(cloud: LocalCloud, seq: number) {
  return cloud.context.callLog.since(seq).filter((call) => call.mutating);
}

export function lastSeq(cloud: LocalCloud): number {
  return cloud.context.callLog.since(0).at(-1)?.seq ?? 0;
}

export interface RolloutEnvironment {
  cloud: LocalCloud;
  deployment: LocalDeployment;
  /** The deps the deployment built for on-image (its environment), with every client. */
  deps: PhoenixDeps;
  resources: PhoenixResources;
  fleet: SeededFleet;
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  stateMachineArn: string;
  /** Errors the workflow's steps threw (retried or caught by the state machine), by deployed function. */
  stepErrors: { fn: string; name: string; message: string }[];
  /** on-image with one EventBridge event, decided at once (createImageEventHandler). */
  onImage(event: unknown): Promise<OnImageResult>;
  /** An AMI State Change (available) for the image, from the shared sample. */
  amiAvailable(imageId: string): Record<string, unknown>;
  /** The groups' launch template version and the images their instances run. */
  groupState(name: string): Promise<{ version?: string; images: string[] }>;
  /** What Phoenix published to its topic since the last drain. */
  drainNotifications(): ReceivedNotification[];
  stop(): Promise<void>;
}

export interface RolloutEnvironmentOptions {
  speed: number;
  policy?: unknown;
  /** The SDK retry budget of Phoenix's own clients (small: let errors reach the workflow's Retry). */
  backoff?: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  /** The fleet to seed; the demo fleet by default. */
  groups?: DemoGroupSpec[];
}

/**
 * The local cloud with instance refresh (autoscaling plugin) and Phoenix deployed from its graph
 * (the rollout state machine on the local Step Functions engine, its tasks the deployed
 * functions), and the demo fleet.
 */
export async function startRolloutEnvironment(
  options: RolloutEnvironmentOptions,
): Promise<RolloutEnvironment> {
  const stepErrors: RolloutEnvironment["stepErrors"] = [];
  const phoenix = await startDeployedCloud({
    speed: options.speed,
    parts: [autoScalingPlugin({ bootSeconds: 30 })],
    ...(options.policy !== undefined ? { policy: options.policy } : {}),
    ...(options.backoff !== undefined ? { backoff: options.backoff } : {}),
    wrap: recordingErrors(stepErrors),
  });
  const { cloud, deployment } = phoenix;
  try {
    const deps = deployment.depsOf("on-image", { clients: "all" });
    const fleet = await seedDemoFleet(clientConfig(cloud), options.groups);
    await (cloud.parts.find((part) => part.name === "autoscaling") as AutoScalingPart).markBooted();
    const ec2 = new EC2Client(clientConfig(cloud));
    const autoScaling = new AutoScalingClient(clientConfig(cloud));
    const onImage = createImageEventHandler(deployment.depsOf("on-image"), { logger: quietLogger() });
    const sample = sampleEvent("ami", "docs-ami-available.json");
    return {
      cloud,
      deployment,
      deps,
      resources: deployment.resources,
      fleet,
      ec2,
      autoScaling,
      stateMachineArn: deployment.stateMachineArns.rollout,
      stepErrors,
      onImage: (event) => onImage(event, lambdaContext(deployment.functionOf("on-image").name)),
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
      drainNotifications: phoenix.drainNotifications,
      stop: () => cloud.stop(),
    };
  } catch (error) {
    await cloud.stop();
    throw error;
  }
}

/** The rollout environment of a test file: started in beforeAll, stopped in afterAll. */
export function useRolloutEnvironment(options: RolloutEnvironmentOptions): RolloutEnvironment {
  return startedForFile(() => startRolloutEnvironment(options));
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
