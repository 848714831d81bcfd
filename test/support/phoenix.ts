import type { LocalCloud } from "../../local/cloud.js";
import { createPhoenixResources, type LocalPhoenixResources } from "../../local/phoenix/resources.js";
import { createClients } from "../../src/aws/clients.js";
import { buildDeps, type PhoenixDeps } from "../../src/deps.js";
import { parsePolicy } from "../../src/policy/index.js";

/**
 * Phoenix's tables and topic on a test cloud, and the deps a handler would build, with clients
 * that go through the gateway (so fault injection and the call log apply).
 */
export async function phoenixOn(
  cloud: LocalCloud,
  options: {
    policy?: unknown;
    stage?: string;
    backoff?: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  } = {},
): Promise<{ deps: PhoenixDeps; resources: LocalPhoenixResources }> {
  const resources = await createPhoenixResources(cloud.context.internalClientConfig, {
    stage: options.stage ?? "test",
    accountId: cloud.context.accountId,
    region: cloud.context.region,
  });
  const deps = buildDeps({
    clients: createClients({
      endpoint: cloud.endpoint,
      region: cloud.context.region,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      backoff: options.backoff ?? { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 200 },
    }),
    resources,
    policy: parsePolicy(options.policy ?? {}),
    accountId: cloud.context.accountId,
    region: cloud.context.region,
    // As on the local cloud itself (local/phoenix/stack.ts): the cloud's simulated clock.
    now: () => new Date(cloud.context.clock.now()),
  });
  return { deps, resources };
}
