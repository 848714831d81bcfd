import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EC2Client } from "@aws-sdk/client-ec2";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { IAMClient } from "@aws-sdk/client-iam";
import { ImagebuilderClient } from "@aws-sdk/client-imagebuilder";
import { KMSClient } from "@aws-sdk/client-kms";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SNSClient } from "@aws-sdk/client-sns";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { ClientConfig } from "./clients.js";

/**
 * One factory per AWS client. A Lambda entry point imports only the factories its code uses,
 * so its bundle carries only those SDK clients (each is hundreds of KB, and loading them is
 * most of a cold start); the local cloud, the CLI and tests take them all.
 */
export const ec2 = (config: ClientConfig) => new EC2Client(config);
export const autoScaling = (config: ClientConfig) => new AutoScalingClient(config);
export const sfn = (config: ClientConfig) => new SFNClient(config);
export const sns = (config: ClientConfig) => new SNSClient(config);
export const ssm = (config: ClientConfig) => new SSMClient(config);
export const iam = (config: ClientConfig) => new IAMClient(config);
export const sts = (config: ClientConfig) => new STSClient(config);
export const kms = (config: ClientConfig) => new KMSClient(config);
export const events = (config: ClientConfig) => new EventBridgeClient(config);
export const imageBuilder = (config: ClientConfig) => new ImagebuilderClient(config);
export const dynamo = (config: ClientConfig) =>
  DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true },
  });

export const ALL_CLIENT_FACTORIES = {
  ec2,
  autoScaling,
  sfn,
  sns,
  ssm,
  iam,
  kms,
  events,
  imageBuilder,
  dynamo,
  sts,
};
