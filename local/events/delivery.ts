import { createHash } from "node:crypto";
import type { Message } from "@aws-sdk/client-sqs";
import type { EventBridgeEvent, SQSEvent, SQSRecord } from "aws-lambda";

/**
 * What a handler receives, shaped as Lambda delivers it in the deployed stack:
 * - a buffered target (EventBridge → SQS → Lambda) gets Lambda's SQS batch event;
 * - a direct target (EventBridge → Lambda) gets the EventBridge event itself, one per invocation.
 */
export type BusEventEnvelope = EventBridgeEvent<string, unknown>;

// AWS's key order, so that what a handler logs reads like a real event.
const ENVELOPE_KEYS = [
  "version",
  "id",
  "detail-type",
  "source",
  "account",
  "time",
  "region",
  "resources",
  "detail",
];

/**
 * The EventBridge event in an SQS message body written by a moto rule target. moto adds an
 * `ingestion-time` that AWS does not deliver; it is dropped, and any other key is kept.
 */
export function eventFromMessageBody(body: string, fallbackAccount: string): BusEventEnvelope {
  const parsed: unknown = JSON.parse(body);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error("message body is not an EventBridge event (not a JSON object)");
  }
  const raw = { ...(parsed as Record<string, unknown>) };
  delete raw["ingestion-time"];
  raw.account ??= fallbackAccount;
  const ordered: Record<string, unknown> = {};
  for (const key of ENVELOPE_KEYS) if (key in raw) ordered[key] = raw[key];
  for (const [key, value] of Object.entries(raw)) if (!(key in ordered)) ordered[key] = value;
  if (typeof ordered.source !== "string" || typeof ordered["detail-type"] !== "string") {
    throw new Error("message body is not an EventBridge event (no source or detail-type)");
  }
  return ordered as unknown as BusEventEnvelope;
}

/** One record of Lambda's SQS event for a received message whose body is `body`. */
export function sqsRecord(message: Message, body: string, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body,
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
      SentTimestamp: attributes.SentTimestamp ?? "",
      SenderId: attributes.SenderId ?? "",
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? "",
    },
    messageAttributes: {},
    md5OfBody: createHash("md5").update(body).digest("hex"),
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export function sqsBatchEvent(records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/**
 * Which records of a batch failed, per Lambda's ReportBatchItemFailures contract: a throw fails
 * them all; `{ batchItemFailures: [{ itemIdentifier }] }` fails those; an identifier that is
 * not in the batch makes Lambda treat the whole batch as failed.
 */
export function failedRecordIds(
  records: SQSRecord[],
  outcome: { error?: unknown; result?: unknown },
): Set<string> {
  const all = new Set(records.map((r) => r.messageId));
  if (outcome.error !== undefined) return all;
  const failures = (outcome.result as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
  if (!Array.isArray(failures)) return new Set();
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || !all.has(id)) return all;
    failed.add(id);
  }
  return failed;
}
