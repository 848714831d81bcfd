import { randomUUID } from "node:crypto";
import type { Context, SQSEvent } from "aws-lambda";
import { guardDutyFinding } from "../../local/demo/finding.js";

/** A GuardDuty finding as EventBridge delivers it to a target (full envelope). */
export function findingEnvelope(options: {
  instanceId: string;
  accountId?: string;
  findingId?: string;
  severity?: number;
  type?: string;
  count?: number;
  updatedAt?: string;
  /** The instance's tags, which GuardDuty copies into the finding. */
  tags?: Record<string, string>;
}): Record<string, unknown> {
  const accountId = options.accountId ?? "123456789012";
  const finding = guardDutyFinding({
    instanceId: options.instanceId,
    accountId,
    region: "us-east-1",
    ...(options.type ? { type: options.type } : {}),
    ...(options.severity !== undefined ? { severity: options.severity } : {}),
    ...(options.tags ? { tags: options.tags } : {}),
  });
  const detail = finding.detail as Record<string, unknown> & { service: Record<string, unknown> };
  if (options.findingId) detail["id"] = options.findingId;
  if (options.count !== undefined) detail.service["count"] = options.count;
  if (options.updatedAt) detail["updatedAt"] = options.updatedAt;
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": finding.detailType,
    source: finding.source,
    account: accountId,
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: [],
    detail,
  };
}

/** An SQS batch as Lambda's event source mapping hands it over (bodies: EventBridge events). */
export function sqsBatch(bodies: readonly unknown[]): SQSEvent {
  return {
    Records: bodies.map((body) => ({
      messageId: randomUUID(),
      receiptHandle: randomUUID(),
      body: typeof body === "string" ? body : JSON.stringify(body),
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: String(Date.now()),
        SenderId: "AIDAEVENTBRIDGE",
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:phoenix-finding-buffer",
      awsRegion: "us-east-1",
    })),
  };
}

export function lambdaContext(functionName: string): Context {
  const unsupported = () => {
    throw new Error("not supported outside Lambda");
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "bench",
    getRemainingTimeInMillis: () => 900_000,
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}
