import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  CreateTableCommand,
  type DynamoDBClient,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { CreateEventBusCommand, type EventBridgeClient, PutRuleCommand } from "@aws-sdk/client-eventbridge";
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  type IAMClient,
  PutRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { CreateTopicCommand, type SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, SetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { ALL_CLIENT_FACTORIES } from "../../src/aws/client-factories.js";
import type { AwsTarget, ClientFactories } from "../../src/aws/clients.js";
import { pascalName } from "../../src/catalog.js";
import { depsFromEnvironment, type PhoenixDeps } from "../../src/deps.js";
import type { Clock } from "../core/clock.js";
import type { LocalLambdaHandler, StepFunctionsPart } from "../stepfunctions/index.js";
import type { LambdaRuntime } from "./lambda-runtime.js";
import type { AlarmSpec, DeploymentModel, FunctionSpec, QueueSpec, TableIndex, TableSpec } from "./model.js";
import { DeploymentError } from "./model.js";
import { MotoCallError, type MotoTarget, motoJson, motoQuery, motoRest, queryParams } from "./moto-calls.js";

/**
 * Creates what the model says, in moto and in the local runtime, in dependency order: IAM,
 * log groups, tables, topics, queues (then their redrive, policies), functions (in moto, for
 * their configuration; in the Lambda runtime, to run), state machines (the local engine), rules.
 * Event source mappings and rule targets are the runtime's (see index.ts).
 */

export interface Clients {
  iam: IAMClient;
  dynamo: DynamoDBClient;
  sns: SNSClient;
  sqs: SQSClient;
  eventbridge: EventBridgeClient;
}

/** What a test may do to a deployed function: wrap it (observe, stub), given what it is. */
export type FunctionWrapper = (
  fn: FunctionSpec,
  handler: LocalLambdaHandler,
  deps: PhoenixDeps,
) => LocalLambdaHandler;

export interface FunctionDeployOptions {
  root: string;
  /** Where the functions' clients go: the gateway, with the local credentials. */
  target: AwsTarget;
  clock: Clock;
  scope: { region: string; accountId: string };
  wrap?: FunctionWrapper;
  /**
   * The credentials of the function's role, as Lambda gives them to its code (local/iam issues
   * them, and evaluates every call made with them); `target.credentials` when not given.
   */
  credentialsFor?: (fn: FunctionSpec) => AwsTarget["credentials"];
}

export interface LoadedFunction {
  spec: FunctionSpec;
  handler: LocalLambdaHandler;
  deps: PhoenixDeps;
  /** The AWS clients the entry point declares (CLIENTS), as Lambda would bundle them. */
  clients: Partial<ClientFactories>;
  /** The environment the function runs with: the graph's, plus what Lambda's runtime sets. */
  env: Record<string, string>;
}

/** A tiny valid zip (an empty archive): moto keeps a function's code, the local cloud runs the source. */
const EMPTY_ZIP = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==";

/** Runs `tasks` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  });
  await Promise.all(workers);
}

function where(kind: string, name: string, error: unknown): DeploymentError {
  return new DeploymentError(`deploying ${kind} ${name} failed: ${(error as Error).message}`);
}

const tagList = (tags?: Record<string, string>) =>
  tags ? Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) : undefined;

export async function deployIam(model: DeploymentModel, iam: IAMClient): Promise<void> {
  await pool(model.managedPolicies, 8, async (p) => {
    await iam
      .send(
        new CreatePolicyCommand({
          PolicyName: p.name,
          PolicyDocument: p.policy,
          ...(p.path ? { Path: p.path } : {}),
          ...(p.description ? { Description: p.description } : {}),
        }),
      )
      .catch((error: unknown) => {
        throw where("policy", p.name, error);
      });
  });
  await pool(model.roles, 8, async (role) => {
    try {
      await iam.send(
        new CreateRoleCommand({
          RoleName: role.name,
          AssumeRolePolicyDocument: role.assumeRolePolicy,
          ...(role.path ? { Path: role.path } : {}),
          ...(role.description ? { Description: role.description } : {}),
          ...(role.maxSessionDuration ? { MaxSessionDuration: role.maxSessionDuration } : {}),
          ...(role.tags ? { Tags: tagList(role.tags) } : {}),
        }),
      );
      for (const inline of role.inlinePolicies)
        await iam.send(
          new PutRolePolicyCommand({
            RoleName: role.name,
            PolicyName: inline.name,
            PolicyDocument: inline.policy,
          }),
        );
      for (const arn of role.managedPolicyArns)
        await iam.send(new AttachRolePolicyCommand({ RoleName: role.name, PolicyArn: arn }));
    } catch (error) {
      throw where("role", role.name, error);
    }
  });
  for (const p of model.rolePolicies) {
    await iam
      .send(new PutRolePolicyCommand({ RoleName: p.role, PolicyName: p.name, PolicyDocument: p.policy }))
      .catch((error: unknown) => {
        throw where("role policy", p.name, error);
      });
  }
  for (const a of model.rolePolicyAttachments) {
    await iam
      .send(new AttachRolePolicyCommand({ RoleName: a.role, PolicyArn: a.policyArn }))
      .catch((error: unknown) => {
        throw where("role policy attachment", a.resource, error);
      });
  }
  for (const profile of model.instanceProfiles) {
    try {
      await iam.send(
        new CreateInstanceProfileCommand({
          InstanceProfileName: profile.name,
          ...(profile.path ? { Path: profile.path } : {}),
          ...(profile.tags ? { Tags: tagList(profile.tags) } : {}),
        }),
      );
      if (profile.role)
        await iam.send(
          new AddRoleToInstanceProfileCommand({ InstanceProfileName: profile.name, RoleName: profile.role }),
        );
    } catch (error) {
      throw where("instance profile", profile.name, error);
    }
  }
}

export async function deployLogGroups(model: DeploymentModel, moto: MotoTarget): Promise<void> {
  await pool(model.logGroups, 8, async (group) => {
    try {
      await motoJson(moto, "logs", "Logs_20140328", "CreateLogGroup", { logGroupName: group.name }).catch(
        (error: unknown) => {
          // A retried create whose first attempt did land (moto answered 500 after creating it).
          if (!(error instanceof MotoCallError && error.code === "ResourceAlreadyExistsException"))
            throw error;
        },
      );
      if (group.retentionInDays)
        await motoJson(moto, "logs", "Logs_20140328", "PutRetentionPolicy", {
          logGroupName: group.name,
          retentionInDays: group.retentionInDays,
        });
    } catch (error) {
      throw where("log group", group.name, error);
    }
  });
}

function keySchema(hashKey: string, rangeKey?: string) {
  return [
    { AttributeName: hashKey, KeyType: "HASH" as const },
    ...(rangeKey ? [{ AttributeName: rangeKey, KeyType: "RANGE" as const }] : []),
  ];
}

function indexOf(index: TableIndex, table: TableSpec) {
  return {
    IndexName: index.name,
    KeySchema: keySchema(index.hashKey, index.rangeKey),
    Projection: {
      ProjectionType: index.projectionType as "ALL" | "KEYS_ONLY" | "INCLUDE",
      ...(index.nonKeyAttributes ? { NonKeyAttributes: index.nonKeyAttributes } : {}),
    },
    ...(table.billingMode === "PROVISIONED"
      ? {
          ProvisionedThroughput: {
            ReadCapacityUnits: index.readCapacity ?? table.readCapacity ?? 1,
            WriteCapacityUnits: index.writeCapacity ?? table.writeCapacity ?? 1,
          },
        }
      : {}),
  };
}

export async function deployTables(model: DeploymentModel, dynamo: DynamoDBClient): Promise<void> {
  await pool(model.tables, 4, async (table) => {
    try {
      await dynamo.send(
        new CreateTableCommand({
          TableName: table.name,
          AttributeDefinitions: table.attributes.map((a) => ({
            AttributeName: a.name,
            AttributeType: a.type as "S" | "N" | "B",
          })),
          KeySchema: keySchema(table.hashKey, table.rangeKey),
          BillingMode: table.billingMode,
          ...(table.billingMode === "PROVISIONED"
            ? {
                ProvisionedThroughput: {
                  ReadCapacityUnits: table.readCapacity ?? 1,
                  WriteCapacityUnits: table.writeCapacity ?? 1,
                },
              }
            : {}),
          ...(table.globalSecondaryIndexes.length > 0
            ? { GlobalSecondaryIndexes: table.globalSecondaryIndexes.map((i) => indexOf(i, table)) }
            : {}),
          ...(table.localSecondaryIndexes.length > 0
            ? {
                LocalSecondaryIndexes: table.localSecondaryIndexes.map((i) => {
                  const { ProvisionedThroughput: _, ...lsi } = indexOf(i, table);
                  return lsi;
                }),
              }
            : {}),
          ...(table.stream
            ? {
                StreamSpecification: {
                  StreamEnabled: true,
                  StreamViewType: table.stream.viewType as "NEW_AND_OLD_IMAGES",
                },
              }
            : {}),
          ...(table.serverSideEncryption?.enabled
            ? {
                SSESpecification: {
                  Enabled: true,
                  ...(table.serverSideEncryption.kmsKeyArn
                    ? { SSEType: "KMS" as const, KMSMasterKeyId: table.serverSideEncryption.kmsKeyArn }
                    : {}),
                },
              }
            : {}),
          ...(table.deletionProtection ? { DeletionProtectionEnabled: true } : {}),
          ...(table.tags ? { Tags: tagList(table.tags) } : {}),
        }),
      );
      if (table.ttl?.enabled)
        await dynamo.send(
          new UpdateTimeToLiveCommand({
            TableName: table.name,
            TimeToLiveSpecification: { Enabled: true, AttributeName: table.ttl.attributeName },
          }),
        );
      if (table.pointInTimeRecovery)
        await dynamo.send(
          new UpdateContinuousBackupsCommand({
            TableName: table.name,
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          }),
        );
    } catch (error) {
      throw where("table", table.name, error);
    }
  });
}

export async function deployTopics(model: DeploymentModel, sns: SNSClient): Promise<void> {
  for (const topic of model.topics) {
    await sns
      .send(
        new CreateTopicCommand({
          Name: topic.name,
          ...(Object.keys(topic.attributes).length > 0 ? { Attributes: topic.attributes } : {}),
          ...(topic.tags ? { Tags: tagList(topic.tags) } : {}),
        }),
      )
      .catch((error: unknown) => {
        throw where("topic", topic.name, error);
      });
  }
  for (const s of model.subscriptions) {
    await sns
      .send(
        new SubscribeCommand({
          TopicArn: s.topicArn,
          Protocol: s.protocol,
          Endpoint: s.endpoint,
          ...(Object.keys(s.attributes).length > 0 ? { Attributes: s.attributes } : {}),
        }),
      )
      .catch((error: unknown) => {
        throw where("subscription", s.resource, error);
      });
  }
}

// Set once every queue exists: a redrive policy names its DLQ, a policy may name other queues.
const LATER_ATTRIBUTES = ["RedrivePolicy", "RedriveAllowPolicy", "Policy"];

/** Creates the queues; returns their URLs by name. */
export async function deployQueues(model: DeploymentModel, sqs: SQSClient): Promise<Map<string, string>> {
  const urls = new Map<string, string>();
  const create = async (queue: QueueSpec) => {
    const attributes = Object.fromEntries(
      Object.entries(queue.attributes).filter(([key]) => !LATER_ATTRIBUTES.includes(key)),
    );
    try {
      const { QueueUrl } = await sqs.send(
        new CreateQueueCommand({
          QueueName: queue.name,
          ...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}),
          ...(queue.tags ? { tags: queue.tags } : {}),
        }),
      );
      if (!QueueUrl) throw new Error("CreateQueue returned no QueueUrl");
      urls.set(queue.name, QueueUrl);
    } catch (error) {
      throw where("queue", queue.name, error);
    }
  };
  await pool(model.queues, 8, create);
  const set = async (queue: string, attributes: Record<string, string>, kind: string) => {
    const url = urls.get(queue);
    if (!url) throw new DeploymentError(`${kind} names queue ${queue}, which the graph does not create`);
    await sqs
      .send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }))
      .catch((error: unknown) => {
        throw where(kind, queue, error);
      });
  };
  for (const queue of model.queues) {
    const later = Object.fromEntries(
      Object.entries(queue.attributes).filter(([key]) => LATER_ATTRIBUTES.includes(key)),
    );
    if (Object.keys(later).length > 0) await set(queue.name, later, "queue");
  }
  for (const p of model.queuePolicies)
    await set(p.queue, { Policy: p.policy }, `queue policy ${p.resource} on`);
  for (const p of model.redriveAllowPolicies)
    await set(p.queue, { RedriveAllowPolicy: p.policy }, `redrive allow policy ${p.resource} on`);
  return urls;
}

/** The module file of a handler (`functions/on-finding.handler` → functions/on-finding.ts). */
export function handlerModule(root: string, handler: string): { file: string; exportName: string } {
  const dot = handler.lastIndexOf(".");
  const base = handler.slice(0, dot);
  const exportName = handler.slice(dot + 1);
  for (const ext of [".ts", ".mts", ".js", ".mjs"]) {
    const file = join(root, `${base}${ext}`);
    if (existsSync(file)) return { file, exportName };
  }
  throw new DeploymentError(`handler ${handler}: no ${base}.ts (or .js) in ${root}`);
}

/**
 * Loads a function's code and builds its handler as Lambda would on a cold start, but with the
 * factory its entry point exports for that (`create<Name>Handler(deps)`): deps from the
 * function's own environment (src/deps.ts depsFromEnvironment), with the clients its entry point
 * declares, pointed at the local cloud. (Its `handler` export would read process.env, which all
 * functions share in one process.)
 */
export async function loadFunction(
  spec: FunctionSpec,
  options: FunctionDeployOptions,
): Promise<LoadedFunction> {
  const { file } = handlerModule(options.root, spec.handler);
  // A computed URL, so that no bundler tries to resolve it ahead of time.
  const module = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as Record<string, unknown>;
  const factoryName = `create${pascalName(basename(file).replace(/\.[^.]+$/, ""))}Handler`;
  const factory = module[factoryName];
  if (typeof factory !== "function")
    throw new DeploymentError(
      `${spec.name}: ${file} does not export ${factoryName}(deps), which the local cloud calls with the deps it builds from the function's environment`,
    );
  const clients = (module.CLIENTS as Partial<ClientFactories> | undefined) ?? ALL_CLIENT_FACTORIES;
  const env: Record<string, string> = {
    ...spec.environment,
    AWS_REGION: options.scope.region,
    AWS_DEFAULT_REGION: options.scope.region,
    AWS_LAMBDA_FUNCTION_NAME: spec.name,
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: spec.logGroup,
    ...(spec.runtime ? { AWS_EXECUTION_ENV: `AWS_Lambda_${spec.runtime}` } : {}),
    ...(options.target.endpoint ? { AWS_ENDPOINT_URL: options.target.endpoint } : {}),
  };
  const credentials = options.credentialsFor?.(spec);
  const target = credentials ? { ...options.target, credentials } : options.target;
  if (credentials) {
    env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    if (credentials.sessionToken) env.AWS_SESSION_TOKEN = credentials.sessionToken;
  }
  let deps: PhoenixDeps;
  try {
    deps = depsFromEnvironment(clients, env, {
      target,
      now: () => new Date(options.clock.now()),
    });
  } catch (error) {
    throw new DeploymentError(
      `${spec.name}: its environment does not configure Phoenix: ${(error as Error).message}`,
    );
  }
  const built = (factory as (deps: PhoenixDeps) => LocalLambdaHandler)(deps);
  const handler = options.wrap ? options.wrap(spec, built, deps) : built;
  return { spec, handler, deps, clients, env };
}

/** The functions' configuration in moto (so `aws lambda get-function-configuration` says what the graph says). */
export async function deployFunctionsToMoto(model: DeploymentModel, moto: MotoTarget): Promise<void> {
  await pool(model.functions, 6, async (fn) => {
    try {
      await motoRest(moto, "lambda", "POST", "/2015-03-31/functions", {
        FunctionName: fn.name,
        Runtime: fn.runtime ?? "nodejs22.x",
        Role: fn.role ?? `arn:aws:iam::${model.scope.accountId}:role/missing`,
        Handler: fn.handler,
        Code: { ZipFile: EMPTY_ZIP },
        Description: fn.description ?? "",
        Timeout: fn.timeoutSeconds,
        MemorySize: fn.memoryMb,
        Publish: false,
        PackageType: "Zip",
        Environment: { Variables: fn.environment },
        ...(fn.architectures ? { Architectures: fn.architectures } : {}),
        ...(fn.ephemeralStorageMb ? { EphemeralStorage: { Size: fn.ephemeralStorageMb } } : {}),
        ...(fn.deadLetterTargetArn ? { DeadLetterConfig: { TargetArn: fn.deadLetterTargetArn } } : {}),
        LoggingConfig: { LogFormat: "JSON", LogGroup: fn.logGroup },
        ...(fn.tags ? { Tags: fn.tags } : {}),
      });
      if (fn.reservedConcurrency !== undefined)
        await motoRest(
          moto,
          "lambda",
          "PUT",
          `/2017-10-31/functions/${encodeURIComponent(fn.name)}/concurrency`,
          {
            ReservedConcurrentExecutions: fn.reservedConcurrency,
          },
        );
    } catch (error) {
      throw where("function", fn.name, error);
    }
  });
  for (const p of model.permissions) {
    await motoRest(
      moto,
      "lambda",
      "POST",
      `/2015-03-31/functions/${encodeURIComponent(p.functionName)}/policy`,
      {
        StatementId: p.statementId,
        Action: p.action,
        Principal: p.principal,
        ...(p.sourceArn ? { SourceArn: p.sourceArn } : {}),
        ...(p.sourceAccount ? { SourceAccount: p.sourceAccount } : {}),
      },
    ).catch((error: unknown) => {
      throw where("permission", p.resource, error);
    });
  }
  for (const c of model.invokeConfigs) {
    await motoRest(
      moto,
      "lambda",
      "PUT",
      `/2019-09-25/functions/${encodeURIComponent(c.functionName)}/event-invoke-config`,
      {
        MaximumRetryAttempts: c.maximumRetryAttempts,
        MaximumEventAgeInSeconds: c.maximumEventAgeInSeconds,
        ...(c.onFailure || c.onSuccess
          ? {
              DestinationConfig: {
                ...(c.onFailure ? { OnFailure: { Destination: c.onFailure } } : {}),
                ...(c.onSuccess ? { OnSuccess: { Destination: c.onSuccess } } : {}),
              },
            }
          : {}),
      },
    ).catch((error: unknown) => {
      throw where("event invoke config", c.resource, error);
    });
  }
}

/** Registers the loaded functions with the runtime (and its configuration for each). */
export function registerFunctions(
  model: DeploymentModel,
  loaded: LoadedFunction[],
  lambda: LambdaRuntime,
): void {
  for (const fn of loaded) {
    const invokeConfig = model.invokeConfigs.find((c) => c.functionName === fn.spec.name && !c.qualifier);
    lambda.register({
      spec: fn.spec,
      handler: fn.handler,
      ...(invokeConfig ? { invokeConfig } : {}),
      permissions: model.permissions.filter((p) => p.functionName === fn.spec.name),
    });
  }
  for (const c of model.invokeConfigs)
    if (!lambda.get(c.functionName))
      throw new DeploymentError(
        `event invoke config ${c.resource} names ${c.functionName}, which the graph does not create`,
      );
}

/** The state machines, in the local Step Functions engine, their tasks run by the Lambda runtime. */
export async function deployStateMachines(
  model: DeploymentModel,
  stepFunctions: StepFunctionsPart,
  lambda: LambdaRuntime,
): Promise<void> {
  for (const fn of lambda.list()) stepFunctions.functions[fn.spec.name] = lambda.handlerOf(fn.spec.name);
  for (const machine of model.stateMachines) {
    try {
      await stepFunctions.service.createStateMachine({
        name: machine.name,
        definition: machine.definition,
        roleArn: machine.roleArn,
        type: machine.type,
        ...(machine.tags
          ? { tags: Object.entries(machine.tags).map(([key, value]) => ({ key, value })) }
          : {}),
      });
    } catch (error) {
      throw where("state machine", machine.name, error);
    }
  }
}

export async function deployRules(model: DeploymentModel, eventbridge: EventBridgeClient): Promise<void> {
  const buses = [...new Set(model.rules.map((r) => r.bus))].filter((bus) => bus !== "default");
  for (const bus of buses)
    await eventbridge.send(new CreateEventBusCommand({ Name: bus })).catch((error: unknown) => {
      throw where("event bus", bus, error);
    });
  await pool(model.rules, 8, async (rule) => {
    await eventbridge
      .send(
        new PutRuleCommand({
          Name: rule.name,
          ...(rule.bus !== "default" ? { EventBusName: rule.bus } : {}),
          ...(rule.pattern ? { EventPattern: rule.pattern } : {}),
          ...(rule.schedule ? { ScheduleExpression: rule.schedule } : {}),
          ...(rule.description ? { Description: rule.description } : {}),
          State: rule.state,
          ...(rule.roleArn ? { RoleArn: rule.roleArn } : {}),
          ...(rule.tags ? { Tags: tagList(rule.tags) } : {}),
        }),
      )
      .catch((error: unknown) => {
        throw where("rule", rule.name, error);
      });
  });
}

function alarmParams(alarm: AlarmSpec): Record<string, string> {
  const i = alarm.inputs;
  const dims =
    i.dimensions && typeof i.dimensions === "object" ? (i.dimensions as Record<string, unknown>) : {};
  const pick = (key: string) => (i[key] === undefined ? undefined : i[key]);
  return queryParams({
    AlarmName: alarm.name,
    AlarmDescription: pick("alarmDescription"),
    ActionsEnabled: pick("actionsEnabled"),
    AlarmActions: pick("alarmActions"),
    OKActions: pick("okActions"),
    InsufficientDataActions: pick("insufficientDataActions"),
    MetricName: pick("metricName"),
    Namespace: pick("namespace"),
    Statistic: pick("statistic"),
    ExtendedStatistic: pick("extendedStatistic"),
    Dimensions: Object.entries(dims).map(([Name, Value]) => ({ Name, Value: String(Value) })),
    Period: pick("period"),
    Unit: pick("unit"),
    EvaluationPeriods: pick("evaluationPeriods"),
    DatapointsToAlarm: pick("datapointsToAlarm"),
    Threshold: pick("threshold"),
    ComparisonOperator: pick("comparisonOperator"),
    TreatMissingData: pick("treatMissingData"),
  });
}

export async function deployAlarms(model: DeploymentModel, moto: MotoTarget): Promise<void> {
  await pool(model.alarms, 8, async (alarm) => {
    if (alarm.inputs.metricQueries !== undefined) return; // metric math: kept in the graph only
    await motoQuery(moto, "monitoring", "2010-08-01", "PutMetricAlarm", alarmParams(alarm)).catch(
      (error: unknown) => {
        throw where("alarm", alarm.name, error);
      },
    );
  });
}
