import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import type { Json } from "./asl.js";
import { TaskFailure } from "./errors.js";
import { asJson } from "./json-shapes.js";

/** A Lambda handler run in-process: the same function Phoenix deploys. */
// biome-ignore lint/suspicious/noExplicitAny: handlers type their own events.
export type LocalLambdaHandler = (event: any, context: Context) => Promise<unknown>;

export interface LambdaScope {
  region: string;
  accountId: string;
}

// Lambda's maximum; handlers use getRemainingTimeInMillis to pace themselves.
const LAMBDA_TIMEOUT_MS = 900_000;

/**
 * The function name in any form Lambda accepts: `name`, `name:alias`, `123456789012:function:name`,
 * or a full ARN with or without a qualifier.
 */
export function functionNameOf(reference: string): string {
  const arn = /^(?:arn:aws[\w-]*:lambda:[\w-]+:)?\d{12}:function:([^:]+)(?::[^:]+)?$/.exec(reference);
  if (arn?.[1]) return arn[1];
  return reference.split(":")[0] ?? reference;
}

function lambdaContext(name: string, scope: LambdaScope): Context {
  const started = Date.now();
  const fail = () => {
    throw new Error("context.done/fail/succeed are not supported locally: return or throw instead");
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${scope.region}:${scope.accountId}:function:${name}`,
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `local/${randomUUID()}`,
    getRemainingTimeInMillis: () => Math.max(0, LAMBDA_TIMEOUT_MS - (Date.now() - started)),
    done: fail,
    fail,
    succeed: fail,
  };
}

/**
 * Runs a handler as Lambda would for Step Functions: the event and the result cross a JSON
 * boundary, and a thrown error becomes a failure named by its type, with Lambda's error
 * document (`errorType`, `errorMessage`, `trace`) as the cause.
 */
export async function invokeLocalFunction(
  handler: LocalLambdaHandler,
  name: string,
  payload: unknown,
  scope: LambdaScope,
): Promise<Json> {
  let result: unknown;
  try {
    result = await handler(asJson(payload), lambdaContext(name, scope));
  } catch (thrown) {
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    const errorType = error.name || "Error";
    throw new TaskFailure(
      errorType,
      JSON.stringify({ errorType, errorMessage: error.message, trace: (error.stack ?? "").split("\n") }),
    );
  }
  return asJson(result);
}

/** What `arn:aws:states:::lambda:invoke` returns: Lambda's Invoke response, payload parsed. */
export function lambdaInvokeResponse(payload: Json, statusCode = 200): Json {
  const requestId = randomUUID();
  return {
    ExecutedVersion: "$LATEST",
    Payload: payload,
    SdkHttpMetadata: {
      HttpHeaders: { "Content-Type": "application/json", "x-amzn-RequestId": requestId },
      HttpStatusCode: statusCode,
    },
    SdkResponseMetadata: { RequestId: requestId },
    StatusCode: statusCode,
  };
}
