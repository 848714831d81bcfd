import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Clock } from "../core/clock.js";
import { failedRecordIds, sqsBatchEvent, sqsRecord } from "../events/delivery.js";
import { type LambdaRuntime, LambdaServiceError } from "./lambda-runtime.js";
import type { EventSourceMappingSpec } from "./model.js";
import type { QueueInfo } from "./queues.js";

/**
 * An SQS event source mapping as Lambda runs it: pollers long-poll the queue, gather a batch
 * (up to `batchSize`, waiting up to `maximumBatchingWindowInSeconds` of simulated time for it to
 * fill), invoke the function synchronously with Lambda's SQS event and then:
 * - on success, delete the batch, except, with ReportBatchItemFailures, the records the function
 *   names in `batchItemFailures` (an identifier not in the batch fails the whole batch);
 * - on a function error, a timeout or a throttle, delete nothing.
 * What is not deleted comes back when the queue's visibility timeout (simulated time) expires,
 * and after maxReceiveCount receives SQS (moto) moves it to the queue's dead-letter queue: the
 * redrive comes from the queue, not from Lambda.
 *
 * Pollers: the mapping's maximumConcurrency, else five (Lambda starts with five), never more than
 * the function's reserved concurrency.
 */

export interface MappingDelivery {
  function: string;
  /** `sqs:<queue name>` */
  source: string;
  messageId: string;
  /** SQS's ApproximateReceiveCount: 1 for the first delivery. */
  attempt: number;
  outcome: "delivered" | "failed";
  /** A failure on the queue's last receive: SQS moves it to the DLQ on the next one. */
  deadLettered: boolean;
  latencyMs: number;
  durationMs: number;
  error?: string;
  event?: unknown;
}

export interface MappingStats {
  batches: number;
  delivered: number;
  failed: number;
  deadLettered: number;
}

export interface MappingOptions {
  mapping: EventSourceMappingSpec;
  queue: QueueInfo;
  /** The queue's redrive limit (its RedrivePolicy), to say when a failure was the last. */
  maxReceiveCount?: number;
  lambda: LambdaRuntime;
  sqs: SQSClient;
  clock: Clock;
  region: string;
  /** Real seconds a receive waits for a message (SQS long polling; 20 at most). */
  waitTimeSeconds?: number;
  onDelivery(delivery: MappingDelivery): void;
  log(message: string): void;
}

const DEFAULT_POLLERS = 5;

export class SqsEventSource {
  readonly stats: MappingStats = { batches: 0, delivered: 0, failed: 0, deadLettered: 0 };
  enabled: boolean;
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(private readonly options: MappingOptions) {
    this.enabled = options.mapping.enabled;
  }

  get pollers(): number {
    const { mapping, lambda } = this.options;
    const reserved = lambda.get(mapping.functionName)?.spec.reservedConcurrency;
    const wanted = mapping.maximumConcurrency ?? DEFAULT_POLLERS;
    return Math.max(1, reserved === undefined ? wanted : Math.min(wanted, reserved));
  }

  start(): void {
    if (this.loops.length > 0) return;
    for (let i = 0; i < this.pollers; i++) this.loops.push(this.run());
  }

  async stop(graceMs = 5_000): Promise<void> {
    this.abort.abort();
    await Promise.race([
      Promise.allSettled(this.loops),
      new Promise((resolve) => setTimeout(resolve, graceMs).unref()),
    ]);
  }

  private async receive(max: number, waitSeconds: number): Promise<Message[]> {
    const { sqs, queue } = this.options;
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.url,
        MaxNumberOfMessages: Math.max(1, Math.min(10, max)),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
      { abortSignal: this.abort.signal },
    );
    return received.Messages ?? [];
  }

  private async run(): Promise<void> {
    const { mapping, clock } = this.options;
    const wait = this.options.waitTimeSeconds ?? 5;
    while (!this.abort.signal.aborted) {
      if (!this.enabled) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      let batch: Message[];
      try {
        batch = await this.receive(mapping.batchSize, wait);
        // The batching window: keep gathering until the batch is full or the window closes.
        const windowMs = clock.toRealMs(mapping.maximumBatchingWindowInSeconds * 1000);
        const closes = Date.now() + windowMs;
        while (batch.length > 0 && batch.length < mapping.batchSize && Date.now() < closes) {
          const left = closes - Date.now();
          const more = await this.receive(
            mapping.batchSize - batch.length,
            left >= 1000 ? Math.floor(left / 1000) : 0,
          );
          batch.push(...more);
          if (more.length === 0 && left < 1000) await new Promise((r) => setTimeout(r, Math.min(left, 25)));
        }
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.options.log(
          `lambda: polling ${this.options.queue.name} for ${mapping.functionName} failed: ${(error as Error).message}`,
        );
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (batch.length === 0) continue;
      await this.deliver(batch).catch((error: unknown) =>
        this.options.log(
          `lambda: a batch of ${this.options.queue.name} was not settled: ${(error as Error).message}`,
        ),
      );
    }
  }

  private async deliver(messages: Message[]): Promise<void> {
    const { mapping, queue, lambda, region } = this.options;
    const records = messages.map((m) => sqsRecord(m, m.Body ?? "", queue.arn, region));
    this.stats.batches++;
    const invoked = Date.now();
    let failed: Set<string>;
    let error: string | undefined;
    try {
      const outcome = await lambda.invoke(mapping.functionName, sqsBatchEvent(records));
      if (outcome.error) {
        error = `${outcome.error.errorType}: ${outcome.error.errorMessage}`;
        failed = new Set(records.map((r) => r.messageId));
      } else if (mapping.functionResponseTypes.includes("ReportBatchItemFailures")) {
        failed = failedRecordIds(records, { result: outcome.result });
        if (failed.size > 0) error = "reported in batchItemFailures";
      } else failed = new Set();
    } catch (thrown) {
      error =
        thrown instanceof LambdaServiceError
          ? `${thrown.code}: ${thrown.message}`
          : String((thrown as Error).message);
      failed = new Set(records.map((r) => r.messageId));
    }
    const durationMs = Date.now() - invoked;
    for (const message of messages) {
      const attempt = Number(message.Attributes?.ApproximateReceiveCount ?? 1);
      const isFailed = failed.has(message.MessageId ?? "");
      const deadLettered =
        isFailed && this.options.maxReceiveCount !== undefined && attempt >= this.options.maxReceiveCount;
      if (isFailed) this.stats.failed++;
      else this.stats.delivered++;
      if (deadLettered) this.stats.deadLettered++;
      let event: unknown;
      try {
        event = JSON.parse(message.Body ?? "");
      } catch {
        event = undefined;
      }
      this.options.onDelivery({
        function: mapping.functionName,
        source: `sqs:${queue.name}`,
        messageId: message.MessageId ?? "",
        attempt,
        outcome: isFailed ? "failed" : "delivered",
        deadLettered,
        latencyMs: Math.max(0, invoked - Number(message.Attributes?.SentTimestamp ?? invoked)),
        durationMs,
        ...(isFailed && error ? { error } : {}),
        ...(event !== undefined ? { event } : {}),
      });
    }
    await this.settle(messages, failed);
  }

  private async settle(messages: Message[], failed: Set<string>): Promise<void> {
    const { sqs, queue, clock } = this.options;
    const entries = messages.map((m, i) => ({
      Id: String(i),
      ReceiptHandle: m.ReceiptHandle ?? "",
      id: m.MessageId,
    }));
    const done = entries.filter((e) => !failed.has(e.id ?? ""));
    const retry = entries.filter((e) => failed.has(e.id ?? ""));
    if (done.length > 0)
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queue.url,
          Entries: done.map(({ Id, ReceiptHandle }) => ({ Id, ReceiptHandle })),
        }),
      );
    if (retry.length > 0) {
      // Back after the queue's visibility timeout, in simulated time (moto counts real seconds).
      const visibility = Number(queue.attributes.VisibilityTimeout ?? 30);
      const VisibilityTimeout = Math.ceil(clock.toRealMs(visibility * 1000) / 1000);
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queue.url,
          Entries: retry.map(({ Id, ReceiptHandle }) => ({ Id, ReceiptHandle, VisibilityTimeout })),
        }),
      );
    }
  }
}
