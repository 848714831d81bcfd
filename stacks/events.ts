/**
 * The EventBridge rules of src/events/rules.ts, on the default bus, with the same pattern
 * objects the local cloud uses, delivered as src/events/targets.ts says:
 *
 * - buffered (findings): rule → SQS buffer (redrive to a DLQ after 5 receives) → event source
 *   mapping with ReportBatchItemFailures, so one bad record is retried alone and a flood waits
 *   in the queue instead of invoking the handler hundreds of times at once;
 * - direct (images, refresh events): rule → function (asynchronous invocation), retried by
 *   EventBridge, then by Lambda; what still fails lands in the event DLQ.
 */
import type { PhoenixFunction } from "../src/catalog";
import { phoenixEventRules } from "../src/events/rules";
import { EVENT_TARGETS } from "../src/events/targets";
import { eventDeadLetterQueueName, findingDeadLetterQueueName, findingQueueName } from "../src/iam/context";
import type { Policy } from "../src/policy/index";
import type { PhoenixFunctions } from "./functions";
import { sizingOf } from "./functions";

export interface EventDelivery {
  rules: aws.cloudwatch.EventRule[];
  findingBuffer: aws.sqs.Queue;
  findingDeadLetters: aws.sqs.Queue;
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

export function events(input: { policy: Policy; functions: PhoenixFunctions }): EventDelivery {
  const stage = $app.stage;
  const onFinding = sizingOf("on-finding");
  const handlerTimeout = Number.parseInt(onFinding.timeout, 10);

  const findingDeadLetters = new aws.sqs.Queue("FindingBufferDlq", {
    name: findingDeadLetterQueueName(stage),
    messageRetentionSeconds: 14 * 24 * 3600,
    sqsManagedSseEnabled: true,
  });
  const findingBuffer = new aws.sqs.Queue("FindingBuffer", {
    name: findingQueueName(stage),
    // AWS advice for a Lambda event source: at least six times the function's timeout.
    visibilityTimeoutSeconds: 6 * handlerTimeout,
    messageRetentionSeconds: 4 * 24 * 3600,
    sqsManagedSseEnabled: true,
    redrivePolicy: $jsonStringify({ deadLetterTargetArn: findingDeadLetters.arn, maxReceiveCount: 5 }),
  });
  const eventDeadLetters = new aws.sqs.Queue("EventDlq", {
    name: eventDeadLetterQueueName(stage),
    messageRetentionSeconds: 14 * 24 * 3600,
    sqsManagedSseEnabled: true,
  });

  const rules: aws.cloudwatch.EventRule[] = [];
  const bufferSources: $util.Output<string>[] = [];
  const dlqSources: $util.Output<string>[] = [];
  for (const rule of phoenixEventRules(input.policy)) {
    const id = pascal(rule.name.replace(/^phoenix-/, ""));
    const deployed = new aws.cloudwatch.EventRule(`${id}Rule`, {
      name: `phoenix-${stage}-${rule.name.replace(/^phoenix-/, "")}`,
      description: rule.description,
      // The very object the local cloud gives moto (test/local/events-patterns.test.ts).
      eventPattern: JSON.stringify(rule.pattern),
    });
    rules.push(deployed);
    const target = EVENT_TARGETS[rule.target];
    const fn = input.functions[target.function as PhoenixFunction];
    if (target.delivery.kind === "buffered") {
      bufferSources.push(deployed.arn);
      new aws.cloudwatch.EventTarget(`${id}Target`, { rule: deployed.name, arn: findingBuffer.arn });
    } else {
      dlqSources.push(deployed.arn);
      new aws.lambda.Permission(`${id}Invoke`, {
        action: "lambda:InvokeFunction",
        function: fn.name,
        principal: "events.amazonaws.com",
        sourceArn: deployed.arn,
      });
      new aws.cloudwatch.EventTarget(`${id}Target`, {
        rule: deployed.name,
        arn: fn.arn,
        retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 8 },
        deadLetterConfig: { arn: eventDeadLetters.arn },
      });
    }
  }
  allowRulesToSend("FindingBufferPolicy", findingBuffer, bufferSources);
  allowRulesToSend("EventDlqPolicy", eventDeadLetters, dlqSources);

  // Direct targets run asynchronously: after Lambda's own retries, the event goes to the DLQ
  // (the function's role may send there: src/iam/policy.ts, PlatformAsyncFailureDestination).
  for (const target of Object.values(EVENT_TARGETS)) {
    if (target.delivery.kind !== "direct") continue;
    new aws.lambda.FunctionEventInvokeConfig(`${pascal(target.function)}AsyncFailures`, {
      functionName: input.functions[target.function as PhoenixFunction].name,
      maximumRetryAttempts: 2,
      destinationConfig: { onFailure: { destination: eventDeadLetters.arn } },
    });
  }

  for (const target of Object.values(EVENT_TARGETS)) {
    if (target.delivery.kind !== "buffered") continue;
    const sizing = sizingOf(target.function as PhoenixFunction);
    new aws.lambda.EventSourceMapping(`${pascal(target.function)}FromBuffer`, {
      eventSourceArn: findingBuffer.arn,
      functionName: input.functions[target.function as PhoenixFunction].name,
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

  return { rules, findingBuffer, findingDeadLetters, eventDeadLetters };
}
