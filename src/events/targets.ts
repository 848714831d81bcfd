/**
 * Where Phoenix's EventBridge rules deliver, named by the Lambda function that handles the
 * event. The stack builds its topology from this table (and the local cloud deploys the stack's graph):
 *
 * - `buffered`: rule → SQS queue `phoenix-<stage>-<queue>` (redrive to `…-dlq` after
 *   `maxReceiveCount` receives) → function, which receives Lambda's SQS batch event
 *   (`{ Records: [...] }`, each `body` the EventBridge event as JSON) and reports the records
 *   to redeliver in `batchItemFailures`. At least once end to end: a record is deleted only
 *   once its handler has acted or decided for good; what fails every receive waits in the DLQ,
 *   from which SQS's message move task replays it.
 * - `direct`: rule → function, which receives the EventBridge event itself (asynchronous
 *   invocation: retried, then sent to a dead-letter queue).
 */
export type EventDelivery =
  | {
      kind: "buffered";
      queue: string;
      /** Receives before SQS moves a message to the queue's DLQ (its redrive policy). */
      maxReceiveCount: number;
    }
  | { kind: "direct" };

export interface EventTarget {
  /** The Lambda function (entry point under functions/) that handles the events. */
  function: string;
  delivery: EventDelivery;
}

export const EVENT_TARGETS = {
  // A flood of findings is absorbed by the queue instead of by the containment workflow.
  "on-finding": {
    function: "on-finding",
    delivery: { kind: "buffered", queue: "finding-buffer", maxReceiveCount: 5 },
  },
  // Image events are rare, and each one is a rollout: none may be lost to a throttled call, and
  // one whose image is not yet tagged is looked at again (on-image defers it) before it is ignored.
  "on-image": {
    function: "on-image",
    delivery: { kind: "buffered", queue: "image-buffer", maxReceiveCount: 6 },
  },
  "on-refresh-event": { function: "on-refresh-event", delivery: { kind: "direct" } },
  // A session whose group cannot take a replacement yet is delivered again (after the queue's
  // visibility timeout) until it can: ten receives.
  "on-session": {
    function: "on-session",
    delivery: { kind: "buffered", queue: "session-buffer", maxReceiveCount: 10 },
  },
  // Once a day by default: nothing to buffer.
  sweep: { function: "sweep", delivery: { kind: "direct" } },
} as const satisfies Record<string, EventTarget>;

export type EventTargetName = keyof typeof EVENT_TARGETS;

export const EVENT_TARGET_NAMES = Object.keys(EVENT_TARGETS) as EventTargetName[];

/** The targets delivered through an SQS buffer. */
export type BufferedTargetName = {
  [T in EventTargetName]: (typeof EVENT_TARGETS)[T]["delivery"]["kind"] extends "buffered" ? T : never;
}[EventTargetName];

export const BUFFERED_TARGET_NAMES = EVENT_TARGET_NAMES.filter(
  (name): name is BufferedTargetName => EVENT_TARGETS[name].delivery.kind === "buffered",
);

/** A buffered target's redrive limit: the receive on which its handler must decide for good. */
export function maxReceiveCountOf(target: BufferedTargetName): number {
  return EVENT_TARGETS[target].delivery.maxReceiveCount;
}
