import type { Logger } from "@aws-lambda-powertools/logger";
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { autoScaling, dynamo, ec2, sfn, sns, sts } from "../src/aws/client-factories.js";
import { type IntakeOutcome, takeFinding } from "../src/containment/workflow/intake.js";
import type { PhoenixDeps } from "../src/deps.js";
import { type Finding, parseGuardDutyEvent } from "../src/findings/guardduty.js";
import { deployedHandler, functionLogger, type LambdaHandler, lambdaHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { autoScaling, dynamo, ec2, sfn, sns, sts };

/** Instances handled at once: a full SQS batch, without opening more connections than that. */
const CONCURRENCY = 10;

type RecordOutcome = IntakeOutcome | { kind: "invalid"; reason: string };

type Parsed = { record: SQSRecord; receivedAt: string } & (
  | { ok: true; finding: Finding }
  | { ok: false; reason: string }
);

/**
 * GuardDuty findings, buffered: EventBridge → SQS → this function, each record's body the
 * EventBridge event as JSON. Only transient failures (AWS throttling or errors that outlasted the
 * SDK's retries) are reported as batch item failures, so SQS redelivers just those; a malformed
 * event, an unknown or terminated instance are final answers, audited, and never retried.
 *
 * Records about the same instance are handled one after the other: in a flood, the first opens
 * the containment and the rest join it cheaply, instead of all racing through the EC2 lookups.
 */
export function createOnFindingHandler(deps: PhoenixDeps): LambdaHandler<SQSEvent, SQSBatchResponse> {
  const logger = functionLogger("on-finding");
  return lambdaHandler(logger, async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchItemFailure[] = [];
    const lanes = [...byInstance((event.Records ?? []).map((record) => parse(deps, record))).values()];
    for (let i = 0; i < lanes.length; i += CONCURRENCY) {
      await Promise.all(
        lanes.slice(i, i + CONCURRENCY).map(async (lane) => {
          for (const parsed of lane) {
            const { record } = parsed;
            try {
              const outcome = parsed.ok
                ? await takeFinding(deps, parsed.finding, {
                    id: record.messageId,
                    receivedAt: parsed.receivedAt,
                  })
                : await invalid(deps, record, parsed.reason);
              log(logger, record, outcome);
            } catch (error) {
              logger.error("finding not handled; SQS will redeliver it", {
                messageId: record.messageId,
                error: error as Error,
              });
              batchItemFailures.push({ itemIdentifier: record.messageId });
            }
          }
        }),
      );
    }
    return { batchItemFailures };
  });
}

export const handler = deployedHandler(createOnFindingHandler, CLIENTS);

function parse(deps: PhoenixDeps, record: SQSRecord): Parsed {
  const receivedAt = deps.now().toISOString();
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    return {
      record,
      receivedAt,
      ok: false,
      reason: `the message body is not JSON: ${(error as Error).message}`,
    };
  }
  const parsed = parseGuardDutyEvent(body);
  return parsed.ok
    ? { record, receivedAt, ok: true, finding: parsed.finding }
    : { record, receivedAt, ok: false, reason: parsed.error };
}

/** One lane per instance (in arrival order); everything else gets a lane of its own. */
function byInstance(parsed: Parsed[]): Map<string, Parsed[]> {
  const lanes = new Map<string, Parsed[]>();
  for (const item of parsed) {
    const key =
      item.ok && item.finding.instanceId
        ? `${item.finding.accountId}#${item.finding.instanceId}`
        : `message#${item.record.messageId}`;
    lanes.set(key, [...(lanes.get(key) ?? []), item]);
  }
  return lanes;
}

async function invalid(deps: PhoenixDeps, record: SQSRecord, reason: string): Promise<RecordOutcome> {
  await deps.audit.write(
    {
      subject: `event/${record.messageId}`,
      action: "validate",
      outcome: "refused",
      actor: "phoenix:on-finding",
      reason,
      // Enough of the body to recognise the event, never all of it (it may be huge or hostile).
      details: { body: record.body.slice(0, 2_000), bodyLength: record.body.length },
    },
    "invalid",
  );
  return { kind: "invalid", reason };
}

function log(logger: Logger, record: SQSRecord, outcome: RecordOutcome): void {
  const fields = { messageId: record.messageId, ...outcome };
  switch (outcome.kind) {
    case "invalid":
    case "refused":
      logger.error(`finding ${outcome.kind}: ${outcome.reason}`, fields);
      break;
    case "held":
      logger.warn("containment held for approval", fields);
      break;
    default:
      logger.info(`finding ${outcome.kind}`, fields);
  }
}
