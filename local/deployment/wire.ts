import { randomUUID } from "node:crypto";
import { forwardToMoto } from "../gateway/forward.js";
import type { AwsRequest } from "../gateway/request.js";
import { type AwsResponse, awsError, jsonResult, xmlEscape } from "../gateway/response.js";
import type { ServiceHandler } from "../gateway/server.js";
import type { SqsEventSource } from "./event-source-mappings.js";
import { DELIVERY_QUEUE, type EventTargets } from "./event-targets.js";
import { type LambdaRuntime, LambdaServiceError } from "./lambda-runtime.js";
import { MessageMoves, MoveTaskError } from "./message-moves.js";
import { arnService, type EventSourceMappingSpec, functionNameOf, type TargetSpec } from "./model.js";

/**
 * The calls the deployment answers itself, in each service's wire protocol; anything else about
 * these services goes on to moto:
 * - Lambda: Invoke (RequestResponse, Event, DryRun) of a deployed function, which moto could only
 *   run in Docker; the event source mappings (moto would poll the queue itself, through Docker).
 *   The functions' configuration, concurrency, policies and event invoke configs are moto's.
 * - EventBridge: the targets of deployed rules (ListTargetsByRule, PutTargets, RemoveTargets):
 *   see event-targets.ts.
 * - SQS: ListQueues without the local cloud's own delivery queue; StartMessageMoveTask and
 *   ListMessageMoveTasks, which moto lacks (message-moves.ts).
 */

export interface WireDeps {
  motoUrl: string;
  /**
   * Queue attributes as they were set (the graph's, or SetQueueAttributes'), by queue name: moto
   * drops RedriveAllowPolicy and re-serializes RedrivePolicy and Policy; AWS answers them as set.
   */
  extraQueueAttributes: Map<string, Record<string, string>>;
  lambda: LambdaRuntime;
  mappings: Map<string, { spec: EventSourceMappingSpec; source: SqsEventSource }>;
  targets: EventTargets;
  moves: MessageMoves;
  scope: { region: string; accountId: string };
}

const INVOKE = /^\/[^/]+\/functions\/([^/]+)\/(invocations|invoke-async)\/?$/;
const MAPPINGS = /^\/[^/]+\/event-source-mappings\/?$/;
const MAPPING = /^\/[^/]+\/event-source-mappings\/([\w-]+)\/?$/;

function restJson(status: number, body: unknown, headers: Record<string, string> = {}): AwsResponse {
  return {
    status,
    headers: { "content-type": "application/json", "x-amzn-requestid": randomUUID(), ...headers },
    body: body === undefined ? "" : JSON.stringify(body),
  };
}

function lambdaError(error: LambdaServiceError): AwsResponse {
  const response = awsError("rest", "lambda", error.status, error.code, error.message);
  return {
    ...response,
    body: JSON.stringify({
      Type: "User",
      message: error.message,
      ...(error.code === "TooManyRequestsException"
        ? { Reason: "ReservedFunctionConcurrentInvocationLimitExceeded" }
        : {}),
    }),
  };
}

function mappingConfiguration(
  spec: EventSourceMappingSpec,
  source: SqsEventSource,
  scope: WireDeps["scope"],
): Record<string, unknown> {
  return {
    UUID: spec.uuid,
    EventSourceMappingArn: `arn:aws:lambda:${scope.region}:${scope.accountId}:event-source-mapping:${spec.uuid}`,
    BatchSize: spec.batchSize,
    MaximumBatchingWindowInSeconds: spec.maximumBatchingWindowInSeconds,
    EventSourceArn: spec.eventSourceArn,
    FunctionArn: `arn:aws:lambda:${scope.region}:${scope.accountId}:function:${spec.functionName}`,
    LastModified: 0,
    State: source.enabled ? "Enabled" : "Disabled",
    StateTransitionReason: "USER_INITIATED",
    FunctionResponseTypes: spec.functionResponseTypes,
    ...(spec.maximumConcurrency !== undefined
      ? { ScalingConfig: { MaximumConcurrency: spec.maximumConcurrency } }
      : {}),
  };
}

export function lambdaHandler(deps: WireDeps): ServiceHandler {
  const deployedInvoke = (request: AwsRequest) => {
    const match = INVOKE.exec(request.path);
    if (!match?.[1]) return undefined;
    const name = functionNameOf(decodeURIComponent(match[1]));
    return deps.lambda.get(name) ? { name, async: match[2] === "invoke-async" } : undefined;
  };
  return {
    name: "deployment-lambda",
    handles: (request) =>
      request.service === "lambda" &&
      (deployedInvoke(request) !== undefined || MAPPINGS.test(request.path) || MAPPING.test(request.path)),
    async handle(request) {
      const invoke = deployedInvoke(request);
      try {
        if (invoke) {
          const type = invoke.async
            ? "Event"
            : String(request.headers["x-amz-invocation-type"] ?? "RequestResponse");
          const text = request.body.toString("utf8");
          let payload: unknown = {};
          if (text.trim()) {
            try {
              payload = JSON.parse(text);
            } catch {
              return awsError(
                "rest",
                "lambda",
                400,
                "InvalidRequestContentException",
                "Could not parse request body into json",
              );
            }
          }
          if (type === "DryRun") return restJson(204, undefined);
          if (type === "Event") {
            deps.lambda.invokeAsync(invoke.name, payload, "api");
            return restJson(202, undefined);
          }
          const outcome = await deps.lambda.invoke(invoke.name, payload);
          return restJson(200, outcome.error ?? outcome.result, {
            "x-amz-executed-version": "$LATEST",
            ...(outcome.error ? { "x-amz-function-error": "Unhandled" } : {}),
            ...(request.headers["x-amz-log-type"] === "Tail" ? { "x-amz-log-result": "" } : {}),
          });
        }
        return serveMappings(deps, request);
      } catch (error) {
        if (error instanceof LambdaServiceError) return lambdaError(error);
        throw error;
      }
    },
  };
}

function serveMappings(deps: WireDeps, request: AwsRequest): AwsResponse {
  const one = MAPPING.exec(request.path);
  if (!one) {
    if (request.method === "POST")
      return awsError(
        "rest",
        "lambda",
        400,
        "InvalidParameterValueException",
        "the local cloud's event source mappings are the deployment's (the graph's aws:lambda/eventSourceMapping resources): CreateEventSourceMapping is not served",
      );
    const fn = request.params.get("FunctionName");
    const source = request.params.get("EventSourceArn");
    const mappings = [...deps.mappings.values()]
      .filter(({ spec }) => !fn || spec.functionName === functionNameOf(fn))
      .filter(({ spec }) => !source || spec.eventSourceArn === source)
      .map(({ spec, source: s }) => mappingConfiguration(spec, s, deps.scope));
    return restJson(200, { EventSourceMappings: mappings });
  }
  const found = deps.mappings.get(one[1] ?? "");
  if (!found)
    return awsError(
      "rest",
      "lambda",
      404,
      "ResourceNotFoundException",
      `The resource you requested does not exist.`,
    );
  if (request.method === "PUT") {
    if (typeof request.json.Enabled === "boolean") found.source.enabled = request.json.Enabled;
    return restJson(202, mappingConfiguration(found.spec, found.source, deps.scope));
  }
  if (request.method === "DELETE") {
    deps.mappings.delete(found.spec.uuid);
    void found.source.stop();
    return restJson(202, {
      ...mappingConfiguration(found.spec, found.source, deps.scope),
      State: "Deleting",
    });
  }
  return restJson(200, mappingConfiguration(found.spec, found.source, deps.scope));
}

const busOf = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? (value.split("/").pop() ?? value) : undefined;

function targetToWire(t: TargetSpec): Record<string, unknown> {
  return {
    Id: t.id,
    Arn: t.arn,
    ...(t.retryPolicy
      ? {
          RetryPolicy: {
            MaximumRetryAttempts: t.retryPolicy.maximumRetryAttempts,
            MaximumEventAgeInSeconds: t.retryPolicy.maximumEventAgeInSeconds,
          },
        }
      : {}),
    ...(t.deadLetterArn ? { DeadLetterConfig: { Arn: t.deadLetterArn } } : {}),
    ...(t.input !== undefined ? { Input: t.input } : {}),
    ...(t.inputPath !== undefined ? { InputPath: t.inputPath } : {}),
    ...(t.inputTransformer
      ? {
          InputTransformer: {
            ...(Object.keys(t.inputTransformer.inputPathsMap).length > 0
              ? { InputPathsMap: t.inputTransformer.inputPathsMap }
              : {}),
            InputTemplate: t.inputTransformer.inputTemplate,
          },
        }
      : {}),
    ...(t.roleArn ? { RoleArn: t.roleArn } : {}),
    ...(t.messageGroupId ? { SqsParameters: { MessageGroupId: t.messageGroupId } } : {}),
  };
}

function targetFromWire(rule: string, bus: string, raw: Record<string, unknown>): TargetSpec {
  const o = (v: unknown) => (v && typeof v === "object" ? (v as Record<string, unknown>) : undefined);
  const retry = o(raw.RetryPolicy);
  const transformer = o(raw.InputTransformer);
  return {
    resource: `api:${String(raw.Id)}`,
    rule,
    bus,
    id: String(raw.Id ?? ""),
    arn: String(raw.Arn ?? ""),
    ...(retry
      ? {
          retryPolicy: {
            maximumRetryAttempts: Number(retry.MaximumRetryAttempts ?? 185),
            maximumEventAgeInSeconds: Number(retry.MaximumEventAgeInSeconds ?? 86_400),
          },
        }
      : {}),
    ...(o(raw.DeadLetterConfig)?.Arn ? { deadLetterArn: String(o(raw.DeadLetterConfig)?.Arn) } : {}),
    ...(typeof raw.Input === "string" ? { input: raw.Input } : {}),
    ...(typeof raw.InputPath === "string" ? { inputPath: raw.InputPath } : {}),
    ...(transformer && typeof transformer.InputTemplate === "string"
      ? {
          inputTransformer: {
            inputPathsMap: Object.fromEntries(
              Object.entries(o(transformer.InputPathsMap) ?? {}).map(([k, v]) => [k, String(v)]),
            ),
            inputTemplate: transformer.InputTemplate,
          },
        }
      : {}),
    ...(typeof raw.RoleArn === "string" ? { roleArn: raw.RoleArn } : {}),
    ...(o(raw.SqsParameters)?.MessageGroupId
      ? { messageGroupId: String(o(raw.SqsParameters)?.MessageGroupId) }
      : {}),
  };
}

const TARGET_ACTIONS = new Set(["ListTargetsByRule", "PutTargets", "RemoveTargets"]);

export function eventTargetsHandler(deps: WireDeps): ServiceHandler {
  const deployed = (request: AwsRequest) =>
    deps.targets.ruleOf(String(request.json.Rule ?? ""), busOf(request.json.EventBusName));
  return {
    name: "deployment-event-targets",
    handles: (request) =>
      request.service === "events" &&
      request.protocol === "json" &&
      TARGET_ACTIONS.has(request.action) &&
      deployed(request) !== undefined,
    async handle(request) {
      const state = deployed(request)!;
      const { rule } = state;
      if (request.action === "ListTargetsByRule")
        return jsonResult({ Targets: state.targets.map(targetToWire) });
      if (request.action === "RemoveTargets") {
        const ids = Array.isArray(request.json.Ids) ? request.json.Ids.map(String) : [];
        await deps.targets.removeTargets(rule.name, rule.bus, ids);
        return jsonResult({ FailedEntryCount: 0, FailedEntries: [] });
      }
      const raw = Array.isArray(request.json.Targets)
        ? (request.json.Targets as Record<string, unknown>[])
        : [];
      const accepted: TargetSpec[] = [];
      const failed: { TargetId: string; ErrorCode: string; ErrorMessage: string }[] = [];
      for (const entry of raw) {
        const target = targetFromWire(rule.name, rule.bus, entry);
        const service = arnService(target.arn);
        if (service !== "sqs" && service !== "lambda") {
          failed.push({
            TargetId: target.id,
            ErrorCode: "ValidationException",
            ErrorMessage: `the local cloud delivers to SQS and Lambda targets only, not ${target.arn}`,
          });
        } else accepted.push(target);
      }
      await deps.targets.putTargets(rule.name, rule.bus, accepted);
      return jsonResult({ FailedEntryCount: failed.length, FailedEntries: failed });
    },
  };
}

/** Attributes answered as they were set (moto drops the first and re-serializes the others). */
export const VERBATIM_QUEUE_ATTRIBUTES = ["RedriveAllowPolicy", "RedrivePolicy", "Policy"];

const queueNameOfUrl = (url: unknown): string =>
  typeof url === "string" ? (url.split("/").filter(Boolean).pop() ?? "") : "";

function requestedAttributes(request: AwsRequest): string[] {
  if (request.protocol === "json") {
    const names = request.json.AttributeNames;
    return Array.isArray(names) ? names.map(String) : [];
  }
  const names: string[] = [];
  for (let i = 1; ; i++) {
    const name = request.params.get(`AttributeName.${i}`) ?? request.params.get(`AttributeNames.member.${i}`);
    if (name === null) return names;
    names.push(name);
  }
}

function setAttributesOf(request: AwsRequest): Record<string, string> {
  if (request.protocol === "json") {
    const attributes = request.json.Attributes;
    return attributes && typeof attributes === "object"
      ? Object.fromEntries(
          Object.entries(attributes as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
        )
      : {};
  }
  const out: Record<string, string> = {};
  for (let i = 1; request.params.has(`Attribute.${i}.Name`); i++)
    out[request.params.get(`Attribute.${i}.Name`)!] = request.params.get(`Attribute.${i}.Value`) ?? "";
  return out;
}

async function queueAttributes(deps: WireDeps, request: AwsRequest): Promise<AwsResponse> {
  const queue = queueNameOfUrl(
    request.protocol === "json" ? request.json.QueueUrl : request.params.get("QueueUrl"),
  );
  if (request.action === "SetQueueAttributes") {
    const attributes = setAttributesOf(request);
    const extra = Object.fromEntries(
      Object.entries(attributes).filter(([k]) => VERBATIM_QUEUE_ATTRIBUTES.includes(k)),
    );
    const response = await forwardToMoto(deps.motoUrl, request);
    if (response.status < 300 && Object.keys(extra).length > 0)
      deps.extraQueueAttributes.set(queue, { ...deps.extraQueueAttributes.get(queue), ...extra });
    return response;
  }
  const response = await forwardToMoto(deps.motoUrl, request);
  const extra = deps.extraQueueAttributes.get(queue);
  if (response.status >= 300 || !extra) return response;
  const wanted = requestedAttributes(request);
  const change = Object.entries(extra).filter(([k]) => wanted.includes("All") || wanted.includes(k));
  if (change.length === 0) return response;
  if (request.protocol === "json") {
    const body = JSON.parse(response.body.toString("utf8") || "{}") as {
      Attributes?: Record<string, string>;
    };
    const attributes = { ...body.Attributes };
    for (const [k, v] of change) {
      if (v === "") delete attributes[k];
      else attributes[k] = v;
    }
    body.Attributes = attributes;
    return { ...response, body: JSON.stringify(body) };
  }
  let xml = response.body.toString("utf8");
  for (const [k, v] of change) {
    const element = new RegExp(`<Attribute>\\s*<Name>${k}</Name>\\s*<Value>[^<]*</Value>\\s*</Attribute>`);
    xml = xml.replace(element, "");
    if (v !== "")
      xml = xml.replace(
        "</GetQueueAttributesResult>",
        `<Attribute><Name>${xmlEscape(k)}</Name><Value>${xmlEscape(v)}</Value></Attribute></GetQueueAttributesResult>`,
      );
  }
  return { ...response, body: xml };
}

export function sqsHandler(deps: WireDeps): ServiceHandler {
  return {
    name: "deployment-sqs",
    handles: (request) =>
      request.service === "sqs" &&
      (request.action === "ListQueues" ||
        request.action === "GetQueueAttributes" ||
        request.action === "SetQueueAttributes" ||
        (request.protocol === "json" &&
          (request.action === "StartMessageMoveTask" || request.action === "ListMessageMoveTasks"))),
    async handle(request) {
      if (request.action === "GetQueueAttributes" || request.action === "SetQueueAttributes")
        return queueAttributes(deps, request);
      if (request.action === "ListQueues") {
        const response = await forwardToMoto(deps.motoUrl, request);
        if (response.status >= 300) return response;
        const hidden = (url: string) => url.endsWith(`/${DELIVERY_QUEUE}`);
        if (request.protocol === "json") {
          const body = JSON.parse(response.body.toString("utf8") || "{}") as { QueueUrls?: string[] };
          if (body.QueueUrls) body.QueueUrls = body.QueueUrls.filter((url) => !hidden(url));
          if (body.QueueUrls?.length === 0) delete body.QueueUrls;
          return { ...response, body: JSON.stringify(body) };
        }
        const xml = response.body
          .toString("utf8")
          .replace(/<QueueUrl>([^<]*)<\/QueueUrl>/g, (whole, url: string) => (hidden(url) ? "" : whole));
        return { ...response, body: xml };
      }
      try {
        const sourceArn = String(request.json.SourceArn ?? "");
        if (request.action === "ListMessageMoveTasks")
          return jsonResult({
            Results: deps.moves.list(sourceArn, Number(request.json.MaxResults ?? 1) || 1),
          });
        const destination =
          typeof request.json.DestinationArn === "string" ? request.json.DestinationArn : undefined;
        return jsonResult({ TaskHandle: await deps.moves.start(sourceArn, destination) });
      } catch (error) {
        if (error instanceof MoveTaskError) return awsError("json", "sqs", 400, error.code, error.message);
        throw error;
      }
    },
  };
}

export { MessageMoves };
