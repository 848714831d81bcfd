import type { Logger } from "@aws-lambda-powertools/logger";
import type { SQSRecord } from "aws-lambda";
import { startNamedExecution } from "../../aws/executions.js";
import type { PhoenixDeps } from "../../deps.js";
import {
  DEAD_LETTER_IMAGE_EVENT,
  DEFER_IMAGE_EVENT,
  eventDetails,
  IGNORE_IMAGE_EVENT,
  type ImageEventFacts,
  imageEventFacts,
  imageEventSubject,
} from "../../images/event-records.js";
import { familyFromParameterName } from "../../images/parameters.js";
import { parseImageTrigger } from "../../images/triggers.js";
import { checkImage } from "../aws/image-check.js";
import { imageSubject, ROLLOUT_ACTOR } from "../aws/image-marks.js";
import { type AmiLookup, amiOfParameter, amisOfImageBuild } from "../aws/image-sources.js";
import { supersedeDecision } from "../aws/supersede-check.js";
import { rolloutExecutionName } from "../core/execution-name.js";
import { imageFamily } from "../core/gate.js";
import { notifyRollout } from "./notifications.js";

/**
 * EventBridge → SQS (the image buffer) → rollout. Takes an AMI State Change, an Image Builder
 * Image State Change or a Parameter Store Change, finds the AMI(s) it announces, gates each,
 * and starts the rollout state machine for those that pass.
 *
 * At least once, as for findings: a record is deleted from the buffer only once the event has
 * been acted on or decided for good, and every decision is in the audit trail (keyed by the
 * event, so a redelivery adds no second record):
 * - an event that does not apply is ignored, with the reason (`ignore-image-event`);
 * - an image that is not there yet, or not tagged with its family yet, is deferred: the record
 *   is reported for redelivery (`defer-image-event`, once per event) and looked at again on
 *   each delivery, then ignored on the last one. Publishers often tag an AMI after it became
 *   available (RegisterImage or CreateImage, then CreateTags): the event must not be decided
 *   before the tags land;
 * - a failure (AWS errors that outlasted the SDK's retries) is reported for redelivery; on the
 *   last delivery it is audited (`dead-letter-image-event`) and the event goes to the buffer's
 *   dead-letter queue, from which `aws sqs start-message-move-task` replays it;
 * - a malformed event is rejected (logged as an error, nothing done, never redelivered: the same
 *   event would fail the same way).
 */

export interface ImageDecision {
  imageId: string;
  action: "started" | "already-started" | "refused" | "ignored" | "deferred";
  reason: string;
  family?: string;
  executionArn?: string;
}

export type OnImageResult =
  | { status: "ignored"; reason: string }
  | { status: "rejected"; error: string }
  | { status: "handled"; images: ImageDecision[] };

export interface OnImageOptions {
  logger?: Logger;
  /** The buffer's maxReceiveCount: the delivery that decides for good (src/events/targets.ts). */
  maxAttempts?: number;
}

/** How an event reached the handler. */
export interface ImageEventDelivery {
  /** 1 on the first delivery (SQS's ApproximateReceiveCount). */
  attempt: number;
  /** The last delivery there will be; absent when this one is the only one (a direct invocation). */
  maxAttempts?: number;
}

const isLastDelivery = (delivery: ImageEventDelivery) =>
  delivery.maxAttempts === undefined || delivery.attempt >= delivery.maxAttempts;

interface Candidate {
  imageId: string;
  /** The family a parameter name announced: the image's tag must agree. */
  expectedFamily?: string;
}

/** The event in hand: what it is (for the audit trail) and how it was delivered. */
interface EventContext {
  facts: ImageEventFacts;
  delivery: ImageEventDelivery;
}

/** Whether SQS must deliver the record again. */
export async function handleImageRecord(
  deps: PhoenixDeps,
  logger: Logger,
  record: SQSRecord,
  maxAttempts: number,
): Promise<boolean> {
  const received = Number(record?.attributes?.ApproximateReceiveCount);
  const delivery = { attempt: Number.isInteger(received) && received > 0 ? received : 1, maxAttempts };
  const messageId = String(record?.messageId ?? "").slice(0, 128);
  let event: unknown;
  try {
    event = JSON.parse(String(record?.body));
  } catch (error) {
    const why = `the message body is not JSON: ${(error as Error).message}`;
    logger.error(`malformed image event rejected: ${why}`, { messageId });
    return false;
  }
  try {
    const result = await handleImageEvent(deps, logger, event, delivery);
    return result.status === "handled" && result.images.some((image) => image.action === "deferred");
  } catch (error) {
    const last = isLastDelivery(delivery);
    logger.error(
      last
        ? "image event failed on its last delivery: it goes to the dead-letter queue"
        : "image event not handled; SQS will redeliver it",
      { messageId, ...delivery, error: error as Error },
    );
    if (last) {
      await recordDeadLetter(
        deps,
        event,
        { messageId, queueArn: record?.eventSourceARN },
        delivery,
        error,
      ).catch((auditError: unknown) =>
        logger.error("the dead-lettered image event could not be audited", {
          messageId,
          error: auditError as Error,
        }),
      );
    }
    return true;
  }
}

export async function handleImageEvent(
  deps: PhoenixDeps,
  logger: Logger,
  event: unknown,
  delivery: ImageEventDelivery,
): Promise<OnImageResult> {
  const ctx: EventContext = { facts: imageEventFacts(event), delivery };
  const trigger = parseImageTrigger(event, deps.policy);
  if (trigger.kind === "ignored") return ignoreEvent(deps, logger, event, ctx, trigger.reason);
  if (trigger.kind === "invalid") {
    logger.error(`malformed image event rejected: ${trigger.error}`, { error: trigger.error });
    return { status: "rejected", error: trigger.error };
  }
  if (trigger.region !== deps.region) {
    const reason = `event from ${trigger.region}, Phoenix here runs in ${deps.region}`;
    return ignoreEvent(deps, logger, event, ctx, reason);
  }
  const lookup = await candidates(deps, trigger);
  if (!lookup.ok) return ignoreEvent(deps, logger, event, ctx, lookup.reason);
  const images: ImageDecision[] = [];
  for (const candidate of lookup.candidates) {
    const decision = await decide(deps, candidate, ctx);
    const log = decision.action === "refused" ? logger.warn.bind(logger) : logger.info.bind(logger);
    log(`${decision.imageId}: ${decision.action}: ${decision.reason}`, { ...decision, ...delivery });
    images.push(decision);
  }
  return { status: "handled", images };
}

/** An event that does not apply as a whole: ignored, with the reason in the audit trail. */
async function ignoreEvent(
  deps: PhoenixDeps,
  logger: Logger,
  event: unknown,
  ctx: EventContext,
  reason: string,
): Promise<OnImageResult> {
  logger.info(`ignored: ${reason}`, { reason, eventId: ctx.facts.id, ...ctx.delivery });
  const { subject, imageId } = imageEventSubject(event, ctx.facts);
  await deps.audit.write(
    {
      subject,
      action: IGNORE_IMAGE_EVENT,
      outcome: "skipped",
      actor: ROLLOUT_ACTOR,
      reason,
      ...(imageId !== undefined ? { imageId } : {}),
      details: eventDetails(ctx.facts, ctx.delivery),
    },
    `${IGNORE_IMAGE_EVENT}#${ctx.facts.key}`,
  );
  return { status: "ignored", reason };
}

async function candidates(
  deps: PhoenixDeps,
  trigger: Extract<ReturnType<typeof parseImageTrigger>, { kind: "ami" | "imagebuilder" | "parameter" }>,
): Promise<{ ok: true; candidates: Candidate[] } | { ok: false; reason: string }> {
  if (trigger.kind === "ami") return { ok: true, candidates: [{ imageId: trigger.imageId }] };
  let lookup: AmiLookup;
  let expectedFamily: string | undefined;
  if (trigger.kind === "imagebuilder") {
    lookup = await amisOfImageBuild(deps, trigger.imageBuildVersionArn);
  } else {
    lookup = await amiOfParameter(deps, trigger.name);
    expectedFamily = familyFromParameterName(trigger.name, deps.policy);
  }
  if (!lookup.ok) return lookup;
  return {
    ok: true,
    candidates: lookup.imageIds.map((imageId) => ({
      imageId,
      ...(expectedFamily ? { expectedFamily } : {}),
    })),
  };
}

async function decide(deps: PhoenixDeps, candidate: Candidate, ctx: EventContext): Promise<ImageDecision> {
  const { imageId } = candidate;
  const check = await checkImage(
    deps,
    imageId,
    candidate.expectedFamily ? { expectedFamily: candidate.expectedFamily } : {},
  );
  // Not there yet (EC2's reads are eventually consistent), or not tagged yet (its publisher tags
  // it after it became available): looked at again while deliveries remain.
  if (!check.found) return notYet(deps, imageId, check.reason, ctx);
  // An image without a family is not a golden image: nothing to roll out, nothing to refuse.
  if (imageFamily(check.image) === undefined) {
    return notYet(deps, imageId, "the image has no phoenix:image-family tag", ctx);
  }
  if (!check.gate.pass) return refuse(deps, imageId, check.gate.reasons, ctx);

  const family = check.gate.family;
  const decision = await supersedeDecision(deps, family, {
    imageId,
    creationDate: check.image.CreationDate ?? "",
  });
  if (!decision.proceed) return ignoreImage(deps, imageId, decision.reason, ctx, family);

  const name = rolloutExecutionName(family, imageId);
  const { executionArn, created } = await startNamedExecution(deps.clients.sfn, {
    stateMachineArn: deps.resources.rolloutStateMachineArn,
    name,
    // Only what identifies the rollout: the same image from two triggers is the same input.
    input: { family, imageId },
  });
  if (!created)
    return { imageId, family, action: "already-started", reason: `execution ${name} already exists` };
  await deps.audit.write(
    {
      subject: imageSubject(imageId),
      action: "start-rollout",
      outcome: "ok",
      actor: ROLLOUT_ACTOR,
      imageId,
      reason: `${decision.reason}; execution ${name}`,
      execution: executionArn,
      details: { family, eventId: ctx.facts.id, attempt: ctx.delivery.attempt },
    },
    `start-rollout#${name}`,
  );
  return {
    imageId,
    family,
    action: "started",
    reason: decision.reason,
    executionArn,
  };
}

/** Deferred while deliveries remain (audited once per event), else ignored for good. */
async function notYet(
  deps: PhoenixDeps,
  imageId: string,
  reason: string,
  ctx: EventContext,
): Promise<ImageDecision> {
  const { attempt, maxAttempts } = ctx.delivery;
  if (isLastDelivery(ctx.delivery)) {
    const waited = attempt > 1 ? ` (still so on delivery ${attempt} of ${maxAttempts})` : "";
    return ignoreImage(deps, imageId, `${reason}${waited}`, ctx);
  }
  const deferred = `${reason}; looked at again when the event is redelivered (delivery ${attempt} of ${maxAttempts})`;
  await deps.audit.write(
    {
      subject: imageSubject(imageId),
      action: DEFER_IMAGE_EVENT,
      outcome: "held",
      actor: ROLLOUT_ACTOR,
      imageId,
      reason: deferred,
      details: eventDetails(ctx.facts, ctx.delivery),
    },
    `${DEFER_IMAGE_EVENT}#${ctx.facts.key}`,
  );
  return { imageId, action: "deferred", reason: deferred };
}

async function ignoreImage(
  deps: PhoenixDeps,
  imageId: string,
  reason: string,
  ctx: EventContext,
  family?: string,
): Promise<ImageDecision> {
  await deps.audit.write(
    {
      subject: imageSubject(imageId),
      action: IGNORE_IMAGE_EVENT,
      outcome: "skipped",
      actor: ROLLOUT_ACTOR,
      imageId,
      reason,
      details: { ...eventDetails(ctx.facts, ctx.delivery), ...(family !== undefined ? { family } : {}) },
    },
    `${IGNORE_IMAGE_EVENT}#${ctx.facts.key}`,
  );
  return { imageId, action: "ignored", reason, ...(family !== undefined ? { family } : {}) };
}

async function refuse(
  deps: PhoenixDeps,
  imageId: string,
  reasons: string[],
  ctx: EventContext,
): Promise<ImageDecision> {
  const reason = reasons.join("; ");
  await deps.audit.write(
    {
      subject: imageSubject(imageId),
      action: "gate",
      outcome: "refused",
      actor: ROLLOUT_ACTOR,
      imageId,
      reason,
      details: { reasons, eventId: ctx.facts.id, attempt: ctx.delivery.attempt },
    },
    `gate#event#${ctx.facts.key}`,
  );
  await notifyRollout(deps, {
    subject: `Image ${imageId} refused: not rolled out`,
    message: `Phoenix will not roll out ${imageId}:\n- ${reasons.join("\n- ")}`,
    kind: "image-refused",
    severity: "warning",
    data: { imageId, reasons },
  });
  return { imageId, action: "refused", reason };
}

/** The last delivery failed: SQS moves the event to the buffer's DLQ, and the trail says so. */
async function recordDeadLetter(
  deps: PhoenixDeps,
  event: unknown,
  message: { messageId: string; queueArn?: string },
  delivery: ImageEventDelivery,
  error: unknown,
): Promise<void> {
  const facts = imageEventFacts(event);
  const { subject, imageId } = imageEventSubject(event, facts);
  const cause = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const queue = typeof message.queueArn === "string" ? message.queueArn.slice(0, 256) : undefined;
  await deps.audit.write(
    {
      subject,
      action: DEAD_LETTER_IMAGE_EVENT,
      outcome: "failed",
      actor: ROLLOUT_ACTOR,
      ...(imageId !== undefined ? { imageId } : {}),
      reason:
        `failed on its last delivery (${delivery.attempt} of ${delivery.maxAttempts}): ${cause.slice(0, 500)}; ` +
        "the event waits in the dead-letter queue of the image buffer: replay it with aws sqs start-message-move-task",
      details: {
        ...eventDetails(facts, delivery),
        messageId: message.messageId,
        ...(queue ? { queue } : {}),
      },
    },
    // A replayed event is a new message: its own failure is a record of its own.
    `${DEAD_LETTER_IMAGE_EVENT}#${facts.key}#${message.messageId}`,
  );
}
