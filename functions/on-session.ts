import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { autoScaling, dynamo, ec2, sns } from "../src/aws/client-factories.js";
import type { PhoenixDeps } from "../src/deps.js";
import { maxReceiveCountOf } from "../src/events/targets.js";
import { deployedHandler, functionLogger, type LambdaHandler, lambdaHandler } from "../src/lambda.js";
import { parseSessionEvent } from "../src/sessions/core/session-event.js";
import { DeferSession, SESSION_ACTION, SESSION_ACTOR, takeSession } from "../src/sessions/workflow/intake.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { autoScaling, dynamo, ec2, sns };

/**
 * Interactive sessions, buffered: EventBridge (rule phoenix-interactive-session) → SQS (the
 * session buffer) → this function. Each record is decided by src/sessions/workflow/intake.ts. A
 * record is redelivered when its group cannot take a replacement yet (deferred) or an AWS call
 * failed for now; a malformed event is rejected (audited, never redelivered: it would fail the
 * same way).
 */
export function createOnSessionHandler(
  deps: PhoenixDeps,
  options: { maxAttempts?: number } = {},
): LambdaHandler<SQSEvent, SQSBatchResponse> {
  const logger = functionLogger("on-session");
  const maxAttempts = options.maxAttempts ?? maxReceiveCountOf("on-session");
  return lambdaHandler(logger, async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchItemFailure[] = [];
    // Few records, each about its own instance: one after the other keeps the group reads fresh
    // (two sessions on one group: the second sees the first's replacement under way).
    for (const record of event?.Records ?? []) {
      try {
        const outcome = await handleRecord(deps, record, maxAttempts);
        logger.info(`session ${outcome}`, { messageId: record.messageId });
      } catch (error) {
        if (error instanceof DeferSession) logger.info(error.message, { messageId: record.messageId });
        else
          logger.error("session event not handled; SQS will redeliver it", {
            messageId: record.messageId,
            error: error as Error,
          });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  });
}

async function handleRecord(deps: PhoenixDeps, record: SQSRecord, maxAttempts: number): Promise<string> {
  let body: unknown;
  let parsed: ReturnType<typeof parseSessionEvent>;
  try {
    body = JSON.parse(record.body);
    parsed = parseSessionEvent(body);
  } catch (error) {
    parsed = { ok: false, ignore: false, error: `the message body is not JSON: ${(error as Error).message}` };
  }
  if (!parsed.ok) {
    await deps.audit.write(
      {
        subject: `event/${record.messageId}`,
        action: SESSION_ACTION,
        outcome: parsed.ignore ? "skipped" : "refused",
        actor: SESSION_ACTOR,
        reason: parsed.ignore ? parsed.reason : parsed.error,
        // Enough of the body to recognise the event, never all of it (it may be huge or hostile).
        details: { body: String(record.body).slice(0, 2_000), bodyLength: String(record.body).length },
      },
      "invalid",
    );
    return parsed.ignore ? `ignored: ${parsed.reason}` : `rejected: ${parsed.error}`;
  }
  const received = Number(record.attributes?.ApproximateReceiveCount);
  const attempt = Number.isInteger(received) && received > 0 ? received : 1;
  const outcome = await takeSession(deps, parsed.session, { attempt, last: attempt >= maxAttempts });
  return `${outcome.kind}: ${outcome.reason}`;
}

export const handler = deployedHandler(createOnSessionHandler, CLIENTS);
