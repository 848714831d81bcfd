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
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type BackoffOptions, DEFAULT_BACKOFF, JitteredRetryStrategy } from "./retry.js";

/**
 * Where Phoenix's AWS calls go. In AWS: the default endpoints and credential chain. Locally:
 * AWS_ENDPOINT_URL (which SDK v3 and the AWS CLI both honour) pointing at the local cloud.
 */
export interface AwsTarget {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  backoff?: BackoffOptions;
}

export function clientConfig(target: AwsTarget = {}) {
  return {
    ...(target.region ? { region: target.region } : {}),
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(target.credentials ? { credentials: target.credentials } : {}),
    retryStrategy: new JitteredRetryStrategy(target.backoff ?? DEFAULT_BACKOFF),
  };
}

/** The clients a handler uses, created once per cold start and shared across invocations. */
export interface AwsClients {
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  sfn: SFNClient;
  sns: SNSClient;
  ssm: SSMClient;
  iam: IAMClient;
  kms: KMSClient;
  events: EventBridgeClient;
  imageBuilder: ImagebuilderClient;
  dynamo: DynamoDBDocumentClient;
}

export function createClients(target: AwsTarget = {}): AwsClients {
  const config = clientConfig(target);
  return {
    ec2: new EC2Client(config),
    autoScaling: new AutoScalingClient(config),
    sfn: new SFNClient(config),
    sns: new SNSClient(config),
    ssm: new SSMClient(config),
    iam: new IAMClient(config),
    kms: new KMSClient(config),
    events: new EventBridgeClient(config),
    imageBuilder: new ImagebuilderClient(config),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(config), {
      marshallOptions: { removeUndefinedValues: true },
    }),
  };
}
