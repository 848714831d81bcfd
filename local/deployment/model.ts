import { createHash } from "node:crypto";
import type { SynthGraph, SynthResource } from "../../build/synth/graph.js";

/**
 * The resource graph (build/synth/graph.ts) read as what the local cloud deploys: one typed spec
 * per resource, references between resources by the names AWS would resolve them to. Pure: no
 * AWS, no I/O, so every mapping from a Pulumi input to an AWS setting is tested on its own.
 *
 * The defaults are AWS's (and the Pulumi AWS provider's) where the graph leaves a setting out: a
 * function times out after 3 s with 128 MB, a queue hides a received message for 30 s, an
 * EventBridge target retries 185 times for 24 h, Lambda retries an asynchronous invocation twice.
 */

export interface Scope {
  region: string;
  accountId: string;
}

export interface FunctionSpec {
  resource: string;
  name: string;
  arn: string;
  /** `functions/on-finding.handler`: file (without extension) and export. */
  handler: string;
  runtime?: string;
  role?: string;
  timeoutSeconds: number;
  memoryMb: number;
  environment: Record<string, string>;
  reservedConcurrency?: number;
  architectures?: string[];
  description?: string;
  deadLetterTargetArn?: string;
  logGroup: string;
  ephemeralStorageMb?: number;
  tags?: Record<string, string>;
}

export interface RoleSpec {
  resource: string;
  name: string;
  arn: string;
  path?: string;
  assumeRolePolicy: string;
  description?: string;
  maxSessionDuration?: number;
  inlinePolicies: { name: string; policy: string }[];
  managedPolicyArns: string[];
  tags?: Record<string, string>;
}

export interface RolePolicySpec {
  resource: string;
  role: string;
  name: string;
  policy: string;
}

export interface RolePolicyAttachmentSpec {
  resource: string;
  role: string;
  policyArn: string;
}

export interface ManagedPolicySpec {
  resource: string;
  name: string;
  arn: string;
  path?: string;
  description?: string;
  policy: string;
}

export interface InstanceProfileSpec {
  resource: string;
  name: string;
  path?: string;
  role?: string;
  tags?: Record<string, string>;
}

export interface RedrivePolicy {
  deadLetterTargetArn: string;
  maxReceiveCount: number;
}

export interface QueueSpec {
  resource: string;
  name: string;
  arn: string;
  /** SQS attributes as CreateQueue/SetQueueAttributes take them (RedrivePolicy and Policy too). */
  attributes: Record<string, string>;
  visibilityTimeoutSeconds: number;
  redrive?: RedrivePolicy;
  tags?: Record<string, string>;
}

export interface QueuePolicySpec {
  resource: string;
  queue: string;
  policy: string;
}

export interface RedriveAllowPolicySpec {
  resource: string;
  queue: string;
  policy: string;
}

export interface RuleSpec {
  resource: string;
  name: string;
  arn: string;
  bus: string;
  pattern?: string;
  schedule?: string;
  description?: string;
  state: "ENABLED" | "DISABLED";
  roleArn?: string;
  tags?: Record<string, string>;
}

export interface RetryPolicy {
  maximumRetryAttempts: number;
  maximumEventAgeInSeconds: number;
}

export interface InputTransformer {
  inputPathsMap: Record<string, string>;
  inputTemplate: string;
}

export interface TargetSpec {
  resource: string;
  rule: string;
  bus: string;
  id: string;
  arn: string;
  /** As the graph says it (undefined: AWS's default applies, see `effectiveRetryPolicy`). */
  retryPolicy?: RetryPolicy;
  deadLetterArn?: string;
  input?: string;
  inputPath?: string;
  inputTransformer?: InputTransformer;
  roleArn?: string;
  messageGroupId?: string;
}

export interface EventSourceMappingSpec {
  resource: string;
  /** Stable across starts of the same graph: derived from the resource's logical name. */
  uuid: string;
  functionName: string;
  eventSourceArn: string;
  batchSize: number;
  maximumBatchingWindowInSeconds: number;
  functionResponseTypes: string[];
  enabled: boolean;
  maximumConcurrency?: number;
}

export interface InvokeConfigSpec {
  resource: string;
  functionName: string;
  qualifier?: string;
  maximumRetryAttempts: number;
  maximumEventAgeInSeconds: number;
  onFailure?: string;
  onSuccess?: string;
}

export interface PermissionSpec {
  resource: string;
  functionName: string;
  statementId: string;
  action: string;
  principal: string;
  sourceArn?: string;
  sourceAccount?: string;
  qualifier?: string;
}

export interface TableIndex {
  name: string;
  hashKey: string;
  rangeKey?: string;
  projectionType: string;
  nonKeyAttributes?: string[];
  readCapacity?: number;
  writeCapacity?: number;
}

export interface TableSpec {
  resource: string;
  name: string;
  arn: string;
  hashKey: string;
  rangeKey?: string;
  attributes: { name: string; type: string }[];
  billingMode: "PAY_PER_REQUEST" | "PROVISIONED";
  readCapacity?: number;
  writeCapacity?: number;
  globalSecondaryIndexes: TableIndex[];
  localSecondaryIndexes: TableIndex[];
  ttl?: { attributeName: string; enabled: boolean };
  stream?: { viewType: string };
  pointInTimeRecovery: boolean;
  serverSideEncryption?: { enabled: boolean; kmsKeyArn?: string };
  deletionProtection: boolean;
  tags?: Record<string, string>;
}

export interface TopicSpec {
  resource: string;
  name: string;
  arn: string;
  attributes: Record<string, string>;
  tags?: Record<string, string>;
}

export interface SubscriptionSpec {
  resource: string;
  topicArn: string;
  protocol: string;
  endpoint: string;
  attributes: Record<string, string>;
}

export interface StateMachineSpec {
  resource: string;
  name: string;
  arn: string;
  definition: string;
  roleArn: string;
  type: "STANDARD" | "EXPRESS";
  tags?: Record<string, string>;
}

export interface LogGroupSpec {
  resource: string;
  name: string;
  retentionInDays?: number;
}

export interface AlarmSpec {
  resource: string;
  name: string;
  inputs: Record<string, unknown>;
}

/** A resource of the graph the local cloud does not create, and why. */
export interface SkippedResource {
  type: string;
  name: string;
  reason: string;
}

export interface DeploymentModel {
  stage: string;
  scope: Scope;
  roles: RoleSpec[];
  rolePolicies: RolePolicySpec[];
  managedPolicies: ManagedPolicySpec[];
  rolePolicyAttachments: RolePolicyAttachmentSpec[];
  instanceProfiles: InstanceProfileSpec[];
  tables: TableSpec[];
  topics: TopicSpec[];
  subscriptions: SubscriptionSpec[];
  queues: QueueSpec[];
  queuePolicies: QueuePolicySpec[];
  redriveAllowPolicies: RedriveAllowPolicySpec[];
  logGroups: LogGroupSpec[];
  functions: FunctionSpec[];
  permissions: PermissionSpec[];
  invokeConfigs: InvokeConfigSpec[];
  eventSourceMappings: EventSourceMappingSpec[];
  rules: RuleSpec[];
  targets: TargetSpec[];
  stateMachines: StateMachineSpec[];
  alarms: AlarmSpec[];
  skipped: SkippedResource[];
}

export class DeploymentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeploymentError";
  }
}

/** EventBridge's defaults for a target without a retry policy (AWS: 185 attempts, 24 hours). */
export const DEFAULT_TARGET_RETRY: RetryPolicy = {
  maximumRetryAttempts: 185,
  maximumEventAgeInSeconds: 86_400,
};
/** Lambda's defaults for asynchronous invocation (AWS: two retries, events kept six hours). */
export const DEFAULT_ASYNC_RETRIES = 2;
export const DEFAULT_ASYNC_MAX_AGE_SECONDS = 21_600;
/** AWS caps a function's environment (keys and values) at 4 KB. */
export const MAX_ENVIRONMENT_BYTES = 4096;

export function effectiveRetryPolicy(target: Pick<TargetSpec, "retryPolicy">): RetryPolicy {
  return target.retryPolicy ?? DEFAULT_TARGET_RETRY;
}

/** Types that exist only at deploy time (assets, SST's own bookkeeping): nothing to create locally. */
const DEPLOY_TIME_ONLY: Record<string, string> = {
  "aws:s3/bucketObjectv2:BucketObjectv2":
    "a code asset: the local cloud runs the function's source in-process",
  "aws:s3/bucketObject:BucketObject": "a code asset: the local cloud runs the function's source in-process",
  "random:index/randomBytes:RandomBytes": "deploy-time randomness (the values are already in the graph)",
  "random:index/randomString:RandomString": "deploy-time randomness (the values are already in the graph)",
};

const str = (inputs: Record<string, unknown>, key: string): string | undefined =>
  typeof inputs[key] === "string" && inputs[key] !== "" ? (inputs[key] as string) : undefined;

const num = (inputs: Record<string, unknown>, key: string): number | undefined =>
  typeof inputs[key] === "number" && Number.isFinite(inputs[key]) ? (inputs[key] as number) : undefined;

const bool = (inputs: Record<string, unknown>, key: string): boolean | undefined =>
  typeof inputs[key] === "boolean" ? (inputs[key] as boolean) : undefined;

const obj = (value: unknown): Record<string, unknown> | undefined =>
  value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];

function tagsOf(inputs: Record<string, unknown>): Record<string, string> | undefined {
  const tags = obj(inputs.tags);
  if (!tags) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) if (typeof value === "string") out[key] = value;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The physical name, as the synth mocks (and AWS) name it: the `name` input, else the logical name. */
const physical = (r: SynthResource): string => str(r.inputs, "name") ?? r.name;

/** A JSON document input: Pulumi takes either the JSON text or the object. */
function documentOf(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "") return value;
  if (obj(value) || Array.isArray(value)) return JSON.stringify(value);
  return undefined;
}

/** The last segment of an SQS queue URL or ARN: the queue's name. */
export function queueNameOf(reference: string): string {
  return reference.split(/[:/]/).filter(Boolean).pop() ?? reference;
}

/** A Lambda function's name from a name, a partial or full ARN (qualifier dropped). */
export function functionNameOf(reference: string): string {
  const arn = /^(?:arn:aws[\w-]*:lambda:[\w-]+:)?\d{12}:function:([^:]+)(?::[^:]+)?$/.exec(reference);
  if (arn?.[1]) return arn[1];
  return reference.split(":")[0] ?? reference;
}

/** A role's name from its name or ARN (`arn:aws:iam::123456789012:role/path/name`). */
export function roleNameOf(reference: string): string {
  return reference.startsWith("arn:") ? (reference.split("/").pop() ?? reference) : reference;
}

export const arnService = (arn: string): string | undefined => /^arn:aws[\w-]*:([^:]+):/.exec(arn)?.[1];

/** A stable UUID for an event source mapping (AWS generates one at creation). */
export function mappingUuid(stage: string, resource: string): string {
  const h = createHash("sha256").update(`${stage}/${resource}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** What the local cloud deploys for a graph, or a DeploymentError naming what it cannot. */
export function deploymentModel(graph: SynthGraph, scope: Scope): DeploymentModel {
  const { region, accountId } = scope;
  const arn = (service: string, resource: string, inRegion = true) =>
    `arn:aws:${service}:${inRegion ? region : ""}:${accountId}:${resource}`;
  const model: DeploymentModel = {
    stage: graph.stage,
    scope,
    roles: [],
    rolePolicies: [],
    managedPolicies: [],
    rolePolicyAttachments: [],
    instanceProfiles: [],
    tables: [],
    topics: [],
    subscriptions: [],
    queues: [],
    queuePolicies: [],
    redriveAllowPolicies: [],
    logGroups: [],
    functions: [],
    permissions: [],
    invokeConfigs: [],
    eventSourceMappings: [],
    rules: [],
    targets: [],
    stateMachines: [],
    alarms: [],
    skipped: [],
  };
  const problems: string[] = [];
  const where = (r: SynthResource) => `${r.type} ${r.name}`;

  for (const r of graph.resources) {
    const i = r.inputs;
    switch (r.type) {
      case "aws:iam/role:Role": {
        const name = physical(r);
        const assumeRolePolicy = documentOf(i.assumeRolePolicy);
        if (!assumeRolePolicy) {
          problems.push(`${where(r)}: no assumeRolePolicy`);
          break;
        }
        const path = str(i, "path");
        model.roles.push({
          resource: r.name,
          name,
          arn: `arn:aws:iam::${accountId}:role${path ?? "/"}${name}`,
          ...(path ? { path } : {}),
          assumeRolePolicy,
          ...(str(i, "description") ? { description: str(i, "description") } : {}),
          ...(num(i, "maxSessionDuration") ? { maxSessionDuration: num(i, "maxSessionDuration") } : {}),
          inlinePolicies: (Array.isArray(i.inlinePolicies) ? i.inlinePolicies : []).flatMap((p, n) => {
            const policy = documentOf(obj(p)?.policy);
            if (!policy) return [];
            return [{ name: str(obj(p) ?? {}, "name") ?? `${r.name}-inline-${n}`, policy }];
          }),
          managedPolicyArns: strings(i.managedPolicyArns),
          ...(tagsOf(i) ? { tags: tagsOf(i) } : {}),
        });
        break;
      }
      case "aws:iam/rolePolicy:RolePolicy": {
        const role = str(i, "role");
        const policy = documentOf(i.policy);
        if (!role || !policy) {
          problems.push(`${where(r)}: needs role and policy`);
          break;
        }
        model.rolePolicies.push({ resource: r.name, role: roleNameOf(role), name: physical(r), policy });
        break;
      }
      case "aws:iam/policy:Policy": {
        const policy = documentOf(i.policy);
        if (!policy) {
          problems.push(`${where(r)}: no policy`);
          break;
        }
        const name = physical(r);
        const path = str(i, "path");
        model.managedPolicies.push({
          resource: r.name,
          name,
          arn: `arn:aws:iam::${accountId}:policy${path ?? "/"}${name}`,
          ...(path ? { path } : {}),
          ...(str(i, "description") ? { description: str(i, "description") } : {}),
          policy,
        });
        break;
      }
      case "aws:iam/rolePolicyAttachment:RolePolicyAttachment": {
        const role = str(i, "role");
        const policyArn = str(i, "policyArn");
        if (!role || !policyArn) {
          problems.push(`${where(r)}: needs role and policyArn`);
          break;
        }
        model.rolePolicyAttachments.push({ resource: r.name, role: roleNameOf(role), policyArn });
        break;
      }
      case "aws:iam/instanceProfile:InstanceProfile": {
        const role = str(i, "role");
        model.instanceProfiles.push({
          resource: r.name,
          name: physical(r),
          ...(str(i, "path") ? { path: str(i, "path") } : {}),
          ...(role ? { role: roleNameOf(role) } : {}),
          ...(tagsOf(i) ? { tags: tagsOf(i) } : {}),
        });
        break;
      }
      case "aws:dynamodb/table:Table":
        model.tables.push(tableOf(r, arn, problems));
        break;
      case "aws:sns/topic:Topic": {
        const name = physical(r);
        const attributes: Record<string, string> = {};
        if (bool(i, "fifoTopic")) attributes.FifoTopic = "true";
        if (bool(i, "contentBasedDeduplication")) attributes.ContentBasedDeduplication = "true";
        if (str(i, "displayName")) attributes.DisplayName = str(i, "displayName")!;
        if (str(i, "kmsMasterKeyId")) attributes.KmsMasterKeyId = str(i, "kmsMasterKeyId")!;
        if (documentOf(i.policy)) attributes.Policy = documentOf(i.policy)!;
        model.topics.push({
          resource: r.name,
          name,
          arn: arn("sns", name),
          attributes,
          ...(tagsOf(i) ? { tags: tagsOf(i) } : {}),
        });
        break;
      }
      case "aws:sns/topicSubscription:TopicSubscription": {
        const topic = str(i, "topic");
        const protocol = str(i, "protocol");
        const endpoint = str(i, "endpoint");
        if (!topic || !protocol || !endpoint) {
          problems.push(`${where(r)}: needs topic, protocol and endpoint`);
          break;
        }
        const attributes: Record<string, string> = {};
        if (bool(i, "rawMessageDelivery")) attributes.RawMessageDelivery = "true";
        if (documentOf(i.filterPolicy)) attributes.FilterPolicy = documentOf(i.filterPolicy)!;
        model.subscriptions.push({ resource: r.name, topicArn: topic, protocol, endpoint, attributes });
        break;
      }
      case "aws:sqs/queue:Queue":
        model.queues.push(queueOf(r, arn, problems));
        break;
      case "aws:sqs/queuePolicy:QueuePolicy": {
        const queueUrl = str(i, "queueUrl");
        const policy = documentOf(i.policy);
        if (!queueUrl || !policy) {
          problems.push(`${where(r)}: needs queueUrl and policy`);
          break;
        }
        model.queuePolicies.push({ resource: r.name, queue: queueNameOf(queueUrl), policy });
        break;
      }
      case "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": {
        const queueUrl = str(i, "queueUrl");
        const policy = documentOf(i.redriveAllowPolicy);
        if (!queueUrl || !policy) {
          problems.push(`${where(r)}: needs queueUrl and redriveAllowPolicy`);
          break;
        }
        model.redriveAllowPolicies.push({ resource: r.name, queue: queueNameOf(queueUrl), policy });
        break;
      }
      case "aws:sqs/redrivePolicy:RedrivePolicy": {
        const queueUrl = str(i, "queueUrl");
        const policy = documentOf(i.redrivePolicy);
        const queue = model.queues.find((q) => q.name === (queueUrl && queueNameOf(queueUrl)));
        if (!queue || !policy) {
          problems.push(`${where(r)}: needs the queueUrl of a queue declared before it, and redrivePolicy`);
          break;
        }
        queue.attributes.RedrivePolicy = policy;
        queue.redrive = redriveOf(policy, r, problems);
        break;
      }
      case "aws:cloudwatch/logGroup:LogGroup": {
        const retention = num(i, "retentionInDays");
        model.logGroups.push({
          resource: r.name,
          name: physical(r),
          ...(retention ? { retentionInDays: retention } : {}),
        });
        break;
      }
      case "aws:cloudwatch/metricAlarm:MetricAlarm":
        model.alarms.push({ resource: r.name, name: physical(r), inputs: i });
        break;
      case "aws:lambda/function:Function":
        model.functions.push(functionOf(r, arn, problems));
        break;
      case "aws:lambda/permission:Permission": {
        const fn = str(i, "function");
        const principal = str(i, "principal");
        if (!fn || !principal) {
          problems.push(`${where(r)}: needs function and principal`);
          break;
        }
        model.permissions.push({
          resource: r.name,
          functionName: functionNameOf(fn),
          statementId: str(i, "statementId") ?? r.name,
          action: str(i, "action") ?? "lambda:InvokeFunction",
          principal,
          ...(str(i, "sourceArn") ? { sourceArn: str(i, "sourceArn") } : {}),
          ...(str(i, "sourceAccount") ? { sourceAccount: str(i, "sourceAccount") } : {}),
          ...(str(i, "qualifier") ? { qualifier: str(i, "qualifier") } : {}),
        });
        break;
      }
      case "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": {
        const fn = str(i, "functionName");
        if (!fn) {
          problems.push(`${where(r)}: no functionName`);
          break;
        }
        const destinations = obj(i.destinationConfig) ?? {};
        const retries = num(i, "maximumRetryAttempts") ?? DEFAULT_ASYNC_RETRIES;
        const maxAge = num(i, "maximumEventAgeInSeconds") ?? DEFAULT_ASYNC_MAX_AGE_SECONDS;
        if (retries < 0 || retries > 2)
          problems.push(`${where(r)}: maximumRetryAttempts ${retries} is not 0 to 2`);
        if (maxAge < 60 || maxAge > 21_600)
          problems.push(`${where(r)}: maximumEventAgeInSeconds ${maxAge} is not 60 to 21600`);
        const onFailure = str(obj(destinations.onFailure) ?? {}, "destination");
        const onSuccess = str(obj(destinations.onSuccess) ?? {}, "destination");
        model.invokeConfigs.push({
          resource: r.name,
          functionName: functionNameOf(fn),
          ...(str(i, "qualifier") ? { qualifier: str(i, "qualifier") } : {}),
          maximumRetryAttempts: retries,
          maximumEventAgeInSeconds: maxAge,
          ...(onFailure ? { onFailure } : {}),
          ...(onSuccess ? { onSuccess } : {}),
        });
        break;
      }
      case "aws:lambda/eventSourceMapping:EventSourceMapping": {
        const fn = str(i, "functionName");
        const source = str(i, "eventSourceArn");
        if (!fn || !source) {
          problems.push(`${where(r)}: needs functionName and eventSourceArn`);
          break;
        }
        if (arnService(source) !== "sqs") {
          problems.push(`${where(r)}: the local cloud polls SQS event sources only, not ${source}`);
          break;
        }
        const batchSize = num(i, "batchSize") ?? 10;
        const window = num(i, "maximumBatchingWindowInSeconds") ?? 0;
        if (batchSize < 1 || batchSize > 10_000)
          problems.push(`${where(r)}: batchSize ${batchSize} is not 1 to 10000`);
        if (batchSize > 10 && window < 1)
          problems.push(
            `${where(r)}: a batchSize over 10 needs maximumBatchingWindowInSeconds of at least 1 (SQS)`,
          );
        if (window < 0 || window > 300)
          problems.push(`${where(r)}: maximumBatchingWindowInSeconds ${window} is not 0 to 300`);
        const concurrency = num(obj(i.scalingConfig) ?? {}, "maximumConcurrency");
        model.eventSourceMappings.push({
          resource: r.name,
          uuid: mappingUuid(graph.stage, r.name),
          functionName: functionNameOf(fn),
          eventSourceArn: source,
          batchSize,
          maximumBatchingWindowInSeconds: window,
          functionResponseTypes: strings(i.functionResponseTypes),
          enabled: bool(i, "enabled") ?? true,
          ...(concurrency !== undefined ? { maximumConcurrency: concurrency } : {}),
        });
        break;
      }
      case "aws:cloudwatch/eventRule:EventRule": {
        const name = physical(r);
        const bus = str(i, "eventBusName") ?? "default";
        const pattern = str(i, "eventPattern");
        const schedule = str(i, "scheduleExpression");
        if (!pattern && !schedule) {
          problems.push(`${where(r)}: needs eventPattern or scheduleExpression`);
          break;
        }
        if (pattern) {
          try {
            JSON.parse(pattern);
          } catch (error) {
            problems.push(`${where(r)}: eventPattern is not JSON: ${(error as Error).message}`);
          }
        }
        const state = str(i, "state") ?? (bool(i, "isEnabled") === false ? "DISABLED" : "ENABLED");
        model.rules.push({
          resource: r.name,
          name,
          arn: arn("events", bus === "default" ? `rule/${name}` : `rule/${bus}/${name}`),
          bus,
          ...(pattern ? { pattern } : {}),
          ...(schedule ? { schedule } : {}),
          ...(str(i, "description") ? { description: str(i, "description") } : {}),
          state: state === "DISABLED" ? "DISABLED" : "ENABLED",
          ...(str(i, "roleArn") ? { roleArn: str(i, "roleArn") } : {}),
          ...(tagsOf(i) ? { tags: tagsOf(i) } : {}),
        });
        break;
      }
      case "aws:cloudwatch/eventTarget:EventTarget":
        model.targets.push(targetOf(r, problems));
        break;
      case "aws:sfn/stateMachine:StateMachine": {
        const name = physical(r);
        const definition = documentOf(i.definition);
        const roleArn = str(i, "roleArn");
        if (!definition || !roleArn) {
          problems.push(`${where(r)}: needs definition and roleArn`);
          break;
        }
        model.stateMachines.push({
          resource: r.name,
          name,
          arn: arn("states", `stateMachine:${name}`),
          definition,
          roleArn,
          type: str(i, "type") === "EXPRESS" ? "EXPRESS" : "STANDARD",
          ...(tagsOf(i) ? { tags: tagsOf(i) } : {}),
        });
        break;
      }
      default: {
        const reason =
          DEPLOY_TIME_ONLY[r.type] ??
          (r.type.startsWith("sst:") || r.type.startsWith("pulumi:")
            ? "a component: its children are in the graph and deployed"
            : "no local emulation of this type yet");
        model.skipped.push({ type: r.type, name: r.name, reason });
      }
    }
  }
  // Each target names a rule of the graph, on the same bus.
  for (const target of model.targets) {
    if (!model.rules.some((rule) => rule.name === target.rule && rule.bus === target.bus))
      problems.push(`target ${target.resource}: rule ${target.rule} is not in the graph`);
  }
  if (problems.length > 0)
    throw new DeploymentError(
      `the graph of stage ${graph.stage} cannot be deployed:\n  - ${problems.join("\n  - ")}`,
    );
  return model;
}

function redriveOf(text: string, r: SynthResource, problems: string[]): RedrivePolicy | undefined {
  try {
    const parsed = JSON.parse(text) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
    const max = Number(parsed.maxReceiveCount);
    if (typeof parsed.deadLetterTargetArn !== "string" || !Number.isInteger(max) || max < 1 || max > 1000) {
      problems.push(
        `${r.type} ${r.name}: redrivePolicy needs deadLetterTargetArn and a maxReceiveCount of 1 to 1000`,
      );
      return undefined;
    }
    return { deadLetterTargetArn: parsed.deadLetterTargetArn, maxReceiveCount: max };
  } catch (error) {
    problems.push(`${r.type} ${r.name}: redrivePolicy is not JSON: ${(error as Error).message}`);
    return undefined;
  }
}

function queueOf(
  r: SynthResource,
  arn: (service: string, resource: string) => string,
  problems: string[],
): QueueSpec {
  const i = r.inputs;
  const fifo = bool(i, "fifoQueue") === true;
  let name = physical(r);
  if (fifo && !name.endsWith(".fifo")) name = `${name}.fifo`;
  const attributes: Record<string, string> = {};
  const set = (attribute: string, value: string | number | boolean | undefined) => {
    if (value !== undefined) attributes[attribute] = String(value);
  };
  const visibility = num(i, "visibilityTimeoutSeconds") ?? 30;
  if (visibility < 0 || visibility > 43_200)
    problems.push(`${r.type} ${r.name}: visibilityTimeoutSeconds ${visibility} is not 0 to 43200`);
  set("VisibilityTimeout", num(i, "visibilityTimeoutSeconds"));
  set("MessageRetentionPeriod", num(i, "messageRetentionSeconds"));
  set("DelaySeconds", num(i, "delaySeconds"));
  set("MaximumMessageSize", num(i, "maxMessageSize"));
  set("ReceiveMessageWaitTimeSeconds", num(i, "receiveWaitTimeSeconds"));
  if (fifo) set("FifoQueue", true);
  if (fifo) set("ContentBasedDeduplication", bool(i, "contentBasedDeduplication"));
  set("DeduplicationScope", str(i, "deduplicationScope"));
  set("FifoThroughputLimit", str(i, "fifoThroughputLimit"));
  set("SqsManagedSseEnabled", bool(i, "sqsManagedSseEnabled"));
  set("KmsMasterKeyId", str(i, "kmsMasterKeyId"));
  set("KmsDataKeyReusePeriodSeconds", num(i, "kmsDataKeyReusePeriodSeconds"));
  const redrive = documentOf(i.redrivePolicy);
  if (redrive) set("RedrivePolicy", redrive);
  const allow = documentOf(i.redriveAllowPolicy);
  if (allow) set("RedriveAllowPolicy", allow);
  const policy = documentOf(i.policy);
  if (policy) set("Policy", policy);
  return {
    resource: r.name,
    name,
    arn: arn("sqs", name),
    attributes,
    visibilityTimeoutSeconds: visibility,
    ...(redrive ? { redrive: redriveOf(redrive, r, problems) } : {}),
    ...(tagsOf(i) ? { tags: tagsOf(i) } : {}),
  };
}

function functionOf(
  r: SynthResource,
  arn: (service: string, resource: string) => string,
  problems: string[],
): FunctionSpec {
  const i = r.inputs;
  const name = physical(r);
  const handler = str(i, "handler") ?? "";
  if (!/^[^\s]+\.[A-Za-z_$][\w$]*$/.test(handler))
    problems.push(`${r.type} ${r.name}: handler "${handler}" is not <file>.<export>`);
  if ((str(i, "packageType") ?? "Zip") !== "Zip")
    problems.push(
      `${r.type} ${r.name}: only Zip functions run locally (packageType ${str(i, "packageType")})`,
    );
  const variables = obj(obj(i.environment)?.variables) ?? {};
  const environment: Record<string, string> = {};
  for (const [key, value] of Object.entries(variables)) {
    if (typeof value === "string") environment[key] = value;
    else if (typeof value === "number" || typeof value === "boolean") environment[key] = String(value);
  }
  const size = Object.entries(environment).reduce(
    (sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value),
    0,
  );
  if (size > MAX_ENVIRONMENT_BYTES)
    problems.push(
      `${r.type} ${r.name}: its environment is ${size} bytes; Lambda refuses more than ${MAX_ENVIRONMENT_BYTES}`,
    );
  const timeout = num(i, "timeout") ?? 3;
  if (timeout < 1 || timeout > 900)
    problems.push(`${r.type} ${r.name}: timeout ${timeout} is not 1 to 900 seconds`);
  const memory = num(i, "memorySize") ?? 128;
  if (memory < 128 || memory > 10_240)
    problems.push(`${r.type} ${r.name}: memorySize ${memory} is not 128 to 10240`);
  const reserved = num(i, "reservedConcurrentExecutions");
  const logGroup = str(obj(i.loggingConfig) ?? {}, "logGroup") ?? `/aws/lambda/${name}`;
  const deadLetter = str(obj(i.deadLetterConfig) ?? {}, "targetArn");
  const storage = num(obj(i.ephemeralStorage) ?? {}, "size");
  return {
    resource: r.name,
    name,
    arn: arn("lambda", `function:${name}`),
    handler,
    ...(str(i, "runtime") ? { runtime: str(i, "runtime") } : {}),
    ...(str(i, "role") ? { role: str(i, "role") } : {}),
    timeoutSeconds: timeout,
    memoryMb: memory,
    environment,
    // -1 is the provider's "no reservation".
    ...(reserved !== undefined && reserved >= 0 ? { reservedConcurrency: reserved } : {}),
    ...(strings(i.architectures).length > 0 ? { architectures: strings(i.architectures) } : {}),
    ...(str(i, "description") ? { description: str(i, "description") } : {}),
    ...(deadLetter ? { deadLetterTargetArn: deadLetter } : {}),
    logGroup,
    ...(storage ? { ephemeralStorageMb: storage } : {}),
    ...(tagsOf(i) ? { tags: tagsOf(i) } : {}),
  };
}

function targetOf(r: SynthResource, problems: string[]): TargetSpec {
  const i = r.inputs;
  const rule = str(i, "rule") ?? "";
  const targetArn = str(i, "arn") ?? "";
  if (!rule || !targetArn) problems.push(`${r.type} ${r.name}: needs rule and arn`);
  const retry = obj(i.retryPolicy);
  const transformer = obj(i.inputTransformer);
  const template = transformer ? str(transformer, "inputTemplate") : undefined;
  if (transformer && !template) problems.push(`${r.type} ${r.name}: inputTransformer without inputTemplate`);
  const paths: Record<string, string> = {};
  for (const [key, value] of Object.entries(obj(transformer?.inputPaths) ?? {}))
    if (typeof value === "string") paths[key] = value;
  let retryPolicy: RetryPolicy | undefined;
  if (retry) {
    retryPolicy = {
      maximumRetryAttempts: num(retry, "maximumRetryAttempts") ?? DEFAULT_TARGET_RETRY.maximumRetryAttempts,
      maximumEventAgeInSeconds:
        num(retry, "maximumEventAgeInSeconds") ?? DEFAULT_TARGET_RETRY.maximumEventAgeInSeconds,
    };
    if (retryPolicy.maximumRetryAttempts < 0 || retryPolicy.maximumRetryAttempts > 185)
      problems.push(`${r.type} ${r.name}: maximumRetryAttempts is not 0 to 185`);
    if (retryPolicy.maximumEventAgeInSeconds < 60 || retryPolicy.maximumEventAgeInSeconds > 86_400)
      problems.push(`${r.type} ${r.name}: maximumEventAgeInSeconds is not 60 to 86400`);
  }
  const service = arnService(targetArn);
  if (targetArn && service !== "sqs" && service !== "lambda")
    problems.push(
      `${r.type} ${r.name}: the local cloud delivers to SQS and Lambda targets only, not ${targetArn}`,
    );
  const deadLetter = str(obj(i.deadLetterConfig) ?? {}, "arn");
  const groupId = str(obj(i.sqsTarget) ?? {}, "messageGroupId");
  return {
    resource: r.name,
    rule,
    bus: str(i, "eventBusName") ?? "default",
    // Without a targetId, Pulumi generates one at deploy; the logical name stands in for it.
    id: str(i, "targetId") ?? r.name,
    arn: targetArn,
    ...(retryPolicy ? { retryPolicy } : {}),
    ...(deadLetter ? { deadLetterArn: deadLetter } : {}),
    ...(str(i, "input") ? { input: str(i, "input") } : {}),
    ...(str(i, "inputPath") ? { inputPath: str(i, "inputPath") } : {}),
    ...(template ? { inputTransformer: { inputPathsMap: paths, inputTemplate: template } } : {}),
    ...(str(i, "roleArn") ? { roleArn: str(i, "roleArn") } : {}),
    ...(groupId ? { messageGroupId: groupId } : {}),
  };
}

function tableOf(
  r: SynthResource,
  arn: (service: string, resource: string) => string,
  problems: string[],
): TableSpec {
  const i = r.inputs;
  const name = physical(r);
  const hashKey = str(i, "hashKey");
  if (!hashKey) problems.push(`${r.type} ${r.name}: no hashKey`);
  const attributes = (Array.isArray(i.attributes) ? i.attributes : []).flatMap((a) => {
    const o = obj(a);
    return o && typeof o.name === "string" && typeof o.type === "string"
      ? [{ name: o.name, type: o.type }]
      : [];
  });
  const billingMode = str(i, "billingMode") === "PAY_PER_REQUEST" ? "PAY_PER_REQUEST" : "PROVISIONED";
  const index = (value: unknown): TableIndex | undefined => {
    const o = obj(value);
    if (!o || typeof o.name !== "string") return undefined;
    const keyOf = (key: string) => (typeof o[key] === "string" ? (o[key] as string) : undefined);
    return {
      name: o.name,
      hashKey: keyOf("hashKey") ?? hashKey ?? "",
      ...(keyOf("rangeKey") ? { rangeKey: keyOf("rangeKey") } : {}),
      projectionType: keyOf("projectionType") ?? "ALL",
      ...(strings(o.nonKeyAttributes).length > 0 ? { nonKeyAttributes: strings(o.nonKeyAttributes) } : {}),
      ...(typeof o.readCapacity === "number" ? { readCapacity: o.readCapacity } : {}),
      ...(typeof o.writeCapacity === "number" ? { writeCapacity: o.writeCapacity } : {}),
    };
  };
  const ttl = obj(i.ttl);
  const sse = obj(i.serverSideEncryption);
  const pitr = obj(i.pointInTimeRecovery);
  const streamEnabled = bool(i, "streamEnabled") === true;
  return {
    resource: r.name,
    name,
    arn: arn("dynamodb", `table/${name}`),
    hashKey: hashKey ?? "",
    ...(str(i, "rangeKey") ? { rangeKey: str(i, "rangeKey") } : {}),
    attributes,
    billingMode,
    ...(num(i, "readCapacity") !== undefined ? { readCapacity: num(i, "readCapacity") } : {}),
    ...(num(i, "writeCapacity") !== undefined ? { writeCapacity: num(i, "writeCapacity") } : {}),
    globalSecondaryIndexes: (Array.isArray(i.globalSecondaryIndexes) ? i.globalSecondaryIndexes : []).flatMap(
      (g) => index(g) ?? [],
    ),
    localSecondaryIndexes: (Array.isArray(i.localSecondaryIndexes) ? i.localSecondaryIndexes : []).flatMap(
      (l) => index(l) ?? [],
    ),
    ...(ttl && typeof ttl.attributeName === "string" && ttl.attributeName !== ""
      ? { ttl: { attributeName: ttl.attributeName, enabled: ttl.enabled !== false } }
      : {}),
    ...(streamEnabled ? { stream: { viewType: str(i, "streamViewType") ?? "NEW_AND_OLD_IMAGES" } } : {}),
    pointInTimeRecovery: pitr?.enabled === true,
    ...(sse
      ? {
          serverSideEncryption: {
            enabled: sse.enabled === true,
            ...(typeof sse.kmsKeyArn === "string" ? { kmsKeyArn: sse.kmsKeyArn } : {}),
          },
        }
      : {}),
    deletionProtection: bool(i, "deletionProtectionEnabled") === true,
    ...(tagsOf(i) ? { tags: tagsOf(i) } : {}),
  };
}
