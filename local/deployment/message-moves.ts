import { randomUUID } from "node:crypto";
import {
  DeleteMessageCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { queueNameOf } from "./model.js";
import type { QueueDirectory } from "./queues.js";

/**
 * SQS's dead-letter queue redrive (StartMessageMoveTask, ListMessageMoveTasks), which moto does
 * not have: what replays a dead-lettered event in AWS replays it locally too:
 *
 *   aws sqs start-message-move-task --source-arn arn:aws:sqs:us-east-1:123456789012:phoenix-dev-image-buffer-dlq
 *
 * Without a DestinationArn the messages go back to the queue whose redrive policy names the
 * source (AWS: "the original source queue"); a source that is no queue's DLQ needs one. The move
 * runs before the call is answered (AWS runs it in the background; the listing then says
 * COMPLETED at once).
 */

export interface MoveTask {
  TaskHandle: string;
  Status: "COMPLETED" | "FAILED";
  SourceArn: string;
  DestinationArn: string;
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove: number;
  StartedTimestamp: number;
  FailureReason?: string;
}

export class MoveTaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

export class MessageMoves {
  private readonly tasks = new Map<string, MoveTask[]>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly queues: QueueDirectory,
  ) {}

  /** The queue whose redrive policy sends to `dlqArn`, if any. */
  private async sourceOf(dlqArn: string): Promise<string | undefined> {
    const { QueueUrls = [] } = await this.sqs.send(new ListQueuesCommand({ MaxResults: 1000 }));
    for (const url of QueueUrls) {
      const info = await this.queues.info(url).catch(() => undefined);
      const policy = info?.attributes.RedrivePolicy;
      if (!policy) continue;
      try {
        if ((JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn === dlqArn)
          return info.arn;
      } catch {
        // not ours to judge
      }
    }
    return undefined;
  }

  async start(sourceArn: string, destinationArn?: string): Promise<string> {
    const source = await this.queues.info(sourceArn).catch(() => {
      throw new MoveTaskError(
        "ResourceNotFoundException",
        `The resource that you specified for the SourceArn parameter doesn't exist.`,
      );
    });
    const destination = destinationArn ?? (await this.sourceOf(source.arn));
    if (!destination)
      throw new MoveTaskError(
        "InvalidParameterValue",
        `Source queue ${source.name} must be configured as a Dead Letter Queue (or give a DestinationArn).`,
      );
    const target = await this.queues.info(destination).catch(() => {
      throw new MoveTaskError(
        "ResourceNotFoundException",
        `The destination queue ${queueNameOf(destination)} doesn't exist.`,
      );
    });
    const task: MoveTask = {
      TaskHandle: randomUUID(),
      Status: "COMPLETED",
      SourceArn: source.arn,
      DestinationArn: target.arn,
      ApproximateNumberOfMessagesMoved: 0,
      ApproximateNumberOfMessagesToMove: 0,
      StartedTimestamp: Date.now(),
    };
    try {
      task.ApproximateNumberOfMessagesMoved = await this.move(source.url, target.url);
    } catch (error) {
      task.Status = "FAILED";
      task.FailureReason = (error as Error).message;
    }
    task.ApproximateNumberOfMessagesToMove = task.ApproximateNumberOfMessagesMoved;
    this.tasks.set(source.arn, [...(this.tasks.get(source.arn) ?? []), task].slice(-10));
    return task.TaskHandle;
  }

  list(sourceArn: string, maxResults = 1): MoveTask[] {
    return (this.tasks.get(sourceArn) ?? []).slice(-Math.max(1, maxResults)).reverse();
  }

  /** Every message goes to the destination as a new message, then leaves the source. */
  private async move(fromUrl: string, toUrl: string): Promise<number> {
    let moved = 0;
    for (;;) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: fromUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 30,
          MessageAttributeNames: ["All"],
        }),
      );
      if (Messages.length === 0) return moved;
      for (const message of Messages) {
        // Sent before it is deleted: a crash in between leaves a duplicate, never a loss.
        await this.sqs.send(
          new SendMessageCommand({
            QueueUrl: toUrl,
            MessageBody: message.Body ?? "",
            ...(message.MessageAttributes ? { MessageAttributes: message.MessageAttributes } : {}),
          }),
        );
        await this.sqs.send(
          new DeleteMessageCommand({ QueueUrl: fromUrl, ReceiptHandle: message.ReceiptHandle }),
        );
        moved++;
      }
    }
  }
}
