/**
 * The EventBridge rules of src/events/rules.ts, on the default bus, with the same pattern
 * objects the local cloud uses, delivered as src/events/targets.ts says:
 *
 * - buffered (findings, images): rule → the target's SQS buffer (redrive to its DLQ after the
 *   target's maxReceiveCount receives) → event source mapping with ReportBatchItemFailures, so
 *   one bad record is retried alone, a flood waits in the queue instead of invoking the handler
 *   hundreds of times at once, and what never succeeds waits in the DLQ to be replayed
 *   (`aws sqs start-message-move-task --source-arn <dlq arn>` moves it back to the buffer);
 * - direct (refresh events): rule → function (asynchronous invocation), retried by
 *   EventBridge, then by Lambda; what still fails lands in the event DLQ.
 *
 * Every rule target also names the event DLQ: an event EventBridge itself cannot hand to its
 * target (queue or function) after its retries lands there instead of being dropped.
 */

import { eventBufferDeadLetterName, eventBufferName, eventDeadLetterQueueName } from "../build/iam/context";
import type { PhoenixFunction } from "../src/catalog";
import { phoenixEventRules } from "../src/events/rules";
import { BUFFERED_TARGET_NAMES, type BufferedTargetName, EVENT_TARGETS } from "../src/events/targets";
import type { Policy } from "../src/policy/index";
import type { PhoenixFunctions } from "./functions";
import { sizingOf } from "./functions";

export interface EventBuffer {
  queue: aws.sqs.Queue;
  deadLetters: aws.sqs.Queue;
}

export interface EventDelivery {
  rules: aws.cloudwatch.EventRule[];
  /** One SQS buffer (and its DLQ) per buffered target. */
  buffers: Record<BufferedTargetName, EventBuffer>;
  findingBuffer: aws.sqs.Queue;
  findingDeadLetters: aws.sqs.Queue;
  imageBuffer: aws.sqs.Queue;
  eventDeadLetters: aws.sqs.Queue;
}

const pascal = (name: string) => name.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase());

/** Lets EventBridge rules of this stage send to a queue, and nothing else. */
function allowRulesToSend(id: string, queue: aws.sqs.Queue, ruleArns: $util.Output<string>[]) {
  new aws.sqs.QueuePolicy(id, {
    queueUrl: queue.url,
    policy: $util.all([queue.arn, $util.all(ruleArns)]).apply(([queueArn, sources]) =>
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "events.amazonaws.com" },
            Action: "sqs:SendMessage",
            Resource: queueArn,
            Condition: { ArnEquals: { "aws:SourceArn": sources } },
          },
        ],
      }),
    ),
  });
}

/** A buffered target's queue and DLQ, named as build/iam/context.ts scopes them. */
function buffer(target: BufferedTargetName, stage: string): EventBuffer {
  const { delivery } = EVENT_TARGETS[target];
  const id = pascal(delivery.queue);
  const handlerTimeout = Number.parseInt(sizingOf(target as PhoenixFunction).timeout, 10);
  const deadLetters = new aws.sqs.Queue(`${id}Dlq`, {
    name: eventBufferDeadLetterName(stage, delivery.queue),
    messageRetentionSeconds: 14 * 24 * 3600,
    sqsManagedSseEnabled: true,
  });
  const queue = new aws.sqs.Queue(id, {
    name: eventBufferName(stage, delivery.queue),
    // AWS advice for a Lambda event source: at least six times the function's timeout. It is
    // also the delay before a record the handler reported (failed, or deferred) comes back.
    visibilityTimeoutSeconds: 6 * handlerTimeout,
    messageRetentionSeconds: 4 * 24 * 3600,
    sqsManagedSseEnabled: true,
    redrivePolicy: $jsonStringify({
      deadLetterTargetArn: deadLetters.arn,
      maxReceiveCount: delivery.maxReceiveCount,
    }),
  });
  // A DLQ may be redriven only to the queues it is the DLQ of (start-message-move-task).
  new aws.sqs.RedriveAllowPolicy(`${id}DlqRedriveAllow`, {
    queueUrl: deadLetters.url,
    redriveAllowPolicy: $jsonStringify({ redrivePermission: "byQueue", sourceQueueArns: [queue.arn] }),
  });
  return { queue, deadLetters };
}

export function events(input: { policy: Policy; functions: PhoenixFunctions }): EventDelivery {
  const stage = $app.stage;
  const buffers = Object.fromEntries(
    BUFFERED_TARGET_NAMES.map((target) => [target, buffer(target, stage)]),
  ) as Record<BufferedTargetName, EventBuffer>;
  const eventDeadLetters = new aws.sqs.Queue("EventDlq", {
    name: eventDeadLetterQueueName(stage),
    messageRetentionSeconds: 14 * 24 * 3600,
    sqsManagedSseEnabled: true,
  });

  const rules: aws.cloudwatch.EventRule[] = [];
  const bufferSources = new Map<BufferedTargetName, $util.Output<string>[]>();
  const dlqSources: $util.Output<string>[] = [];
  // EventBridge's own retries (up to 24 h by default) before it gives an event to the event DLQ.
  const retryPolicy = { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 8 };
  for (const rule of phoenixEventRules(input.policy)) {
    const id = pascal(rule.name.replace(/^phoenix-/, ""));
    const deployed = new aws.cloudwatch.EventRule(`${id}Rule`, {
      name: `phoenix-${stage}-${rule.name.replace(/^phoenix-/, "")}`,
      description: rule.description,
      // The very object the local cloud gives moto (test/local/events-patterns.test.ts); a
      // scheduled rule fires on its own (the local cloud runs rate() on its clock).
      ...(rule.pattern ? { eventPattern: JSON.stringify(rule.pattern) } : {}),
      ...(rule.schedule ? { scheduleExpression: rule.schedule } : {}),
    });
    rules.push(deployed);
    dlqSources.push(deployed.arn);
    const target = EVENT_TARGETS[rule.target];
    if (target.delivery.kind === "buffered") {
      const name = rule.target as BufferedTargetName;
      bufferSources.set(name, [...(bufferSources.get(name) ?? []), deployed.arn]);
      new aws.cloudwatch.EventTarget(`${id}Target`, {
        rule: deployed.name,
        arn: buffers[name].queue.arn,
        retryPolicy,
        deadLetterConfig: { arn: eventDeadLetters.arn },
      });
    } else {
      const fn = input.functions[target.function as PhoenixFunction];
      new aws.lambda.Permission(`${id}Invoke`, {
        action: "lambda:InvokeFunction",
        function: fn.name,
        principal: "events.amazonaws.com",
        sourceArn: deployed.arn,
      });
      new aws.cloudwatch.EventTarget(`${id}Target`, {
        rule: deployed.name,
        arn: fn.arn,
        retryPolicy,
        deadLetterConfig: { arn: eventDeadLetters.arn },
      });
    }
  }
  for (const target of BUFFERED_TARGET_NAMES) {
    const sources = bufferSources.get(target);
    if (sources)
      allowRulesToSend(
        `${pascal(EVENT_TARGETS[target].delivery.queue)}Policy`,
        buffers[target].queue,
        sources,
      );
  }
  allowRulesToSend("EventDlqPolicy", eventDeadLetters, dlqSources);

  // Direct targets run asynchronously: after Lambda's own retries, the event goes to the DLQ
  // (the function's role may send there: build/iam/policy.ts, PlatformAsyncFailureDestination).
  for (const target of Object.values(EVENT_TARGETS)) {
    if (target.delivery.kind !== "direct") continue;
    new aws.lambda.FunctionEventInvokeConfig(`${pascal(target.function)}AsyncFailures`, {
      functionName: input.functions[target.function as PhoenixFunction].name,
      maximumRetryAttempts: 2,
      destinationConfig: { onFailure: { destination: eventDeadLetters.arn } },
    });
  }

  for (const target of BUFFERED_TARGET_NAMES) {
    const fn = EVENT_TARGETS[target].function as PhoenixFunction;
    const sizing = sizingOf(fn);
    new aws.lambda.EventSourceMapping(`${pascal(fn)}FromBuffer`, {
      eventSourceArn: buffers[target].queue.arn,
      functionName: input.functions[fn].name,
      batchSize: 10,
      maximumBatchingWindowInSeconds: 5,
      // The handler returns batchItemFailures: only the failed records are retried.
      functionResponseTypes: ["ReportBatchItemFailures"],
      // Never more pollers than the function may run (its reserved concurrency), or the excess
      // invocations are throttled and the messages bounce towards the DLQ. Minimum is 2.
      ...(sizing.reserved !== undefined
        ? { scalingConfig: { maximumConcurrency: Math.max(2, sizing.reserved) } }
        : {}),
    });
  }

  return {
    rules,
    buffers,
    findingBuffer: buffers["on-finding"].queue,
    findingDeadLetters: buffers["on-finding"].deadLetters,
    imageBuffer: buffers["on-image"].queue,
    eventDeadLetters,
  };
}
