import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import type { Clock } from "../core/clock.js";
import type { LocalLambdaHandler } from "../stepfunctions/index.js";
import {
  DEFAULT_ASYNC_MAX_AGE_SECONDS,
  DEFAULT_ASYNC_RETRIES,
  type FunctionSpec,
  type InvokeConfigSpec,
  type PermissionSpec,
} from "./model.js";

/**
 * Lambda on the local cloud: each function of the graph, run in-process with the configuration
 * the graph gives it, as Lambda runs it.
 *
 * - Synchronous invocation (Step Functions' lambda:invoke, `aws lambda invoke`, an event source
 *   mapping): the event and the result cross a JSON boundary; the function times out after its
 *   `timeout` (real seconds, as Step Functions' task timeouts: a handler's work runs on the real
 *   clock) with Lambda's `Sandbox.Timedout`; more concurrent invocations than its reserved
 *   concurrency are refused with TooManyRequestsException (429).
 * - Asynchronous invocation (an EventBridge rule's Lambda target, InvocationType Event): accepted
 *   at once (202), then run; a function error is retried as Lambda does (its event invoke config's
 *   maximumRetryAttempts, two by default, after one then two simulated minutes), a throttle retried
 *   with backoff until the event is older than maximumEventAgeInSeconds; then the event goes to
 *   the onFailure destination (an invocation record) or the function's dead-letter queue.
 */

export interface LambdaErrorDocument {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

/** A Lambda service error (not the function's): the invocation did not run. */
export class LambdaServiceError extends Error {
  constructor(
    readonly code: "ResourceNotFoundException" | "TooManyRequestsException" | "AccessDeniedException",
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

export interface InvocationOutcome {
  requestId: string;
  /** The function's result (JSON), when it returned. */
  result?: unknown;
  /** The function's error, as Lambda reports it (`X-Amz-Function-Error: Unhandled`). */
  error?: LambdaErrorDocument;
  durationMs: number;
}

export interface FunctionStats {
  invocations: number;
  errors: number;
  timeouts: number;
  throttles: number;
  asyncRetries: number;
  asyncFailed: number;
  running: number;
}

export interface DeployedFunction {
  spec: FunctionSpec;
  handler: LocalLambdaHandler;
  invokeConfig?: InvokeConfigSpec;
  permissions: PermissionSpec[];
  stats: FunctionStats;
}

/** Where an asynchronous invocation's outcome goes (an ARN: SQS queue, SNS topic, function). */
export interface DestinationSender {
  send(destinationArn: string, body: string, attributes?: Record<string, string>): Promise<void>;
}

export interface AsyncInvocationEntry {
  function: string;
  requestId: string;
  attempt: number;
  outcome: "delivered" | "failed" | "throttled";
  /** Set on the last failure: where the event went (or "dropped"). */
  deadLettered?: string;
  error?: string;
  durationMs: number;
  latencyMs: number;
  event: unknown;
  source?: string;
}

export interface LambdaRuntimeOptions {
  scope: { region: string; accountId: string };
  clock: Clock;
  destinations: DestinationSender;
  log(message: string): void;
  onAsync?(entry: AsyncInvocationEntry): void;
}

// Lambda's waits before the first and the second retry of a failed asynchronous invocation.
const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000];
// Throttled asynchronous invocations: retried from 1 s up to 5 min apart (simulated).
const THROTTLE_FIRST_MS = 1_000;
const THROTTLE_MAX_MS = 300_000;

function errorDocument(thrown: unknown): LambdaErrorDocument {
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  return {
    errorType: error.name || "Error",
    errorMessage: error.message,
    trace: (error.stack ?? "").split("\n"),
  };
}

const json = (value: unknown): unknown => (value === undefined ? null : JSON.parse(JSON.stringify(value)));

export class LambdaRuntime {
  private readonly functions = new Map<string, DeployedFunction>();
  private readonly abort = new AbortController();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: LambdaRuntimeOptions) {}

  register(fn: Omit<DeployedFunction, "stats">): DeployedFunction {
    const deployed: DeployedFunction = {
      ...fn,
      stats: {
        invocations: 0,
        errors: 0,
        timeouts: 0,
        throttles: 0,
        asyncRetries: 0,
        asyncFailed: 0,
        running: 0,
      },
    };
    this.functions.set(fn.spec.name, deployed);
    return deployed;
  }

  get(name: string): DeployedFunction | undefined {
    return this.functions.get(name);
  }

  list(): DeployedFunction[] {
    return [...this.functions.values()];
  }

  private required(name: string): DeployedFunction {
    const fn = this.functions.get(name);
    if (!fn) {
      const { region, accountId } = this.options.scope;
      throw new LambdaServiceError(
        "ResourceNotFoundException",
        404,
        `Function not found: arn:aws:lambda:${region}:${accountId}:function:${name}`,
      );
    }
    return fn;
  }

  /** The function's resource policy (its permissions), as GetPolicy returns it. */
  policyOf(name: string): string | undefined {
    const fn = this.functions.get(name);
    if (!fn || fn.permissions.length === 0) return undefined;
    return JSON.stringify({
      Version: "2012-10-17",
      Id: "default",
      Statement: fn.permissions.map((p) => ({
        Sid: p.statementId,
        Effect: "Allow",
        Principal: { Service: p.principal },
        Action: p.action,
        Resource: fn.spec.arn,
        ...(p.sourceArn || p.sourceAccount
          ? {
              Condition: {
                ...(p.sourceArn ? { ArnLike: { "AWS:SourceArn": p.sourceArn } } : {}),
                ...(p.sourceAccount ? { StringEquals: { "AWS:SourceAccount": p.sourceAccount } } : {}),
              },
            }
          : {}),
      })),
    });
  }

  private context(fn: DeployedFunction, requestId: string, started: number): Context {
    const unsupported = () => {
      throw new Error("context.done/fail/succeed are not supported locally: return or throw instead");
    };
    const timeoutMs = fn.spec.timeoutSeconds * 1000;
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName: fn.spec.name,
      functionVersion: "$LATEST",
      invokedFunctionArn: fn.spec.arn,
      memoryLimitInMB: String(fn.spec.memoryMb),
      awsRequestId: requestId,
      logGroupName: fn.spec.logGroup,
      logStreamName: `local/[$LATEST]${requestId.replace(/-/g, "")}`,
      getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
      done: unsupported,
      fail: unsupported,
      succeed: unsupported,
    };
  }

  /**
   * One synchronous invocation. A function error is in the outcome (as Lambda's Invoke returns
   * it); a service error (no such function, throttled) is thrown.
   */
  async invoke(name: string, payload: unknown): Promise<InvocationOutcome> {
    const fn = this.required(name);
    const reserved = fn.spec.reservedConcurrency;
    if (reserved !== undefined && fn.stats.running >= reserved) {
      fn.stats.throttles++;
      throw new LambdaServiceError("TooManyRequestsException", 429, "Rate Exceeded.");
    }
    const requestId = randomUUID();
    const started = Date.now();
    fn.stats.invocations++;
    fn.stats.running++;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeoutMs = fn.spec.timeoutSeconds * 1000;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new Error(
            `RequestId: ${requestId} Error: Task timed out after ${fn.spec.timeoutSeconds.toFixed(2)} seconds`,
          );
          error.name = "Sandbox.Timedout";
          reject(error);
        }, timeoutMs);
        timer.unref();
      });
      const result = await Promise.race([
        Promise.resolve().then(() => fn.handler(json(payload), this.context(fn, requestId, started))),
        timedOut,
      ]);
      return { requestId, result: json(result), durationMs: Date.now() - started };
    } catch (thrown) {
      fn.stats.errors++;
      const error = errorDocument(thrown);
      if (error.errorType === "Sandbox.Timedout") fn.stats.timeouts++;
      return { requestId, error, durationMs: Date.now() - started };
    } finally {
      clearTimeout(timer);
      fn.stats.running--;
    }
  }

  /** A handler that invokes the deployed function as Lambda would (for Step Functions' tasks). */
  handlerOf(name: string): LocalLambdaHandler {
    return async (event) => {
      const outcome = await this.invoke(name, event);
      if (outcome.error) {
        const error = new Error(outcome.error.errorMessage);
        error.name = outcome.error.errorType;
        throw error;
      }
      return outcome.result;
    };
  }

  /**
   * Accepts an asynchronous invocation (throws if Lambda would refuse it: no such function) and
   * runs it in the background with Lambda's retries and destinations.
   */
  invokeAsync(name: string, payload: unknown, source?: string): string {
    const fn = this.required(name);
    const requestId = randomUUID();
    const event = json(payload);
    const task = this.runAsync(fn, requestId, event, source).finally(() => this.pending.delete(task));
    this.pending.add(task);
    return requestId;
  }

  private async runAsync(fn: DeployedFunction, requestId: string, event: unknown, source?: string) {
    const { clock } = this.options;
    const config = fn.invokeConfig;
    const retries = config?.maximumRetryAttempts ?? DEFAULT_ASYNC_RETRIES;
    const maxAgeMs = (config?.maximumEventAgeInSeconds ?? DEFAULT_ASYNC_MAX_AGE_SECONDS) * 1000;
    const accepted = clock.now();
    const acceptedReal = Date.now();
    let attempts = 0;
    let throttleDelay = THROTTLE_FIRST_MS;
    let last: InvocationOutcome | undefined;
    let condition: "RetriesExhausted" | "EventAgeExceeded" = "RetriesExhausted";
    try {
      for (;;) {
        if (this.abort.signal.aborted) return;
        if (clock.now() - accepted > maxAgeMs) {
          condition = "EventAgeExceeded";
          break;
        }
        let outcome: InvocationOutcome;
        try {
          outcome = await this.invoke(fn.spec.name, event);
        } catch (error) {
          if (!(error instanceof LambdaServiceError) || error.code !== "TooManyRequestsException")
            throw error;
          this.report(
            fn,
            requestId,
            attempts + 1,
            "throttled",
            event,
            source,
            acceptedReal,
            0,
            error.message,
          );
          await clock.sleep(throttleDelay, this.abort.signal);
          throttleDelay = Math.min(THROTTLE_MAX_MS, throttleDelay * 2);
          continue;
        }
        attempts++;
        last = outcome;
        if (!outcome.error) {
          this.report(fn, requestId, attempts, "delivered", event, source, acceptedReal, outcome.durationMs);
          if (config?.onSuccess)
            await this.sendRecord(config.onSuccess, fn, requestId, event, outcome, attempts, "Success");
          return;
        }
        const final = attempts > retries;
        const where = final ? this.failureDestination(fn) : undefined;
        this.report(
          fn,
          requestId,
          attempts,
          "failed",
          event,
          source,
          acceptedReal,
          outcome.durationMs,
          `${outcome.error.errorType}: ${outcome.error.errorMessage}`,
          final ? (where ?? "dropped") : undefined,
        );
        if (final) break;
        fn.stats.asyncRetries++;
        await clock.sleep(ASYNC_RETRY_DELAYS_MS[attempts - 1] ?? 120_000, this.abort.signal);
      }
      fn.stats.asyncFailed++;
      await this.deadLetter(fn, requestId, event, last, attempts, condition);
    } catch (error) {
      if (!this.abort.signal.aborted)
        this.options.log(
          `lambda: asynchronous invocation of ${fn.spec.name} lost: ${(error as Error).message}`,
        );
    }
  }

  private failureDestination(fn: DeployedFunction): string | undefined {
    return fn.invokeConfig?.onFailure ?? fn.spec.deadLetterTargetArn;
  }

  private report(
    fn: DeployedFunction,
    requestId: string,
    attempt: number,
    outcome: AsyncInvocationEntry["outcome"],
    event: unknown,
    source: string | undefined,
    acceptedReal: number,
    durationMs: number,
    error?: string,
    deadLettered?: string,
  ): void {
    if (outcome !== "delivered")
      this.options.log(
        `lambda: ${fn.spec.name} ${outcome} on asynchronous attempt ${attempt}${deadLettered ? ` (to ${deadLettered})` : ""}${error ? `: ${error}` : ""}`,
      );
    this.options.onAsync?.({
      function: fn.spec.name,
      requestId,
      attempt,
      outcome,
      ...(deadLettered ? { deadLettered } : {}),
      ...(error ? { error } : {}),
      durationMs,
      latencyMs: Date.now() - acceptedReal,
      event,
      ...(source ? { source } : {}),
    });
  }

  /** The event of a failed asynchronous invocation, to its onFailure destination or its DLQ. */
  private async deadLetter(
    fn: DeployedFunction,
    requestId: string,
    event: unknown,
    last: InvocationOutcome | undefined,
    attempts: number,
    condition: "RetriesExhausted" | "EventAgeExceeded",
  ): Promise<void> {
    const onFailure = fn.invokeConfig?.onFailure;
    if (onFailure) {
      await this.sendRecord(onFailure, fn, requestId, event, last, attempts, condition);
      return;
    }
    if (fn.spec.deadLetterTargetArn) {
      // A function's DLQ gets the event itself, the error in message attributes.
      await this.options.destinations.send(fn.spec.deadLetterTargetArn, JSON.stringify(event), {
        RequestID: requestId,
        ErrorCode: "200",
        ErrorMessage: last?.error?.errorMessage ?? condition,
      });
      return;
    }
    this.options.log(`lambda: ${fn.spec.name} dropped a failed asynchronous event (no destination, no DLQ)`);
  }

  /** Lambda's invocation record, as a destination receives it. */
  private async sendRecord(
    destination: string,
    fn: DeployedFunction,
    requestId: string,
    event: unknown,
    outcome: InvocationOutcome | undefined,
    attempts: number,
    condition: string,
  ): Promise<void> {
    const record = {
      version: "1.0",
      timestamp: new Date(this.options.clock.now()).toISOString(),
      requestContext: {
        requestId,
        functionArn: `${fn.spec.arn}:$LATEST`,
        condition,
        approximateInvokeCount: attempts,
      },
      requestPayload: event,
      responseContext: {
        statusCode: 200,
        executedVersion: "$LATEST",
        ...(outcome?.error ? { functionError: "Unhandled" } : {}),
      },
      responsePayload: outcome?.error
        ? {
            errorType: outcome.error.errorType,
            errorMessage: outcome.error.errorMessage,
            trace: outcome.error.trace,
          }
        : (outcome?.result ?? null),
    };
    try {
      await this.options.destinations.send(destination, JSON.stringify(record));
    } catch (error) {
      this.options.log(
        `lambda: ${fn.spec.name}'s destination ${destination} failed: ${(error as Error).message}`,
      );
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.race([
      Promise.allSettled([...this.pending]),
      new Promise((r) => setTimeout(r, 2_000).unref()),
    ]);
  }
}
