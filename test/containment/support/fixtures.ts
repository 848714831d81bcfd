import { ListExecutionsCommand, SFNClient } from "@aws-sdk/client-sfn";
import type { Context, SQSBatchResponse } from "aws-lambda";
import { createOnFindingHandler } from "../../../functions/on-finding.js";
import type { LocalCloud } from "../../../local/cloud.js";
import { type DemoGroupSpec, type SeededFleet, seedDemoFleet } from "../../../local/core/seed.js";
import type { FunctionWrapper, LocalDeployment } from "../../../local/deployment/index.js";
import { primaryInterfaceGroups } from "../../../local/moto-fixes/primary-eni-groups.js";
import type { PhoenixDeps } from "../../../src/deps.js";
import { parsePolicy } from "../../../src/policy/index.js";
import type { PhoenixResources } from "../../../src/resources.js";
import { clientConfig } from "../../support/cloud.js";
import { ACCOUNT } from "../../support/containment.js";
import { lambdaContext as benchLambdaContext, sqsBatch } from "../../support/lambda-events.js";
import { startedForFile } from "../../support/lifecycle.js";
import { holding, type ReceivedNotification, startDeployedCloud, wrapAll } from "../../support/phoenix.js";
import { loadGuardDutyEvent } from "../../support/sample-events.js";
import { Wiretap } from "./wiretap.js";

export { ACCOUNT, containState, containTemplate } from "../../support/containment.js";

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
  /** on-finding with the harness's deps, given one SQS batch of these bodies (findingDelivery). */
  onFinding(bodies: unknown[]): Promise<SQSBatchResponse>;
  /** The names of the contain workflow's executions (ListExecutions through the gateway). */
  containExecutions(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  policy?: unknown;
  groups?: DemoGroupSpec[];
  workflow?: "held" | "run";
  speed?: number;
  wrap?: FunctionWrapper;
}

/**
 * Phoenix deployed from its graph on a local cloud with the demo fleet, every successful call
 * through the gateway tapped. The contain workflow is deployed on the local Step Functions engine;
 * by default (`workflow: "held"`) its first step, Admit, is held, so that an execution the intake
 * starts stays RUNNING with no effect and a test sees the intake's effects alone. With
 * `workflow: "run"` the workflow runs (`speed` makes its waits shorter).
 */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const tap = new Wiretap();
  const phoenix = await startDeployedCloud({
    parts: [primaryInterfaceGroups(), tap.plugin()],
    policy: options.policy ?? {},
    ...(options.speed !== undefined ? { speed: options.speed } : {}),
    wrap: wrapAll(options.workflow === "run" ? undefined : holding("contain-admit"), options.wrap),
  });
  const { cloud, deps, deployment, resources } = phoenix;
  try {
    const fleet = await seedDemoFleet(cloud.context.internalClientConfig, options.groups);
    const sfn = new SFNClient(clientConfig(cloud));
    return {
      cloud,
      deployment,
      deps,
      resources,
      fleet,
      tap,
      withPolicy: (policy) => ({ ...deps, policy: parsePolicy(policy) }),
      drainNotifications: phoenix.drainNotifications,
      onFinding: findingDelivery(deps),
      containExecutions: async () => {
        const { executions = [] } = await sfn.send(
          new ListExecutionsCommand({ stateMachineArn: resources.containStateMachineArn }),
        );
        return executions.map((e) => e.name!);
      },
      stop: () => cloud.stop(),
    };
  } catch (error) {
    await cloud.stop();
    throw error;
  }
}

/** The harness of a test file: started in beforeAll, stopped in afterAll (see startHarness). */
export function useHarness(options: HarnessOptions = {}, timeoutMs?: number): Harness {
  return startedForFile(() => startHarness(options), timeoutMs);
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
  detail["accountId"] = patch.accountId ?? ACCOUNT;
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

/**
 * on-finding with these deps, as its SQS event source invokes it: one batch of these bodies (a
 * fresh message id each), under a Lambda context of that function name.
 */
export function findingDelivery(deps: PhoenixDeps, functionName = "on-finding") {
  const onFinding = createOnFindingHandler(deps);
  return (bodies: unknown[]) => onFinding(sqsEvent(bodies), lambdaContext(functionName));
}
