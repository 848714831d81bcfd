import { createClients } from "../../../src/aws/clients.js";
import { buildDeps, type PhoenixDeps } from "../../../src/deps.js";
import type { Policy } from "../../../src/policy/index.js";
import type { PhoenixResources } from "../../../src/resources.js";

const SERVICE_OF: Record<string, string> = {
  ec2: "ec2",
  autoScaling: "autoscaling",
  sfn: "states",
  sns: "sns",
  ssm: "ssm",
  iam: "iam",
  kms: "kms",
  events: "events",
  imageBuilder: "imagebuilder",
  dynamo: "dynamodb",
};

/**
 * Deps whose AWS clients never leave the process: every command is recorded and answered with
 * an empty result (no instance, no image, no item, writes accepted). Fast enough for 100,000
 * fuzz cases, and any mutating command a handler sends is seen.
 */
export function stubDeps(policy: Policy): { deps: PhoenixDeps; sent: { service: string; action: string }[] } {
  const sent: { service: string; action: string }[] = [];
  const clients = createClients({
    endpoint: "http://127.0.0.1:9",
    region: "us-east-1",
    credentials: { accessKeyId: "fuzz", secretAccessKey: "fuzz" },
  });
  for (const [key, client] of Object.entries(clients)) {
    const service = SERVICE_OF[key]!;
    (client as { middlewareStack: { add: (m: unknown, o: unknown) => void } }).middlewareStack.add(
      (_next: unknown, context: { commandName?: string }) => async () => {
        sent.push({ service, action: (context.commandName ?? "").replace(/Command$/, "") });
        return { output: { $metadata: {} }, response: {} };
      },
      { step: "initialize", priority: "high", name: "phoenixFuzzStub" },
    );
  }
  const resources: PhoenixResources = {
    auditTable: "phoenix-fuzz-audit",
    stateTable: "phoenix-fuzz-state",
    topicArn: "arn:aws:sns:us-east-1:123456789012:phoenix-fuzz",
    containStateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-fuzz-contain",
    rolloutStateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-fuzz-rollout",
  };
  return {
    deps: buildDeps({ clients, resources, policy, accountId: "123456789012", region: "us-east-1" }),
    sent,
  };
}
