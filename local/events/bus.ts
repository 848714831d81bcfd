import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { EventBridgeEvent, SQSEvent } from "aws-lambda";
import { type EventRule, phoenixEventRules } from "../../src/events/rules.js";
import { EVENT_TARGET_NAMES, EVENT_TARGETS, type EventTargetName } from "../../src/events/targets.js";
import { defaultPolicy, type Policy } from "../../src/policy/index.js";
import type { LocalCloudContext } from "../context.js";
import { Journal } from "./journal.js";
import { type Delivery, type InvocationHandler, TargetPoller } from "./poller.js";
import { createTargetQueue, putRuleToQueue, type TargetQueue } from "./topology.js";

/** The invocation a target's handler receives: see delivery.ts. */
export type InvocationOf<T extends EventTargetName> =
  (typeof EVENT_TARGETS)[T]["delivery"]["kind"] extends "buffered"
    ? SQSEvent
    : EventBridgeEvent<string, unknown>;

export type EventHandlers = { [T in EventTargetName]?: (event: InvocationOf<T>) => Promise<unknown> };

export interface EventBusOptions {
  /** The local handler of each target; a target without one keeps its events queued. */
  handlers?: EventHandlers;
  /** Shapes the rules (severity threshold, image parameters). Defaults to the default policy. */
  policy?: Pick<Policy, "containment" | "rollout">;
  /**
   * Deliveries before an event goes to the target's DLQ, for every target. By default each
   * target's own: a buffered target's maxReceiveCount (src/events/targets.ts, as deployed), a
   * direct one Lambda's asynchronous default (3).
   */
  maxAttempts?: number;
  /** Simulated ms before a failed event is delivered again (Lambda retries after about a minute). */
  retryDelayMs?: number;
  /** Real seconds a message stays hidden while its handler runs. */
  visibilityTimeoutSeconds?: number;
  /** Most events in one SQS batch event (Lambda's SQS default: 10). */
  batchSize?: number;
  /** Long-poll wait; a new event is delivered as soon as it arrives whatever this is. */
  pollWaitSeconds?: number;
  /** How many recent deliveries `/_phoenix/events` keeps. */
  journalSize?: number;
}

export interface DeliveryEntry extends Omit<Delivery, "event"> {
  at: string;
  source?: string;
  detailType?: string;
  eventId?: string;
  event?: Delivery["event"];
}

interface TargetStats {
  delivered: number;
  failed: number;
  deadLettered: number;
  /** Messages moved back from the DLQ to the queue (redrive). */
  redriven: number;
}

/** Deliveries before the DLQ when nothing says otherwise: Lambda's asynchronous retries (1 + 2). */
const DIRECT_MAX_ATTEMPTS = 3;

/**
 * Delivery on the local default bus: Phoenix's rules live in moto (which matches them), each
 * sends to its target's SQS queue, and this bus long-polls the queues and invokes the local
 * handlers, with SQS's redelivery and dead-letter queue guaranteeing nothing is lost.
 */
export class LocalEventBus {
  readonly rules: EventRule[];
  readonly deliveries: Journal<DeliveryEntry>;
  readonly queues = new Map<EventTargetName, TargetQueue>();
  private readonly stats = new Map<EventTargetName, TargetStats>();
  private readonly latencies: number[] = [];
  private readonly pollers: TargetPoller[] = [];
  private readonly sqs: SQSClient;
  private readonly eventbridge: EventBridgeClient;
  private readonly maxAttempts = new Map<EventTargetName, number>();

  constructor(
    private readonly context: LocalCloudContext,
    private readonly options: EventBusOptions = {},
    sequence?: { next(): number },
  ) {
    this.rules = phoenixEventRules(options.policy ?? defaultPolicy());
    this.deliveries = new Journal(options.journalSize ?? 200, sequence);
    for (const target of EVENT_TARGET_NAMES) {
      const { delivery } = EVENT_TARGETS[target];
      const max =
        options.maxAttempts ??
        (delivery.kind === "buffered" ? delivery.maxReceiveCount : DIRECT_MAX_ATTEMPTS);
      if (!Number.isInteger(max) || max < 1 || max > 1000) {
        throw new Error(
          `events: maxAttempts must be an integer from 1 to 1000 (SQS maxReceiveCount), got ${max}`,
        );
      }
      this.maxAttempts.set(target, max);
      this.stats.set(target, { delivered: 0, failed: 0, deadLettered: 0, redriven: 0 });
    }
    this.sqs = new SQSClient(context.internalClientConfig);
    this.eventbridge = new EventBridgeClient(context.internalClientConfig);
  }

  /** Deliveries of an event to this target before it goes to the target's DLQ. */
  maxAttemptsOf(target: EventTargetName): number {
    return this.maxAttempts.get(target) ?? DIRECT_MAX_ATTEMPTS;
  }

  async start(): Promise<void> {
    const visibilityTimeoutSeconds = this.options.visibilityTimeoutSeconds ?? 60;
    for (const target of EVENT_TARGET_NAMES) {
      this.queues.set(
        target,
        await createTargetQueue(this.sqs, target, {
          maxAttempts: this.maxAttemptsOf(target),
          visibilityTimeoutSeconds,
        }),
      );
    }
    for (const rule of this.rules) {
      const queue = this.queues.get(rule.target);
      if (queue) await putRuleToQueue(this.eventbridge, rule, queue.queueArn, rule.target);
    }
    for (const [target, queue] of this.queues) {
      const handler = this.options.handlers?.[target] as InvocationHandler | undefined;
      if (!handler) continue;
      const poller = new TargetPoller({
        queue,
        delivery: EVENT_TARGETS[target].delivery.kind,
        handler,
        sqs: this.sqs,
        region: this.context.region,
        accountId: this.context.accountId,
        batchSize: this.options.batchSize ?? 10,
        waitTimeSeconds: this.options.pollWaitSeconds ?? 5,
        maxAttempts: this.maxAttemptsOf(target),
        // SQS hides for whole seconds: round up, so a retry never comes sooner than simulated.
        retryDelaySeconds: () =>
          Math.ceil(this.context.clock.toRealMs(this.options.retryDelayMs ?? 60_000) / 1000),
        onDelivery: (delivery) => this.record(delivery),
        log: (message) => this.context.log(message),
      });
      poller.start();
      this.pollers.push(poller);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.pollers.map((poller) => poller.stop()));
    this.pollers.length = 0;
    this.sqs.destroy();
    this.eventbridge.destroy();
  }

  health(): Record<string, unknown> {
    return {
      rules: this.rules.map((rule) => ({ name: rule.name, target: rule.target })),
      targets: Object.fromEntries(
        EVENT_TARGET_NAMES.map((target) => [
          target,
          {
            queue: this.queues.get(target)?.queueName,
            deadLetterQueue: this.queues.get(target)?.deadLetterQueueName,
            handler: this.options.handlers?.[target] !== undefined,
            delivery: EVENT_TARGETS[target].delivery.kind,
            maxAttempts: this.maxAttemptsOf(target),
            ...this.stats.get(target),
          },
        ]),
      ),
      latencyMs: summarize(this.latencies),
    };
  }

  private record(delivery: Delivery): void {
    const stats = this.stats.get(delivery.target);
    if (stats) {
      if (delivery.outcome === "delivered") stats.delivered++;
      else stats.failed++;
      if (delivery.deadLettered) stats.deadLettered++;
    }
    // Queueing latency counts first attempts only: a retry waits on purpose.
    if (delivery.attempt === 1) {
      this.latencies.push(delivery.latencyMs);
      if (this.latencies.length > 1000) this.latencies.shift();
    }
    if (delivery.outcome === "failed") {
      this.context.log(
        `events: ${delivery.target} failed on attempt ${delivery.attempt}/${this.maxAttemptsOf(delivery.target)}` +
          `${delivery.deadLettered ? " (to the dead-letter queue)" : ""}: ${delivery.error}`,
      );
    }
    this.deliveries.add({
      ...delivery,
      at: new Date().toISOString(),
      eventId: delivery.event?.id,
      source: delivery.event?.source,
      detailType: delivery.event?.["detail-type"],
    });
  }

  /** A target by its queue or dead-letter queue ARN. */
  targetOfQueueArn(arn: string): { target: EventTargetName; deadLetter: boolean } | undefined {
    for (const [target, queue] of this.queues) {
      if (queue.queueArn === arn) return { target, deadLetter: false };
      if (queue.deadLetterQueueArn === arn) return { target, deadLetter: true };
    }
    return undefined;
  }

  /**
   * Replays what waits in a target's DLQ: every message goes back to the target's queue (a new
   * message, received for the first time) and leaves the DLQ, as SQS's message move task does.
   */
  async redrive(target: EventTargetName, options: { maxMessages?: number } = {}): Promise<number> {
    const queue = this.queues.get(target);
    if (!queue) throw new Error(`events: ${target} has no queue (the bus has not started)`);
    const limit = options.maxMessages ?? Number.POSITIVE_INFINITY;
    let moved = 0;
    while (moved < limit) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queue.deadLetterQueueUrl,
          MaxNumberOfMessages: Math.min(10, limit - moved),
          WaitTimeSeconds: 0,
          VisibilityTimeout: 30,
        }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) {
        // Sent before it is deleted: a crash in between leaves a duplicate, never a loss.
        await this.sqs.send(
          new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: message.Body ?? "" }),
        );
        await this.sqs.send(
          new DeleteMessageCommand({
            QueueUrl: queue.deadLetterQueueUrl,
            ReceiptHandle: message.ReceiptHandle,
          }),
        );
        moved++;
      }
    }
    const stats = this.stats.get(target);
    if (stats) stats.redriven += moved;
    if (moved > 0)
      this.context.log(`events: ${moved} message(s) of ${target} redriven from ${queue.deadLetterQueueName}`);
    return moved;
  }
}

function summarize(values: number[]): { count: number; p50?: number; p95?: number; max?: number } {
  if (values.length === 0) return { count: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1) };
}
