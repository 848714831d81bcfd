/**
 * Pulumi mocks that answer as AWS would: each resource gets the id and ARN AWS forms from its
 * `name` input (a role's id is its name, a queue's id is its URL and its ARN ends in its name),
 * so references between resources in the graph can be checked against the resources themselves.
 * Data sources (caller identity, region, partition, KMS key, IAM policy documents) are answered
 * from the account the synth pretends to deploy to.
 */
import type { SynthResource } from "./graph.js";

export interface MockAccount {
  account: string;
  region: string;
  partition: string;
}

export const DEFAULT_ACCOUNT: MockAccount = {
  account: "123456789012",
  region: "us-east-1",
  partition: "aws",
};

interface MockResourceArgs {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  id?: string;
}

interface MockCallArgs {
  token: string;
  inputs: Record<string, unknown>;
}

/** The physical name AWS would use: the `name` input, else the logical name. */
const physical = (args: MockResourceArgs): string =>
  typeof args.inputs["name"] === "string" && args.inputs["name"] !== ""
    ? (args.inputs["name"] as string)
    : args.name;

/** id and state per type, for the types Phoenix declares; others get a stable placeholder. */
function identity(args: MockResourceArgs, at: MockAccount): { id: string; state: Record<string, unknown> } {
  const { account, region, partition } = at;
  const name = physical(args);
  const arn = (service: string, resource: string, inRegion = true, inAccount = true) =>
    `arn:${partition}:${service}:${inRegion ? region : ""}:${inAccount ? account : ""}:${resource}`;
  switch (args.type) {
    case "aws:iam/role:Role":
      return {
        id: name,
        state: { name, arn: arn("iam", `role/${name}`, false), uniqueId: `AROA${hash(name)}` },
      };
    case "aws:iam/instanceProfile:InstanceProfile":
      return { id: name, state: { name, arn: arn("iam", `instance-profile/${name}`, false) } };
    case "aws:iam/policy:Policy":
      return {
        id: arn("iam", `policy/${name}`, false),
        state: { name, arn: arn("iam", `policy/${name}`, false) },
      };
    case "aws:iam/rolePolicy:RolePolicy":
      return { id: `${String(args.inputs["role"])}:${name}`, state: { name } };
    case "aws:sqs/queue:Queue":
      return {
        id: `https://sqs.${region}.amazonaws.com/${account}/${name}`,
        state: { name, arn: arn("sqs", name), url: `https://sqs.${region}.amazonaws.com/${account}/${name}` },
      };
    case "aws:sns/topic:Topic":
      return { id: arn("sns", name), state: { name, arn: arn("sns", name) } };
    case "aws:dynamodb/table:Table":
      return {
        id: name,
        state: {
          name,
          arn: arn("dynamodb", `table/${name}`),
          streamArn: arn("dynamodb", `table/${name}/stream/mock`),
        },
      };
    case "aws:lambda/function:Function": {
      const fnArn = arn("lambda", `function:${name}`);
      return {
        id: name,
        state: {
          name,
          arn: fnArn,
          qualifiedArn: `${fnArn}:$LATEST`,
          invokeArn: `arn:${partition}:apigateway:${region}:lambda:path/2015-03-31/functions/${fnArn}/invocations`,
          version: "$LATEST",
        },
      };
    }
    case "aws:sfn/stateMachine:StateMachine":
      return {
        id: arn("states", `stateMachine:${name}`),
        state: { name, arn: arn("states", `stateMachine:${name}`) },
      };
    case "aws:cloudwatch/eventRule:EventRule": {
      const bus = typeof args.inputs["eventBusName"] === "string" ? `${args.inputs["eventBusName"]}/` : "";
      return { id: name, state: { name, arn: arn("events", `rule/${bus}${name}`) } };
    }
    case "aws:cloudwatch/logGroup:LogGroup":
      return { id: name, state: { name, arn: arn("logs", `log-group:${name}`) } };
    case "aws:cloudwatch/metricAlarm:MetricAlarm":
      return { id: name, state: { name, arn: arn("cloudwatch", `alarm:${name}`) } };
    case "aws:kms/key:Key":
      return {
        id: `mock-${hash(args.name)}`,
        state: { arn: arn("kms", `key/mock-${hash(args.name)}`), keyId: `mock-${hash(args.name)}` },
      };
    case "aws:lambda/eventSourceMapping:EventSourceMapping":
      return { id: `esm-${hash(args.name)}`, state: { uuid: `esm-${hash(args.name)}` } };
    case "random:index/randomBytes:RandomBytes":
      return {
        id: args.name,
        state: { base64: "bW9jay1zeW50aC1yYW5kb20tYnl0ZXMtZm9yLWtleXM=", hex: "6d6f636b" },
      };
    default:
      return { id: `${args.name}-id`, state: {} };
  }
}

/**
 * The inputs as plain JSON. Assets and archives (a function's code) hold promises of their path;
 * they are recorded as `{ "asset": <kind> }`, not serialized.
 */
function plain(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (typeof (value as { then?: unknown }).then === "function") return { asset: "pending" };
  if (Array.isArray(value)) return value.map(plain);
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null)
    return { asset: prototype?.constructor?.name ?? "object" };
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)]));
}

function hash(text: string): string {
  let h = 2166136261;
  for (const char of text) h = Math.imul(h ^ char.charCodeAt(0), 16777619) >>> 0;
  return h.toString(16).toUpperCase().padStart(8, "0");
}

/** `Action`/`Resource`/condition values: one value is written alone, as the provider renders it. */
const oneOrMany = (values: unknown): unknown =>
  Array.isArray(values) && values.length === 1 ? values[0] : values;

interface StatementInput {
  sid?: string;
  effect?: string;
  actions?: string[];
  notActions?: string[];
  resources?: string[];
  notResources?: string[];
  principals?: { type: string; identifiers: string[] }[];
  conditions?: { test: string; variable: string; values: string[] }[];
}

/**
 * An aws.iam.getPolicyDocument answer: the JSON the provider renders from its statements. A list
 * that is empty is left out, as the provider does, so a statement built with no resources comes
 * out with no `Resource` at all: the MalformedPolicyDocument AWS would answer at deploy time.
 */
export function renderPolicyDocument(inputs: Record<string, unknown>): string {
  const statements = ((inputs["statements"] as StatementInput[] | undefined) ?? []).map((s) => {
    const out: Record<string, unknown> = {};
    if (s.sid) out["Sid"] = s.sid;
    out["Effect"] = s.effect ?? "Allow";
    if (s.actions?.length) out["Action"] = oneOrMany(s.actions);
    if (s.notActions?.length) out["NotAction"] = oneOrMany(s.notActions);
    if (s.resources?.length) out["Resource"] = oneOrMany(s.resources);
    if (s.notResources?.length) out["NotResource"] = oneOrMany(s.notResources);
    if (s.principals?.length) {
      const principals: Record<string, unknown> = {};
      for (const p of s.principals) principals[p.type] = oneOrMany(p.identifiers);
      out["Principal"] = principals;
    }
    if (s.conditions?.length) {
      const conditions: Record<string, Record<string, unknown>> = {};
      for (const c of s.conditions) {
        conditions[c.test] ??= {};
        conditions[c.test]![c.variable] = oneOrMany(c.values);
      }
      out["Condition"] = conditions;
    }
    return out;
  });
  return JSON.stringify({ Version: "2012-10-17", Statement: statements }, null, 2);
}

export interface RecordingMocks {
  resources: SynthResource[];
  newResource(args: MockResourceArgs): { id: string | undefined; state: Record<string, unknown> };
  call(args: MockCallArgs): Record<string, unknown>;
}

export function recordingMocks(at: MockAccount = DEFAULT_ACCOUNT): RecordingMocks {
  const resources: SynthResource[] = [];
  return {
    resources,
    newResource(args) {
      resources.push({
        type: args.type,
        name: args.name,
        inputs: plain(args.inputs) as Record<string, unknown>,
      });
      const { id, state } = identity(args, at);
      return { id: args.id ?? id, state: { ...args.inputs, ...state } };
    },
    call(args) {
      const token = args.token;
      if (token === "aws:index/getCallerIdentity:getCallerIdentity")
        return {
          accountId: at.account,
          arn: `arn:${at.partition}:iam::${at.account}:user/phoenix-synth`,
          userId: "AIDAPHOENIXSYNTH",
          id: at.account,
        };
      if (token === "aws:index/getRegion:getRegion")
        return { name: at.region, region: at.region, id: at.region, description: at.region };
      if (token === "aws:index/getPartition:getPartition")
        return {
          partition: at.partition,
          dnsSuffix: "amazonaws.com",
          reverseDnsPrefix: "com.amazonaws",
          id: at.partition,
        };
      if (token === "aws:iam/getPolicyDocument:getPolicyDocument") {
        const json = renderPolicyDocument(args.inputs);
        // The provider's answer echoes its arguments (SST reads `statements` back from it).
        return { ...args.inputs, json, minifiedJson: JSON.stringify(JSON.parse(json)), id: hash(json) };
      }
      if (token === "aws:kms/getKey:getKey") {
        const keyId = String(args.inputs["keyId"] ?? "");
        if (keyId.startsWith("arn:")) return { arn: keyId, keyId: keyId.split("/").pop(), id: keyId };
        const id = keyId.startsWith("alias/") ? `mock-${hash(keyId)}` : keyId;
        return { arn: `arn:${at.partition}:kms:${at.region}:${at.account}:key/${id}`, keyId: id, id };
      }
      throw new Error(
        `synth: no mock answer for the data source ${token}; add one to build/synth/aws-mocks.ts`,
      );
    },
  };
}
