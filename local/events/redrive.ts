import { randomUUID } from "node:crypto";
import { awsError, jsonResult } from "../gateway/response.js";
import type { ServiceHandler } from "../gateway/server.js";
import type { LocalEventBus } from "./bus.js";

interface MoveTask {
  TaskHandle: string;
  Status: "COMPLETED" | "FAILED";
  SourceArn: string;
  DestinationArn: string;
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove: number;
  StartedTimestamp: number;
  FailureReason?: string;
}

/**
 * SQS's dead-letter redrive (StartMessageMoveTask, ListMessageMoveTasks), which moto does not
 * have, for the dead-letter queues of Phoenix's event targets: the command that replays a
 * dead-lettered event in AWS replays it on the local cloud too:
 *
 *   aws sqs start-message-move-task --source-arn arn:aws:sqs:us-east-1:123456789012:phoenix-image-buffer-dlq
 *
 * The move runs before the call is answered (AWS runs it in the background; the listing then
 * says COMPLETED at once). A DestinationArn other than the DLQ's own source queue is refused;
 * any other queue's call goes on to moto.
 */
export function messageMoveHandler(bus: LocalEventBus): ServiceHandler {
  const tasks = new Map<string, MoveTask[]>();
  const ours = (arn: unknown) =>
    typeof arn === "string" ? bus.targetOfQueueArn(arn)?.deadLetter === true : false;
  return {
    name: "events-message-move",
    handles: (request) =>
      request.service === "sqs" &&
      request.protocol === "json" &&
      (request.action === "StartMessageMoveTask" || request.action === "ListMessageMoveTasks") &&
      ours(request.json.SourceArn),
    async handle(request) {
      const sourceArn = String(request.json.SourceArn);
      const found = bus.targetOfQueueArn(sourceArn)!;
      const queue = bus.queues.get(found.target)!;
      if (request.action === "ListMessageMoveTasks") {
        const max = Number(request.json.MaxResults ?? 1) || 1;
        return jsonResult({ Results: (tasks.get(sourceArn) ?? []).slice(-max).reverse() });
      }
      const destination = request.json.DestinationArn;
      if (destination !== undefined && destination !== queue.queueArn) {
        return awsError(
          "json",
          "sqs",
          400,
          "InvalidParameterValue",
          `the local cloud redrives ${queue.deadLetterQueueName} only to its source queue ${queue.queueArn}`,
        );
      }
      const task: MoveTask = {
        TaskHandle: randomUUID(),
        Status: "COMPLETED",
        SourceArn: sourceArn,
        DestinationArn: queue.queueArn,
        ApproximateNumberOfMessagesMoved: 0,
        ApproximateNumberOfMessagesToMove: 0,
        StartedTimestamp: Date.now(),
      };
      try {
        task.ApproximateNumberOfMessagesMoved = await bus.redrive(found.target);
      } catch (error) {
        task.Status = "FAILED";
        task.FailureReason = (error as Error).message;
      }
      task.ApproximateNumberOfMessagesToMove = task.ApproximateNumberOfMessagesMoved;
      tasks.set(sourceArn, [...(tasks.get(sourceArn) ?? []), task].slice(-10));
      return jsonResult({ TaskHandle: task.TaskHandle });
    },
  };
}
