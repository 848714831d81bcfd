import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type MessageAttributeValue,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { queueNameOf } from "./model.js";

export interface QueueInfo {
  name: string;
  url: string;
  arn: string;
  attributes: Record<string, string>;
}

/** The queue does not exist (AWS.SimpleQueueService.NonExistentQueue). */
export class NoSuchQueueError extends Error {
  constructor(name: string) {
    super(`The specified queue ${name} does not exist.`);
    this.name = "QueueDoesNotExist";
  }
}

/**
 * Queues as moto holds them, by name or ARN, for what AWS itself does with them (EventBridge
 * sending to a target, Lambda polling or sending to a destination): their URL and attributes,
 * cached until a call through the gateway changes them (`invalidate`).
 */
export class QueueDirectory {
  private readonly cache = new Map<string, Promise<QueueInfo>>();

  constructor(private readonly sqs: SQSClient) {}

  /** By name, ARN or URL; rejects with NoSuchQueueError. */
  info(reference: string): Promise<QueueInfo> {
    const name = queueNameOf(reference);
    let found = this.cache.get(name);
    if (!found) {
      found = this.lookup(name);
      this.cache.set(name, found);
      found.catch(() => this.cache.delete(name));
    }
    return found;
  }

  invalidate(reference?: string): void {
    if (reference === undefined) this.cache.clear();
    else this.cache.delete(queueNameOf(reference));
  }

  private async lookup(name: string): Promise<QueueInfo> {
    let url: string | undefined;
    try {
      url = (await this.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    } catch (error) {
      if (/NonExistentQueue|QueueDoesNotExist/.test(`${(error as Error).name} ${(error as Error).message}`))
        throw new NoSuchQueueError(name);
      throw error;
    }
    if (!url) throw new NoSuchQueueError(name);
    const { Attributes = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }),
    );
    return { name, url, arn: Attributes.QueueArn ?? "", attributes: Attributes };
  }

  async send(reference: string, body: string, attributes: Record<string, string> = {}, groupId?: string) {
    const queue = await this.info(reference);
    const MessageAttributes: Record<string, MessageAttributeValue> = {};
    for (const [key, value] of Object.entries(attributes))
      MessageAttributes[key] = { DataType: "String", StringValue: value };
    try {
      return await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: queue.url,
          MessageBody: body,
          ...(Object.keys(MessageAttributes).length > 0 ? { MessageAttributes } : {}),
          ...(groupId ? { MessageGroupId: groupId } : {}),
        }),
      );
    } catch (error) {
      if (/NonExistentQueue|QueueDoesNotExist/.test(`${(error as Error).name} ${(error as Error).message}`)) {
        this.invalidate(reference);
        throw new NoSuchQueueError(queue.name);
      }
      throw error;
    }
  }
}
