import { type AuditStore, dynamoAuditStore } from "./audit/audit.js";
import { type AwsClients, type AwsTarget, type ClientFactories, lazyClients } from "./aws/clients.js";
import { type Notifier, snsNotifier } from "./notify.js";
import { loadPolicy, type Policy } from "./policy/index.js";
import { type PhoenixResources, resourcesFromEnv } from "./resources.js";

/**
 * Everything a handler or workflow step needs from the outside world. Handlers build it once
 * per cold start from the environment; the local cloud and tests build it explicitly.
 */
export interface PhoenixDeps {
  clients: AwsClients;
  resources: PhoenixResources;
  policy: Policy;
  audit: AuditStore;
  notifier: Notifier;
  /** The account Phoenix runs in (for "self" image owners and ARNs). */
  accountId: string;
  region: string;
  now: () => Date;
  /**
   * Clients of the same kinds and endpoint in another region or with other credentials: how
   * src/member-access.ts reaches a member account. Absent where deps were built by hand.
   */
  reach?: (target: Pick<AwsTarget, "region" | "credentialProvider">) => AwsClients;
}

export function buildDeps(
  parts: Pick<PhoenixDeps, "clients" | "resources" | "policy" | "accountId" | "region"> &
    Partial<Pick<PhoenixDeps, "reach">> & {
      now?: () => Date;
    },
): PhoenixDeps {
  const now = parts.now ?? (() => new Date());
  return {
    ...parts,
    now,
    audit: dynamoAuditStore(parts.clients.dynamo, parts.resources.auditTable, {
      retentionDays: parts.policy.retention.auditDays,
      now,
    }),
    notifier: snsNotifier(() => parts.clients.sns, parts.resources.topicArn),
  };
}

/**
 * The dependencies a handler builds from its environment (PHOENIX_* names its tables, topic,
 * state machines, account and policy), with the AWS clients its entry point names. Lambda does
 * this once per cold start (depsFromEnv); the local cloud once per deployed function, from the
 * environment the graph gives it, with `target` pointing the clients at the local cloud.
 */
export function depsFromEnvironment(
  clients: Partial<ClientFactories>,
  env: NodeJS.ProcessEnv,
  options: { target?: AwsTarget; now?: () => Date } = {},
): PhoenixDeps {
  const target = options.target ?? { endpoint: env.AWS_ENDPOINT_URL, region: env.AWS_REGION };
  return buildDeps({
    clients: lazyClients(target, clients),
    reach: (other) => lazyClients({ ...target, ...other }, clients),
    resources: resourcesFromEnv(env),
    policy: loadPolicy(env),
    accountId: env.PHOENIX_ACCOUNT_ID ?? "",
    region: env.AWS_REGION ?? "us-east-1",
    ...(options.now ? { now: options.now } : {}),
  });
}

let cached: PhoenixDeps | undefined;

/**
 * The dependencies of a deployed (or locally invoked) handler, from its environment, with the
 * AWS clients its entry point names (only those are bundled into it).
 */
export function depsFromEnv(
  clients: Partial<ClientFactories>,
  env: NodeJS.ProcessEnv = process.env,
): PhoenixDeps {
  cached ??= depsFromEnvironment(clients, env);
  return cached;
}
