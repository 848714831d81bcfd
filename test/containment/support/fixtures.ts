import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CreateStateMachineCommand, SFNClient } from "@aws-sdk/client-sfn";
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { lambdaContext as benchLambdaContext, sqsBatch } from "../../../bench/lib/events.js";
import type { LocalCloud } from "../../../local/cloud.js";
import { primaryInterfaceGroups } from "../../../local/moto-fixes/primary-eni-groups.js";
import { serialDynamoDb } from "../../../local/moto-fixes/serial-dynamodb.js";
import type { LocalPhoenixResources } from "../../../local/phoenix/resources.js";
import { type DemoGroupSpec, type SeededFleet, seedDemoFleet } from "../../../local/seed.js";
import { renderContainDefinition } from "../../../src/containment/steps/catalog.js";
import type { ContainmentInput, ContainState } from "../../../src/containment/steps/types.js";
import type { PhoenixDeps } from "../../../src/deps.js";
import { parsePolicy } from "../../../src/policy/index.js";
import { startTestCloud } from "../../support/cloud.js";
import { phoenixOn } from "../../support/phoenix.js";
import { loadGuardDutyEvent } from "../../unit/containment/sample-events.js";
import { Wiretap } from "./wiretap.js";

// Handlers log JSON through Powertools; tests read effects, not logs.
process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export function containTemplate(): string {
  return readFileSync(path.join(repoRoot, "workflows/contain.asl.json"), "utf8");
}

export interface Harness {
  cloud: LocalCloud;
  deps: PhoenixDeps;
  resources: LocalPhoenixResources;
  fleet: SeededFleet;
  tap: Wiretap;
  /** The same deps with another policy (same tables, topic and clients). */
  withPolicy(policy: unknown): PhoenixDeps;
  stop(): Promise<void>;
}

export async function startHarness(
  options: { policy?: unknown; groups?: DemoGroupSpec[] } = {},
): Promise<Harness> {
  const tap = new Wiretap();
  const cloud = await startTestCloud({ plugins: [serialDynamoDb(), primaryInterfaceGroups(), tap.plugin()] });
  try {
    const fleet = await seedDemoFleet(cloud.context.internalClientConfig, options.groups);
    const { deps, resources } = await phoenixOn(cloud, { policy: options.policy ?? {} });
    // A contain state machine for StartExecution to target (moto records executions, runs nothing).
    const name = resources.containStateMachineArn.split(":").pop()!;
    await new SFNClient(cloud.context.internalClientConfig).send(
      new CreateStateMachineCommand({
        name,
        roleArn: `arn:aws:iam::${cloud.context.accountId}:role/phoenix-contain`,
        definition: renderContainDefinition(containTemplate()),
      }),
    );
    return {
      cloud,
      deps,
      resources,
      fleet,
      tap,
      withPolicy: (policy) => ({ ...deps, policy: parsePolicy(policy) }),
      stop: () => cloud.stop(),
    };
  } catch (error) {
    await cloud.stop();
    throw error;
  }
}

export interface FindingPatch {
  instanceId: string;
  findingId?: string;
  count?: number;
  updatedAt?: string;
  severity?: number;
  accountId?: string;
  type?: string;
}

/**
 * A shared GuardDuty sample aimed at a local instance: instance id and member account rewritten
 * to local ones, the rest as published (including the sample flag, which the policy decides on).
 */
export function guardDutyEvent(file: string, patch: FindingPatch): Record<string, unknown> {
  const event = structuredClone(loadGuardDutyEvent(file)) as {
    detail: Record<string, unknown> & {
      resource: { instanceDetails?: Record<string, unknown> };
      service?: Record<string, unknown>;
    };
  } & Record<string, unknown>;
  const detail = event.detail;
  if (detail.resource.instanceDetails) detail.resource.instanceDetails["instanceId"] = patch.instanceId;
  detail["accountId"] = patch.accountId ?? "123456789012";
  event["account"] = detail["accountId"];
  if (patch.findingId) detail["id"] = patch.findingId;
  if (patch.severity !== undefined) detail["severity"] = patch.severity;
  if (patch.type) detail["type"] = patch.type;
  if (patch.updatedAt) detail["updatedAt"] = patch.updatedAt;
  if (patch.count !== undefined) detail.service = { ...detail.service, count: patch.count };
  return event;
}

export const TOR_CLIENT = "unauthorizedaccess-ec2-torclient-target.json";

/** A Lambda SQS batch whose records carry the given bodies (objects become JSON). */
export const sqsEvent = sqsBatch;

export const lambdaContext = (functionName = "test"): Context => benchLambdaContext(functionName);

let counter = 0;

/** The execution input of a containment started by hand (what the intake would send). */
export function containState(instanceId: string, overrides: Partial<ContainmentInput> = {}): ContainState {
  const findingId = overrides.findingId ?? `f${(++counter).toString(16).padStart(31, "0")}`;
  return {
    containment: {
      containmentId: `contain_123456789012_${instanceId}_${findingId}`,
      instanceId,
      accountId: "123456789012",
      findingId,
      findingType: "UnauthorizedAccess:EC2/TorClient",
      severity: 8,
      findingReceivedAt: new Date().toISOString(),
      generation: 1,
      ...overrides,
    },
    results: {},
  };
}

export interface ReceivedNotification {
  subject: string;
  message: string;
  kind?: string;
}

/** Everything published to the notification topic since the last drain. */
export async function drainNotifications(h: Harness): Promise<ReceivedNotification[]> {
  const sqs = new SQSClient(h.cloud.context.internalClientConfig);
  const received: ReceivedNotification[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: h.resources.notificationQueueUrl, MaxNumberOfMessages: 10 }),
    );
    if (Messages.length === 0) return received;
    for (const m of Messages) {
      const envelope = JSON.parse(m.Body ?? "{}") as {
        Subject?: string;
        Message?: string;
        MessageAttributes?: Record<string, { Value: string }>;
      };
      received.push({
        subject: envelope.Subject ?? "",
        message: envelope.Message ?? "",
        ...(envelope.MessageAttributes?.["kind"] ? { kind: envelope.MessageAttributes["kind"].Value } : {}),
      });
      await sqs.send(
        new DeleteMessageCommand({
          QueueUrl: h.resources.notificationQueueUrl,
          ReceiptHandle: m.ReceiptHandle,
        }),
      );
    }
  }
}
