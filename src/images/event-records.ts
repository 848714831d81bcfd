import { createHash } from "node:crypto";

/**
 * What the audit trail says about an image event Phoenix did not act on: which event (its
 * EventBridge id, the key that deduplicates its records, so a redelivery adds none), and what
 * it was about (the image, else the parameter, else the event itself). Pure, and never throws:
 * the event may be anything.
 */

/** An image event that does not apply, or no longer can: nothing is done, the reason is kept. */
export const IGNORE_IMAGE_EVENT = "ignore-image-event";
/** An image event looked at again later: its image is not (yet) there or not (yet) tagged. */
export const DEFER_IMAGE_EVENT = "defer-image-event";
/** An image event that failed on its last delivery: it waits in the buffer's dead-letter queue. */
export const DEAD_LETTER_IMAGE_EVENT = "dead-letter-image-event";

export interface ImageEventFacts {
  /** Dedupes the event's records within a subject: its id, or a digest of it when it has none. */
  key: string;
  id?: string;
  source?: string;
  detailType?: string;
  time?: string;
}

/** The longest field an audit record quotes from an event (events may be hostile). */
const FIELD_LIMIT = 256;
/** EventBridge ids are UUIDs; anything else that short and plain is still a usable key. */
const EVENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const AMI_ID = /^ami-[0-9a-z]{1,64}$/;
const IMAGE_BUILDER_IMAGE =
  /^arn:aws[a-z-]*:imagebuilder:[a-z0-9-]+:(\d{12}|aws):image\/[^/\s]+(\/[^/\s]+){0,2}$/;
/** Parameter Store names are at most 1011 characters (2048 for a full ARN). */
const PARAMETER_NAME = /^[A-Za-z0-9_./-]{1,1011}$/;

export function imageEventFacts(event: unknown): ImageEventFacts {
  const record = asRecord(event);
  const id = field(record, "id");
  const facts: ImageEventFacts = {
    key: id !== undefined && EVENT_ID.test(id) ? id : `digest-${digest(event)}`,
  };
  if (id !== undefined) facts.id = id.slice(0, FIELD_LIMIT);
  const source = field(record, "source");
  if (source !== undefined) facts.source = source.slice(0, FIELD_LIMIT);
  const detailType = field(record, "detail-type");
  if (detailType !== undefined) facts.detailType = detailType.slice(0, FIELD_LIMIT);
  const time = field(record, "time");
  if (time !== undefined) facts.time = time.slice(0, FIELD_LIMIT);
  return facts;
}

/**
 * The audit subject of an event as a whole: `image/<ami>` (an AMI State Change),
 * `image/<Image Builder image ARN>`, `parameter/<name>` (a Parameter Store Change), else
 * `event/<key>`. Only well-formed, bounded values become subjects (they are table keys).
 */
export function imageEventSubject(
  event: unknown,
  facts: ImageEventFacts = imageEventFacts(event),
): { subject: string; imageId?: string } {
  try {
    const record = asRecord(event);
    const detail = asRecord(record?.detail);
    const imageId = field(detail, "ImageId");
    if (imageId !== undefined && AMI_ID.test(imageId)) return { subject: `image/${imageId}`, imageId };
    const resources = record?.resources;
    if (Array.isArray(resources)) {
      const arn = resources.find(
        (resource): resource is string =>
          typeof resource === "string" && resource.length <= 1024 && IMAGE_BUILDER_IMAGE.test(resource),
      );
      if (arn !== undefined) return { subject: `image/${arn}` };
    }
    const name = field(detail, "name");
    if (facts.source === "aws.ssm" && name !== undefined && PARAMETER_NAME.test(name)) {
      return { subject: `parameter/${name}` };
    }
  } catch {
    // A hostile event (throwing getters, proxies): it is still recorded, under its key.
  }
  return { subject: `event/${facts.key}` };
}

/** The event's fields an audit record keeps, with how many deliveries it took. */
export function eventDetails(
  facts: ImageEventFacts,
  delivery: { attempt: number; maxAttempts?: number },
): Record<string, unknown> {
  return {
    ...(facts.id !== undefined ? { eventId: facts.id } : {}),
    ...(facts.source !== undefined ? { source: facts.source } : {}),
    ...(facts.detailType !== undefined ? { detailType: facts.detailType } : {}),
    ...(facts.time !== undefined ? { eventTime: facts.time } : {}),
    attempt: delivery.attempt,
    ...(delivery.maxAttempts !== undefined ? { maxAttempts: delivery.maxAttempts } : {}),
  };
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  try {
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A non-empty string field, read defensively (a hostile object may throw from a getter). */
function field(record: Record<string, unknown> | undefined, key: string): string | undefined {
  try {
    const value = record?.[key];
    return typeof value === "string" && value.length > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

function digest(event: unknown): string {
  let serialized: string;
  try {
    serialized = JSON.stringify(event) ?? String(event);
  } catch {
    serialized = "unreadable";
  }
  return createHash("sha256").update(serialized).digest("hex").slice(0, 32);
}
