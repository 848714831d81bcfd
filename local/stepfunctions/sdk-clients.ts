/**
 * AWS SDK v3 clients for the services Step Functions tasks may call locally, loaded on demand
 * from the installed @aws-sdk packages. Commands are found by name (`describeInstances` →
 * `DescribeInstancesCommand`), so any action of these services works without a list to maintain.
 */

export interface SdkServiceInfo {
  /** The npm package of the v3 client. */
  packageName: string;
  clientClass: string;
  /** Step Functions' name for the service in error names (the Java SDK v2 client name). */
  errorPrefix: string;
  /** The service's own API uses camelCase members; Step Functions still takes PascalCase. */
  camelCaseApi?: boolean;
}

/** Keyed by the service name in `arn:aws:states:::aws-sdk:<service>:<action>`. */
export const SDK_SERVICES: Record<string, SdkServiceInfo> = {
  ec2: { packageName: "@aws-sdk/client-ec2", clientClass: "EC2Client", errorPrefix: "Ec2" },
  autoscaling: {
    packageName: "@aws-sdk/client-auto-scaling",
    clientClass: "AutoScalingClient",
    errorPrefix: "AutoScaling",
  },
  dynamodb: {
    packageName: "@aws-sdk/client-dynamodb",
    clientClass: "DynamoDBClient",
    errorPrefix: "DynamoDb",
  },
  sns: { packageName: "@aws-sdk/client-sns", clientClass: "SNSClient", errorPrefix: "Sns" },
  sqs: { packageName: "@aws-sdk/client-sqs", clientClass: "SQSClient", errorPrefix: "Sqs" },
  ssm: { packageName: "@aws-sdk/client-ssm", clientClass: "SSMClient", errorPrefix: "Ssm" },
  iam: { packageName: "@aws-sdk/client-iam", clientClass: "IAMClient", errorPrefix: "Iam" },
  kms: { packageName: "@aws-sdk/client-kms", clientClass: "KMSClient", errorPrefix: "Kms" },
  eventbridge: {
    packageName: "@aws-sdk/client-eventbridge",
    clientClass: "EventBridgeClient",
    errorPrefix: "EventBridge",
  },
  sfn: {
    packageName: "@aws-sdk/client-sfn",
    clientClass: "SFNClient",
    errorPrefix: "Sfn",
    camelCaseApi: true,
  },
  imagebuilder: {
    packageName: "@aws-sdk/client-imagebuilder",
    clientClass: "ImagebuilderClient",
    errorPrefix: "Imagebuilder",
    camelCaseApi: true,
  },
};

type CommandClass = new (input: unknown) => unknown;
interface SendingClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<Record<string, unknown>>;
}
type ClientClass = new (config: unknown) => SendingClient;

export interface SdkClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export function commandClassName(action: string): string {
  return `${action.charAt(0).toUpperCase()}${action.slice(1)}Command`;
}

/** Loads client modules once, and makes one client per service against the gateway. */
export class SdkClients {
  private readonly modules = new Map<string, Promise<Record<string, unknown>>>();
  private readonly clients = new Map<string, SendingClient>();

  /**
   * The config is read at first use: the gateway's URL is known only once it listens. `roleArn`
   * is the state machine's role, whose credentials the calls are made with (as Step Functions does).
   */
  constructor(private readonly config: (roleArn?: string) => SdkClientConfig) {}

  private load(service: string): Promise<Record<string, unknown>> {
    const info = SDK_SERVICES[service];
    if (!info)
      return Promise.reject(new Error(`no AWS SDK client for service '${service}' in the local cloud`));
    let loading = this.modules.get(service);
    if (!loading) {
      loading = import(info.packageName) as Promise<Record<string, unknown>>;
      this.modules.set(service, loading);
    }
    return loading;
  }

  /** Why `service:action` cannot be called, or undefined when it can. */
  async problem(service: string, action: string): Promise<string | undefined> {
    if (!SDK_SERVICES[service]) {
      return `service '${service}' is not one the local cloud maps (known: ${Object.keys(SDK_SERVICES).join(", ")})`;
    }
    const module = await this.load(service);
    if (typeof module[commandClassName(action)] !== "function") {
      return `${SDK_SERVICES[service]?.packageName} has no ${commandClassName(action)}`;
    }
    return undefined;
  }

  async send(
    service: string,
    action: string,
    input: unknown,
    signal?: AbortSignal,
    roleArn?: string,
  ): Promise<Record<string, unknown>> {
    const module = await this.load(service);
    const Command = module[commandClassName(action)] as CommandClass | undefined;
    if (!Command) throw new Error(`no ${commandClassName(action)} for ${service}`);
    return this.client(service, module, roleArn).send(new Command(input), { abortSignal: signal });
  }

  private client(service: string, module: Record<string, unknown>, roleArn?: string): SendingClient {
    const key = `${service} ${roleArn ?? ""}`;
    let client = this.clients.get(key);
    if (!client) {
      const info = SDK_SERVICES[service]!;
      const Client = module[info.clientClass] as ClientClass;
      // One attempt: Step Functions does not retry integration calls itself; the state's Retry
      // does, and hiding throttling behind SDK retries would make Retry untestable.
      client = new Client({ ...this.config(roleArn), maxAttempts: 1 });
      this.clients.set(key, client);
    }
    return client;
  }
}
