import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Context } from "aws-lambda";
import { lambdaContext as benchLambdaContext, sqsBatch } from "../../../bench/lib/events.js";
import type { LocalCloud } from "../../../local/cloud.js";
import type { FunctionWrapper, LocalDeployment } from "../../../local/deployment/index.js";
import { primaryInterfaceGroups } from "../../../local/moto-fixes/primary-eni-groups.js";
import { serialDynamoDb } from "../../../local/moto-fixes/serial-dynamodb.js";
import { type DemoGroupSpec, type SeededFleet, seedDemoFleet } from "../../../local/seed.js";
import type { ContainmentInput, ContainState } from "../../../src/containment/steps/types.js";
import type { PhoenixDeps } from "../../../src/deps.js";
import { parsePolicy } from "../../../src/policy/index.js";
import type { PhoenixResources } from "../../../src/resources.js";
import { holding, type ReceivedNotification, startDeployedCloud, wrapAll } from "../../support/phoenix.js";
import { loadGuardDutyEvent } from "../../unit/containment/sample-events.js";
import { Wiretap } from "./wiretap.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export function containTemplate(): string {
  return readFileSync(path.join(repoRoot, "workflows/contain.asl.json"), "utf8");
}

export interface Harness {
  cloud: LocalCloud;
  deployment: LocalDeployment;
  /** The deps of the deployed on-finding function (its graph environment), with every AWS client. */
  deps: PhoenixDeps;
  resources: PhoenixResources;
  fleet: SeededFleet;
  tap: Wiretap;
  /** The same deps with another policy (same tables, topic and clients). */
  withPolicy(policy: unknown): PhoenixDeps;
  /** What Phoenix published to its topic since the last drain. */
  drainNotifications(): ReceivedNotification[];
  stop(): Promise<void>;
}

/**
 * Phoenix deployed from its graph on a local cloud with the demo fleet, every successful call
 * through the gateway tapped. The contain workflow is deployed on the local Step Functions engine;
 * by default (`workflow: "held"`) its first step, Admit, is held, so that an execution the intake
 * starts stays RUNNING with no effect and a test sees the intake's effects alone. With
 * `workflow: "run"` the workflow runs (`speed` makes its waits shorter).
 */
export async function startHarness(
  options: {
    policy?: unknown;
    groups?: DemoGroupSpec[];
    workflow?: "held" | "run";
    speed?: number;
    wrap?: FunctionWrapper;
  } = {},
): Promise<Harness> {
  const tap = new Wiretap();
  const phoenix = await startDeployedCloud({
    parts: [serialDynamoDb(), primaryInterfaceGroups(), tap.plugin()],
    policy: options.policy ?? {},
    ...(options.speed !== undefined ? { speed: options.speed } : {}),
    wrap: wrapAll(options.workflow === "run" ? undefined : holding("contain-admit"), options.wrap),
  });
  const { cloud, deps, deployment, resources } = phoenix;
  try {
    const fleet = await seedDemoFleet(cloud.context.internalClientConfig, options.groups);
    return {
      cloud,
      deployment,
      deps,
      resources,
      fleet,
      tap,
      withPolicy: (policy) => ({ ...deps, policy: parsePolicy(policy) }),
      drainNotifications: phoenix.drainNotifications,
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

/** Everything published to the notification topic since the last drain. */
export async function drainNotifications(h: Harness): Promise<ReceivedNotification[]> {
  return h.drainNotifications();
}
