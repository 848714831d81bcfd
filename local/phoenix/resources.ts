import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { type PhoenixResources, resourceNames } from "../../src/resources.js";

type ClientConfig = ConstructorParameters<typeof DynamoDBClient>[0] & object;

export interface LocalPhoenixResources extends PhoenixResources {
  /** SQS queue subscribed to the notification topic, so tests and the dashboard can read notifications. */
  notificationQueueUrl: string;
}

/**
 * Phoenix's own tables and topic on the local cloud: what the deployed stack declares, created
 * directly (the local stage has no CloudFormation).
 */
export async function createPhoenixResources(
  config: ClientConfig,
  options: { stage: string; accountId: string; region: string },
): Promise<LocalPhoenixResources> {
  const names = resourceNames(options.stage);
  const dynamo = new DynamoDBClient(config);
  for (const table of [names.auditTable, names.stateTable]) {
    await dynamo.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        AttributeDefinitions: [
          { AttributeName: "pk", AttributeType: "S" },
          { AttributeName: "sk", AttributeType: "S" },
        ],
      }),
    );
    await dynamo.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { Enabled: true, AttributeName: "expiresAt" },
      }),
    );
  }
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: names.topic }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${names.topic}-inbox` }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: "sqs", Endpoint: Attributes?.QueueArn }));
  const arn = (name: string) => `arn:aws:states:${options.region}:${options.accountId}:stateMachine:${name}`;
  return {
    auditTable: names.auditTable,
    stateTable: names.stateTable,
    topicArn: TopicArn!,
    containStateMachineArn: arn(names.containStateMachine),
    rolloutStateMachineArn: arn(names.rolloutStateMachine),
    notificationQueueUrl: QueueUrl!,
  };
}
