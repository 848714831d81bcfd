/**
 * How Step Functions names the errors of service integrations, so that Retry and Catch written for
 * AWS match the same errors locally.
 *
 * AWS SDK integrations (`arn:aws:states:::aws-sdk:<service>:<action>`): `<Service>.<Exception>`,
 * both PascalCase, the exception always ending in "Exception" (AWS docs, "AWS SDK service
 * integrations"). Step Functions calls services with the AWS SDK for Java v2, so the names are
 * that SDK's: the service prefix is its client name (`Ec2`, `AutoScaling`, `DynamoDb`, `Sfn`), a
 * modeled error is its exception class (shape name, a trailing "Fault" replaced by "Exception":
 * `AutoScaling.InstanceRefreshInProgressException`), and an error the service model does not
 * declare is the service's base exception (`Ec2.Ec2Exception`: EC2 declares no errors at all, so
 * every EC2 error, throttling included, arrives under that name; the code is in the Cause).
 *
 * Optimized integrations keep older names: `DynamoDB.<Code>`, `SNS.<Code>Exception`,
 * `StepFunctions.<Code>Exception`, `EventBridge.<Code>Exception`, with Java SDK v1 style causes.
 */

/** What the local runtime knows about a failed AWS SDK v3 call. */
export interface SdkErrorFacts {
  /** The error code the service answered with (`InvalidInstanceID.NotFound`, `Throttling`). */
  code: string;
  message: string;
  status?: number;
  requestId?: string;
  /** The service model's shape name when the SDK knows this error (`InstanceRefreshInProgressFault`). */
  modeledShape?: string;
}

export interface NamedError {
  error: string;
  cause: string;
}

interface SdkErrorLike {
  name?: unknown;
  message?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string };
  constructor?: { shapeId?: unknown };
}

/**
 * Facts from an error thrown by an AWS SDK v3 client; undefined when the call never got an answer
 * from the service (connection refused, aborted).
 */
export function sdkErrorFacts(thrown: unknown): SdkErrorFacts | undefined {
  if (thrown === null || typeof thrown !== "object") return undefined;
  const error = thrown as SdkErrorLike;
  const status = error.$metadata?.httpStatusCode;
  if (status === undefined) return undefined;
  const shapeId = typeof error.constructor?.shapeId === "string" ? error.constructor.shapeId : "";
  // SDK v3 throws a subclass for errors its model declares; undeclared ones come as the
  // service's synthetic base exception with the wire code as name.
  const modeledShape =
    shapeId && !shapeId.startsWith("smithy.ts.sdk.synthetic.") ? shapeId.split("#")[1] : undefined;
  const code =
    typeof error.Code === "string" && !modeledShape ? error.Code : String(error.name ?? "UnknownError");
  return {
    code,
    message: typeof error.message === "string" ? error.message : "",
    status,
    requestId: error.$metadata?.requestId,
    modeledShape,
  };
}

export function withExceptionSuffix(name: string): string {
  return name.endsWith("Exception") ? name : `${name}Exception`;
}

/** The AWS SDK for Java v2's exception class name for a modeled error shape. */
export function javaExceptionName(shape: string): string {
  if (shape.endsWith("Exception")) return shape;
  if (shape.endsWith("Fault")) return `${shape.slice(0, -"Fault".length)}Exception`;
  return `${shape}Exception`;
}

export function awsSdkIntegrationError(servicePrefix: string, facts: SdkErrorFacts): NamedError {
  const exception = facts.modeledShape ? javaExceptionName(facts.modeledShape) : `${servicePrefix}Exception`;
  const details = [
    `Service: ${servicePrefix}`,
    `Status Code: ${facts.status}`,
    // Not in every AWS cause, but the only place an undeclared error's code survives.
    `Error Code: ${facts.code}`,
    `Request ID: ${facts.requestId ?? "local"}`,
  ];
  return { error: `${servicePrefix}.${exception}`, cause: `${facts.message} (${details.join(", ")})` };
}

/** A call that got no answer: the Java SDK reports these as SdkClientException. */
export function awsSdkClientError(servicePrefix: string, thrown: unknown): NamedError {
  return {
    error: `${servicePrefix}.SdkClientException`,
    cause: `Unable to execute HTTP request: ${(thrown as Error)?.message ?? String(thrown)}`,
  };
}

export type OptimizedService = "dynamodb" | "sns" | "events" | "states";

const OPTIMIZED: Record<OptimizedService, { prefix: string; serviceName: string; suffix: boolean }> = {
  dynamodb: { prefix: "DynamoDB", serviceName: "AmazonDynamoDBv2", suffix: false },
  sns: { prefix: "SNS", serviceName: "AmazonSNS", suffix: true },
  events: { prefix: "EventBridge", serviceName: "AmazonEventBridge", suffix: true },
  states: { prefix: "StepFunctions", serviceName: "AWSStepFunctions", suffix: true },
};

export function optimizedIntegrationError(
  service: OptimizedService,
  facts: SdkErrorFacts | undefined,
  thrown: unknown,
): NamedError {
  const naming = OPTIMIZED[service];
  if (!facts) {
    return {
      error: `${naming.prefix}.SdkClientException`,
      cause: `Unable to execute HTTP request: ${(thrown as Error)?.message}`,
    };
  }
  const code = facts.modeledShape ?? facts.code;
  const details = [
    `Service: ${naming.serviceName}`,
    `Status Code: ${facts.status}`,
    `Error Code: ${facts.code}`,
    `Request ID: ${facts.requestId ?? "local"}`,
    "Proxy: null",
  ];
  return {
    error: `${naming.prefix}.${naming.suffix ? withExceptionSuffix(code) : code}`,
    cause: `${facts.message} (${details.join("; ")})`,
  };
}
