/**
 * Where Phoenix's EventBridge rules deliver, named by the Lambda function that handles the
 * event. The deployed stack and the local cloud build the same topology from this table:
 *
 * - `buffered`: rule → SQS queue (with a dead-letter queue) → function, which receives
 *   Lambda's SQS batch event (`{ Records: [...] }`, each `body` the EventBridge event as JSON).
 *   A flood of findings is absorbed by the queue instead of by the containment workflow.
 * - `direct`: rule → function, which receives the EventBridge event itself (asynchronous
 *   invocation: retried, then sent to a dead-letter queue).
 */
export type EventDelivery = { kind: "buffered"; queue: string } | { kind: "direct" };

export interface EventTarget {
  /** The Lambda function (entry point under functions/) that handles the events. */
  function: string;
  delivery: EventDelivery;
}

export const EVENT_TARGETS = {
  "on-finding": { function: "on-finding", delivery: { kind: "buffered", queue: "finding-buffer" } },
  "on-image": { function: "on-image", delivery: { kind: "direct" } },
  "on-refresh-event": { function: "on-refresh-event", delivery: { kind: "direct" } },
} as const satisfies Record<string, EventTarget>;

export type EventTargetName = keyof typeof EVENT_TARGETS;

export const EVENT_TARGET_NAMES = Object.keys(EVENT_TARGETS) as EventTargetName[];
