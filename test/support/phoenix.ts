import type { LocalCloud } from "../../local/cloud.js";
import type { LocalCloudPlugin } from "../../local/core/context.js";
import { NOTIFICATIONS_PART, type NotificationsPart } from "../../local/core/notifications.js";
import {
  type DeploymentOptions,
  deploymentOf,
  type FunctionWrapper,
  type LocalDeployment,
} from "../../local/deployment/index.js";
import { phoenixParts } from "../../local/plugins.js";
import type { LocalLambdaHandler } from "../../local/stepfunctions/index.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { parsePolicy } from "../../src/policy/index.js";
import type { PhoenixResources } from "../../src/resources.js";
import { startTestCloud } from "./cloud.js";
import { withQuietSweep } from "./policy.js";

// Handlers log JSON through Powertools; tests read effects, not logs.
process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

/**
 * Phoenix on a test cloud, deployed from its resource graph as `phoenix local` deploys it (the SST
 * program run offline for the stage and policy, cached: local/deployment), with the parts a test
 * needs in front (Auto Scaling, moto fixes, a wiretap). Tests call Phoenix through the doors a
 * user has, or call a deployed function's code with the deps the deployment built for it from
 * its graph environment.
 */
export interface DeployedCloud {
  cloud: LocalCloud;
  deployment: LocalDeployment;
  /** The deps of the deployed on-finding function (its environment), with every AWS client. */
  deps: PhoenixDeps;
  resources: PhoenixResources;
  /** The messages Phoenix published to its topic since the last drain. */
  drainNotifications(): ReceivedNotification[];
  stop(): Promise<void>;
}

export interface ReceivedNotification {
  subject: string;
  message: string;
  kind?: string;
  severity?: string;
}

export interface DeployedCloudOptions {
  /** The policy Phoenix is deployed with (defaults filled in). */
  policy?: unknown;
  /** Default "test". */
  stage?: string;
  speed?: number;
  /** Parts in front of Phoenix's (they see calls first). */
  parts?: LocalCloudPlugin[];
  /** The SDK retry budget of the functions' clients (small: let errors reach the workflow's Retry). */
  backoff?: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  wrap?: FunctionWrapper;
  /** Deployment options beyond these (a given graph). */
  deployment?: Omit<DeploymentOptions, "policy" | "stage" | "wrap" | "sdkBackoff">;
}

/** A test cloud with Phoenix deployed on it; stop it in afterAll. */
export async function startDeployedCloud(options: DeployedCloudOptions = {}): Promise<DeployedCloud> {
  const cloud = await startTestCloud({
    ...(options.speed !== undefined ? { speed: options.speed } : {}),
    plugins: [
      ...(options.parts ?? []),
      ...phoenixParts({
        ...options.deployment,
        stage: options.stage ?? "test",
        policy: parsePolicy(withQuietSweep(options.policy)),
        sdkBackoff: options.backoff ?? { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 200 },
        ...(options.wrap ? { wrap: options.wrap } : {}),
      }),
    ],
  });
  try {
    const deployment = deploymentOf(cloud);
    const inbox = cloud.parts.find((p) => p.name === NOTIFICATIONS_PART) as NotificationsPart;
    let seen = 0;
    return {
      cloud,
      deployment,
      deps: deployment.depsOf("on-finding", { clients: "all" }),
      resources: deployment.resources,
      drainNotifications() {
        const fresh = inbox
          .messages()
          .filter((n) => (n.seq ?? 0) > seen && n.topicArn === deployment.resources.topicArn);
        seen = Math.max(seen, ...inbox.messages().map((n) => n.seq ?? 0));
        return fresh.map((n) => ({
          subject: n.subject ?? "",
          message: n.message,
          ...(n.attributes.kind !== undefined ? { kind: n.attributes.kind } : {}),
          ...(n.attributes.severity !== undefined ? { severity: n.attributes.severity } : {}),
        }));
      },
      stop: () => cloud.stop(),
    };
  } catch (error) {
    await cloud.stop();
    throw error;
  }
}

/**
 * Composes wrappers: each sees the handler the previous one made.
 */
export function wrapAll(...wrappers: (FunctionWrapper | undefined)[]): FunctionWrapper {
  return (fn, handler, deps) =>
    wrappers.reduce<LocalLambdaHandler>((h, wrap) => (wrap ? wrap(fn, h, deps) : h), handler);
}

/**
 * Holds the deployed functions of these entry points (`contain-admit`): an invocation never
 * returns (until it times out, as Lambda's would), so a workflow that reaches one stays RUNNING
 * with no effect. Tests of the intake alone hold the contain workflow at its first step (Admit).
 */
export function holding(...entries: string[]): FunctionWrapper {
  return (fn, handler) => {
    const entry =
      fn.handler
        .replace(/\.[^.]+$/, "")
        .split("/")
        .pop() ?? "";
    if (!entries.includes(entry)) return handler;
    return () => new Promise<never>(() => {});
  };
}

/**
 * Records every error a deployed function throws (the workflow may retry or catch it), by
 * function name.
 */
export function recordingErrors(errors: { fn: string; name: string; message: string }[]): FunctionWrapper {
  return (fn, handler) => async (event, context) => {
    try {
      return await handler(event, context);
    } catch (error) {
      errors.push({ fn: fn.name, name: (error as Error).name, message: (error as Error).message });
      throw error;
    }
  };
}

/**
 * Replaces the deployed function of an entry point with a stub (what a test puts in the place of
 * a step it does not exercise: e.g. a rollout Plan that starts nothing, so that the execution
 * on-image starts ends at once, SUCCEEDED, with no effect).
 */
export function stubbing(entry: string, stub: LocalLambdaHandler): FunctionWrapper {
  return (fn, handler) =>
    fn.handler
      .replace(/\.[^.]+$/, "")
      .split("/")
      .pop() === entry
      ? stub
      : handler;
}

/** A rollout Plan that starts nothing: the execution ends at once (NotStarted), recording nothing. */
export const ROLLOUT_STARTS_NOTHING = stubbing("rollout-plan", async () => ({
  rollout: { outcome: "none" },
}));
