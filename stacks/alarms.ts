/**
 * Alarms that page through the notification topic: a workflow that failed, events that could
 * not be delivered (DLQ depth), a finding backlog, and handler errors.
 */
import { PHOENIX_FUNCTIONS, type PhoenixStateMachine } from "../src/catalog";
import { type BufferedTargetName, EVENT_TARGETS } from "../src/events/targets";
import type { EventDelivery } from "./events";
import type { PhoenixFunctions } from "./functions";
import type { PhoenixStateMachines } from "./workflows";

const pascal = (name: string) => name.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase());

interface AlarmSpec {
  namespace: string;
  metric: string;
  dimensions: Record<string, $util.Input<string>>;
  description: string;
  statistic?: "Sum" | "Maximum";
  threshold?: number;
  periodSeconds?: number;
}

function alarm(id: string, topicArn: $util.Input<string>, spec: AlarmSpec) {
  new aws.cloudwatch.MetricAlarm(id, {
    name: `phoenix-${$app.stage}-${id}`,
    alarmDescription: spec.description,
    namespace: spec.namespace,
    metricName: spec.metric,
    dimensions: spec.dimensions,
    statistic: spec.statistic ?? "Sum",
    period: spec.periodSeconds ?? 300,
    evaluationPeriods: 1,
    threshold: spec.threshold ?? 1,
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    // No data means nothing happened (no executions, no errors), not an outage.
    treatMissingData: "notBreaching",
    alarmActions: [topicArn],
    okActions: [topicArn],
  });
}

export function alarms(input: {
  topicArn: $util.Input<string>;
  functions: PhoenixFunctions;
  stateMachines: PhoenixStateMachines;
  delivery: EventDelivery;
}) {
  for (const [machine, stateMachine] of Object.entries(input.stateMachines) as [
    PhoenixStateMachine,
    aws.sfn.StateMachine,
  ][]) {
    for (const metric of ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"]) {
      alarm(`${pascal(machine)}${metric}`, input.topicArn, {
        namespace: "AWS/States",
        metric,
        dimensions: { StateMachineArn: stateMachine.arn },
        description: `Phoenix ${machine} workflow: ${metric} (see the execution's history and the audit trail)`,
      });
    }
  }
  // One per buffered target's DLQ (FindingBufferDlqDepth, ImageBufferDlqDepth), and the event DLQ.
  const deadLetterQueues: Record<string, aws.sqs.Queue> = {
    ...Object.fromEntries(
      (Object.keys(input.delivery.buffers) as BufferedTargetName[]).map((target) => [
        `${pascal(EVENT_TARGETS[target].delivery.queue)}DlqDepth`,
        input.delivery.buffers[target].deadLetters,
      ]),
    ),
    EventDlqDepth: input.delivery.eventDeadLetters,
  };
  for (const [id, queue] of Object.entries(deadLetterQueues)) {
    alarm(id, input.topicArn, {
      namespace: "AWS/SQS",
      metric: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: queue.name },
      statistic: "Maximum",
      description:
        "Events Phoenix could not handle are waiting in a dead-letter queue: inspect, then redrive (aws sqs start-message-move-task --source-arn <dlq arn>)",
    });
  }
  alarm("FindingBacklog", input.topicArn, {
    namespace: "AWS/SQS",
    metric: "ApproximateAgeOfOldestMessage",
    dimensions: { QueueName: input.delivery.findingBuffer.name },
    statistic: "Maximum",
    threshold: 900,
    description: "A GuardDuty finding has waited 15 minutes in the buffer: containment is falling behind",
  });
  for (const name of PHOENIX_FUNCTIONS) {
    alarm(`${pascal(name)}Errors`, input.topicArn, {
      namespace: "AWS/Lambda",
      metric: "Errors",
      dimensions: { FunctionName: input.functions[name].name },
      description: `Phoenix handler ${name} failed (its logs have the error)`,
    });
  }
}
