import type { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { IAMClient } from "@aws-sdk/client-iam";
import type { ImagebuilderClient } from "@aws-sdk/client-imagebuilder";
import type { KMSClient } from "@aws-sdk/client-kms";
import type { SFNClient } from "@aws-sdk/client-sfn";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { SSMClient } from "@aws-sdk/client-ssm";
import type { STSClient } from "@aws-sdk/client-sts";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ALL_CLIENT_FACTORIES } from "./client-factories.js";
import { type BackoffOptions, DEFAULT_BACKOFF, JitteredRetryStrategy } from "./retry.js";

/**
 * Where Phoenix's AWS calls go. In AWS: the default endpoints and credential chain. Locally:
 * AWS_ENDPOINT_URL (which SDK v3 and the AWS CLI both honour) pointing at the local cloud.
 */
export interface AwsTarget {
  region?: string;
  endpoint?: string;
  credentials?: AwsKeys;
  /** Keys that expire and are fetched again (a member role's, src/member-access.ts); wins over credentials. */
  credentialProvider?: () => Promise<AwsKeys & { expiration?: Date }>;
  backoff?: BackoffOptions;
}

export interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type ClientConfig = ReturnType<typeof clientConfig>;

export function clientConfig(target: AwsTarget = {}) {
  return {
    ...(target.region ? { region: target.region } : {}),
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(target.credentialProvider
      ? { credentials: target.credentialProvider }
      : target.credentials
        ? { credentials: target.credentials }
        : {}),
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
  /** Only to assume member roles (src/member-access.ts). */
  sts: STSClient;
}

export type ClientName = keyof AwsClients;

export type ClientFactories = { [K in ClientName]: (config: ClientConfig) => AwsClients[K] };

export const CLIENT_NAMES: readonly ClientName[] = [
  "ec2",
  "autoScaling",
  "sfn",
  "sns",
  "ssm",
  "iam",
  "kms",
  "events",
  "imageBuilder",
  "dynamo",
  "sts",
];

/**
 * Clients made on first use, from the factories given. A Lambda gives only the factories of the
 * clients its code uses (functions/*.ts, checked by test/infra/function-clients.test.ts); one
 * without a factory fails with an error that names it rather than an undefined client.
 */
export function lazyClients(target: AwsTarget, factories: Partial<ClientFactories>): AwsClients {
  const config = clientConfig(target);
  const made: Partial<AwsClients> = {};
  const clients = {} as AwsClients;
  for (const name of CLIENT_NAMES) {
    Object.defineProperty(clients, name, {
      enumerable: true,
      get() {
        if (made[name]) return made[name];
        const factory = factories[name] as ((config: ClientConfig) => AwsClients[typeof name]) | undefined;
        if (!factory) {
          throw new Error(
            `This function was built without the ${name} AWS client: add it to the clients its entry point in functions/ passes to depsFromEnv.`,
          );
        }
        const client = factory(config);
        (made as Record<ClientName, unknown>)[name] = client;
        return client;
      },
    });
  }
  return clients;
}

/** Every client (the local cloud, the CLI, tests). */
export function createClients(target: AwsTarget = {}): AwsClients {
  return lazyClients(target, ALL_CLIENT_FACTORIES);
}
