import { type EventBridgeClient, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { EventRule } from "../../src/events/rules.js";

/**
 * Rules with SQS targets in moto, for the pattern checks (pattern-check.ts) and for tests that
 * watch the bus as any user would. (Phoenix's own rules and targets are the deployment's:
 * local/deployment.)
 *
 * The SQS input that makes a moto rule target write the whole event to the queue: moto's default
 * target input compiles eight JSONPath expressions per delivered event (≈70 ms each: ~0.5 s added
 * to every PutEvents that matches) and leaves `account` out. The predefined
 * `<aws.events.event.json>` variable gives the full event; moto compiles the paths map even when
 * unused and falls back to its default when it is empty, so it holds one.
 */
export const WHOLE_EVENT_INPUT = {
  InputPathsMap: { id: "$.id" },
  InputTemplate: "<aws.events.event.json>",
};

export async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = created.QueueUrl;
  if (!url) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
  const described = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
  );
  const arn = described.Attributes?.QueueArn;
  if (!arn) throw new Error(`GetQueueAttributes ${name} returned no QueueArn`);
  return { url, arn };
}

/** Creates (or updates) a rule on a bus with one SQS target. */
export async function putRuleToQueue(
  eventbridge: EventBridgeClient,
  rule: Pick<EventRule, "name" | "description" | "pattern">,
  queueArn: string,
  targetId: string,
  eventBusName?: string,
): Promise<void> {
  await eventbridge.send(
    new PutRuleCommand({
      Name: rule.name,
      Description: rule.description,
      EventPattern: JSON.stringify(rule.pattern),
      State: "ENABLED",
      EventBusName: eventBusName,
    }),
  );
  const result = await eventbridge.send(
    new PutTargetsCommand({
      Rule: rule.name,
      EventBusName: eventBusName,
      Targets: [{ Id: targetId, Arn: queueArn, InputTransformer: WHOLE_EVENT_INPUT }],
    }),
  );
  if (result.FailedEntryCount) {
    throw new Error(`PutTargets for rule ${rule.name} failed: ${JSON.stringify(result.FailedEntries)}`);
  }
}
