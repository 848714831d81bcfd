import { type EventBridgeClient, PutRuleCommand, PutTargetsCommand } from "@aws-sdk/client-eventbridge";
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { EventRule } from "../../src/events/rules.js";
import { EVENT_TARGETS, type EventTargetName } from "../../src/events/targets.js";

/**
 * The SQS input that makes a moto rule target write the whole event to the queue.
 *
 * moto's default target input compiles eight JSONPath expressions per delivered event
 * (≈70 ms each: ~0.5 s added to every PutEvents that matches) and leaves `account` out.
 * The predefined `<aws.events.event.json>` variable gives the full event; moto compiles the
 * paths map even when unused and falls back to its default when it is empty, so it holds one.
 */
export const WHOLE_EVENT_INPUT = {
  InputPathsMap: { id: "$.id" },
  InputTemplate: "<aws.events.event.json>",
};

export interface TargetQueue {
  target: EventTargetName;
  queueName: string;
  queueUrl: string;
  queueArn: string;
  deadLetterQueueName: string;
  deadLetterQueueUrl: string;
  deadLetterQueueArn: string;
}

/**
 * Local queue names: a buffered target's queue is the deployed buffer (`finding-buffer`); a
 * direct target has no queue when deployed, so the local one is named after the function.
 */
export function localQueueName(target: EventTargetName): string {
  const definition = EVENT_TARGETS[target];
  return definition.delivery.kind === "buffered"
    ? `phoenix-${definition.delivery.queue}`
    : `phoenix-${definition.function}-events`;
}

export interface QueueSettings {
  /** Attempts before the queue's redrive policy moves a message to the dead-letter queue. */
  maxAttempts: number;
  /** How long a received message stays hidden if its handler neither succeeds nor fails. */
  visibilityTimeoutSeconds: number;
}

export async function createTargetQueue(
  sqs: SQSClient,
  target: EventTargetName,
  settings: QueueSettings,
): Promise<TargetQueue> {
  const queueName = localQueueName(target);
  const deadLetterQueueName = `${queueName}-dlq`;
  const deadLetter = await createQueue(sqs, deadLetterQueueName, { MessageRetentionPeriod: "1209600" });
  const queue = await createQueue(sqs, queueName, {
    VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: deadLetter.arn,
      maxReceiveCount: settings.maxAttempts,
    }),
  });
  return {
    target,
    queueName,
    queueUrl: queue.url,
    queueArn: queue.arn,
    deadLetterQueueName,
    deadLetterQueueUrl: deadLetter.url,
    deadLetterQueueArn: deadLetter.arn,
  };
}

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
