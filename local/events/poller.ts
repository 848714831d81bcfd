import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import type { EventTargetName } from "../../src/events/targets.js";
import {
  type BusEventEnvelope,
  eventFromMessageBody,
  failedRecordIds,
  sqsBatchEvent,
  sqsRecord,
} from "./delivery.js";
import type { TargetQueue } from "./topology.js";

/** One handler invocation's outcome for one event. */
export interface Delivery {
  target: EventTargetName;
  messageId: string;
  /** 1 for the first delivery; SQS's ApproximateReceiveCount. */
  attempt: number;
  outcome: "delivered" | "failed";
  /** A failure on the last allowed attempt: the queue's redrive policy moves it to the DLQ. */
  deadLettered: boolean;
  /** Real ms from the event entering the queue (SentTimestamp) to the handler being invoked. */
  latencyMs: number;
  /** Real ms the handler took. */
  durationMs: number;
  error?: string;
  event?: BusEventEnvelope;
}

// biome-ignore lint/suspicious/noExplicitAny: each target's handler takes its own invocation shape.
export type InvocationHandler = (event: any) => Promise<unknown>;

export interface PollerOptions {
  queue: TargetQueue;
  delivery: "buffered" | "direct";
  handler: InvocationHandler;
  sqs: SQSClient;
  region: string;
  accountId: string;
  batchSize: number;
  waitTimeSeconds: number;
  maxAttempts: number;
  /** Real seconds a failed message stays hidden before it is delivered again. */
  retryDelaySeconds(): number;
  onDelivery(delivery: Delivery): void;
  log(message: string): void;
}

/** Long-polls one target's queue and invokes its handler as Lambda would. */
export class TargetPoller {
  private readonly abort = new AbortController();
  private loop?: Promise<void>;

  constructor(private readonly options: PollerOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(graceMs = 5_000): Promise<void> {
    this.abort.abort();
    if (!this.loop) return;
    // A handler that never returns must not keep the local cloud from stopping.
    await Promise.race([this.loop, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
  }

  private async run(): Promise<void> {
    const { sqs, queue } = this.options;
    while (!this.abort.signal.aborted) {
      let messages: Message[];
      try {
        const received = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue.queueUrl,
            MaxNumberOfMessages: this.options.batchSize,
            WaitTimeSeconds: this.options.waitTimeSeconds,
            MessageSystemAttributeNames: ["All"],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.options.log(`events: receiving from ${queue.queueName} failed: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      if (messages.length === 0) continue;
      const failed =
        this.options.delivery === "buffered"
          ? await this.invokeBatch(messages)
          : await this.invokeEach(messages);
      await this.settle(messages, failed).catch((error: unknown) =>
        this.options.log(
          `events: settling messages of ${queue.queueName} failed: ${(error as Error).message}`,
        ),
      );
    }
  }

  /** Buffered target: one invocation with Lambda's SQS batch event. */
  private async invokeBatch(messages: Message[]): Promise<Set<string>> {
    const records: SQSRecord[] = [];
    const events = new Map<string, BusEventEnvelope | undefined>();
    for (const message of messages) {
      const raw = message.Body ?? "";
      let event: BusEventEnvelope | undefined;
      try {
        event = eventFromMessageBody(raw, this.options.accountId);
      } catch {
        // Lambda hands a body it cannot read to the function as is; so does the local cloud.
      }
      events.set(message.MessageId ?? "", event);
      records.push(
        sqsRecord(
          message,
          event ? JSON.stringify(event) : raw,
          this.options.queue.queueArn,
          this.options.region,
        ),
      );
    }
    const invoked = Date.now();
    const outcome = await this.call(sqsBatchEvent(records));
    const durationMs = Date.now() - invoked;
    const failed = failedRecordIds(records, outcome);
    for (const message of messages) {
      const id = message.MessageId ?? "";
      this.report(
        message,
        invoked,
        durationMs,
        failed.has(id) ? (describe(outcome.error) ?? "reported in batchItemFailures") : undefined,
        events.get(id),
      );
    }
    return failed;
  }

  /** Direct target: one invocation per event, with the EventBridge event itself. */
  private async invokeEach(messages: Message[]): Promise<Set<string>> {
    const failed = new Set<string>();
    await Promise.all(
      messages.map(async (message) => {
        const id = message.MessageId ?? "";
        const invoked = Date.now();
        let event: BusEventEnvelope;
        try {
          event = eventFromMessageBody(message.Body ?? "", this.options.accountId);
        } catch (error) {
          failed.add(id);
          this.report(message, invoked, 0, describe(error));
          return;
        }
        const outcome = await this.call(event);
        if (outcome.error !== undefined) failed.add(id);
        this.report(message, invoked, Date.now() - invoked, describe(outcome.error), event);
      }),
    );
    return failed;
  }

  private async call(invocation: unknown): Promise<{ error?: unknown; result?: unknown }> {
    try {
      return { result: await this.options.handler(invocation) };
    } catch (error) {
      return { error: error ?? new Error("handler failed") };
    }
  }

  private report(
    message: Message,
    invoked: number,
    durationMs: number,
    error: string | undefined,
    event?: BusEventEnvelope,
  ): void {
    const attempt = Number(message.Attributes?.ApproximateReceiveCount ?? 1);
    const sent = Number(message.Attributes?.SentTimestamp ?? invoked);
    this.options.onDelivery({
      target: this.options.queue.target,
      messageId: message.MessageId ?? "",
      attempt,
      outcome: error === undefined ? "delivered" : "failed",
      deadLettered: error !== undefined && attempt >= this.options.maxAttempts,
      latencyMs: Math.max(0, invoked - sent),
      durationMs,
      ...(error === undefined ? {} : { error }),
      ...(event ? { event } : {}),
    });
  }

  /** Deletes what succeeded; hides what failed for the retry delay (redelivery is SQS's job). */
  private async settle(messages: Message[], failed: Set<string>): Promise<void> {
    const { sqs, queue } = this.options;
    const entries = messages.map((m, i) => ({
      Id: String(i),
      ReceiptHandle: m.ReceiptHandle ?? "",
      failed: failed.has(m.MessageId ?? ""),
    }));
    const done = entries.filter((e) => !e.failed).map(({ Id, ReceiptHandle }) => ({ Id, ReceiptHandle }));
    const retry = entries.filter((e) => e.failed);
    if (done.length > 0)
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queue.queueUrl, Entries: done }));
    if (retry.length > 0) {
      const VisibilityTimeout = this.options.retryDelaySeconds();
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queue.queueUrl,
          Entries: retry.map(({ Id, ReceiptHandle }) => ({ Id, ReceiptHandle, VisibilityTimeout })),
        }),
      );
    }
  }
}

function describe(error: unknown): string | undefined {
  if (error === undefined) return undefined;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
