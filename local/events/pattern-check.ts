import { randomUUID } from "node:crypto";
import {
  CreateEventBusCommand,
  DeleteEventBusCommand,
  DeleteRuleCommand,
  EventBridgeClient,
  PutEventsCommand,
  RemoveTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import { DeleteQueueCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { EventPattern } from "../../src/events/rules.js";
import type { LocalCloudContext } from "../core/context.js";
import { createQueue, putRuleToQueue } from "./topology.js";

/** An event as a sample file holds it: only what PutEvents can carry is used. */
export interface SampleEvent {
  source: string;
  "detail-type": string;
  detail: unknown;
  resources?: unknown;
}

/**
 * Which events each pattern matches, decided by moto's EventBridge rule matching (moto does not
 * implement TestEventPattern: it answers 200 with no result). On a private bus, one rule and
 * queue per pattern; every event is put once; a pattern matches the events its queue received.
 *
 * PutEvents sets the envelope's id, account, time and region itself: patterns that test those
 * fields cannot be checked this way (Phoenix's do not).
 */
export async function matchPatterns<P extends string, E extends string>(
  config: LocalCloudContext["internalClientConfig"],
  patterns: Record<P, EventPattern>,
  events: Record<E, SampleEvent>,
): Promise<Record<P, E[]>> {
  const eventbridge = new EventBridgeClient(config);
  const sqs = new SQSClient(config);
  const run = randomUUID().slice(0, 8);
  const bus = `phoenix-pattern-check-${run}`;
  const rules: { pattern: P; rule: string; queueUrl: string }[] = [];
  try {
    await eventbridge.send(new CreateEventBusCommand({ Name: bus }));
    for (const [index, pattern] of (Object.keys(patterns) as P[]).entries()) {
      const rule = `pattern-${index}-${run}`;
      const queue = await createQueue(sqs, rule, {});
      rules.push({ pattern, rule, queueUrl: queue.url });
      await putRuleToQueue(
        eventbridge,
        { name: rule, description: pattern, pattern: patterns[pattern] },
        queue.arn,
        "check",
        bus,
      );
    }

    const byEventId = new Map<string, E>();
    const names = Object.keys(events) as E[];
    for (let i = 0; i < names.length; i += 10) {
      const batch = names.slice(i, i + 10);
      const result = await eventbridge.send(
        new PutEventsCommand({
          Entries: batch.map((name) => ({
            EventBusName: bus,
            Source: events[name].source,
            DetailType: events[name]["detail-type"],
            Detail: JSON.stringify(events[name].detail),
            Resources: Array.isArray(events[name].resources) ? events[name].resources.map(String) : [],
          })),
        }),
      );
      result.Entries?.forEach((entry, j) => {
        const name = batch[j];
        if (!entry.EventId || name === undefined)
          throw new Error(`PutEvents refused ${name}: ${entry.ErrorCode} ${entry.ErrorMessage}`);
        byEventId.set(entry.EventId, name);
      });
    }

    // moto delivers to SQS before PutEvents answers, so the queues are complete now.
    const matches = {} as Record<P, E[]>;
    for (const { pattern, queueUrl } of rules) {
      const matched: E[] = [];
      for (;;) {
        const received = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }),
        );
        const messages = received.Messages ?? [];
        if (messages.length === 0) break;
        for (const message of messages) {
          const id = (JSON.parse(message.Body ?? "{}") as { id?: string }).id ?? "";
          const name = byEventId.get(id);
          if (name === undefined)
            throw new Error(`queue of ${pattern} received an event that was not put: ${id}`);
          matched.push(name);
        }
      }
      matches[pattern] = [...new Set(matched)].sort();
    }
    return matches;
  } finally {
    for (const { rule, queueUrl } of rules) {
      await eventbridge
        .send(new RemoveTargetsCommand({ Rule: rule, EventBusName: bus, Ids: ["check"] }))
        .catch(() => {});
      await eventbridge.send(new DeleteRuleCommand({ Name: rule, EventBusName: bus })).catch(() => {});
      await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => {});
    }
    await eventbridge.send(new DeleteEventBusCommand({ Name: bus })).catch(() => {});
    eventbridge.destroy();
    sqs.destroy();
  }
}
