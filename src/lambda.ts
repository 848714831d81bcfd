import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import type { ClientFactories } from "./aws/clients.js";
import { isTransientAwsError, TransientAwsError } from "./aws/errors.js";
import { depsFromEnv, type PhoenixDeps } from "./deps.js";

/**
 * The one Lambda wrapper of every Phoenix function (functions/*.ts): middy with the Lambda
 * context in every log line, and one error contract for both state machines:
 * - an AWS error still transient after the SDK's own retries (throttling, 5xx, a dropped
 *   connection) is rethrown as Phoenix.Transient, which every Task retries with backoff;
 * - an error a step throws on purpose keeps its name (Phoenix.LockHeld, Phoenix.Refused, …): that
 *   name is what the ASL's Retry and Catch match on;
 * - anything else is rethrown as it is.
 * Dependencies are built on the first invocation (the cold start), never at import.
 */

/** Powertools' structured logger for one Phoenix function. */
export function functionLogger(fn: string, keys: Record<string, string> = {}): Logger {
  return new Logger({ serviceName: "phoenix", persistentKeys: { function: fn, ...keys } });
}

/** Options every handler factory takes; tests pass a quiet or spied logger. */
export interface HandlerOptions {
  logger?: Logger;
}

export type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

export interface WrapOptions {
  /** Errors that are the workflow working as designed (waiting for a lock): logged at info. */
  expected?: (error: unknown) => boolean;
  /** Clear keys appended during one invocation before the next (per-record keys). */
  resetKeys?: boolean;
}

export function lambdaHandler<E, R>(
  logger: Logger,
  work: (event: E) => Promise<R>,
  options: WrapOptions = {},
): LambdaHandler<E, R> {
  const wrapped = middy(async (event: E): Promise<R> => {
    try {
      return await work(event);
    } catch (error) {
      if (options.expected?.(error))
        logger.info(`waiting: ${(error as Error).message}`, { error: (error as Error).name });
      else logger.error("failed", { error: error as Error });
      if (isTransientAwsError(error) && !(error instanceof TransientAwsError)) {
        throw new TransientAwsError((error as Error).message, { cause: error });
      }
      throw error;
    }
  }).use(injectLambdaContext(logger, options.resetKeys ? { resetKeys: true } : {}));
  return (event, context) => wrapped(event, context) as Promise<R>;
}

/**
 * A function's handler factory, `create<Name>Handler(deps, {logger?})`: the deployed handler gets
 * deps from its environment (deployedHandler), the local cloud and tests give their own. `work`
 * gets the deps and the function's logger and returns what one invocation does.
 */
export function functionHandler<E, R>(
  fn: string,
  work: (deps: PhoenixDeps, logger: Logger) => (event: E) => Promise<R>,
  wrap: WrapOptions = {},
): (deps: PhoenixDeps, options?: HandlerOptions) => LambdaHandler<E, R> {
  return (deps, options = {}) => {
    const logger = options.logger ?? functionLogger(fn);
    return lambdaHandler(logger, work(deps, logger), wrap);
  };
}

/** A handler whose dependencies are built on first use (cold start), not at import. */
export function lazyHandler<E, R>(build: () => LambdaHandler<E, R>): LambdaHandler<E, R> {
  let built: LambdaHandler<E, R> | undefined;
  return (event, context) => {
    built ??= build();
    return built(event, context);
  };
}

/**
 * A function's `handler` export: its factory, given the deps of the deployed environment with
 * the AWS clients it declares (CLIENTS: only those are bundled), on the first invocation.
 */
export function deployedHandler<E, R>(
  create: (deps: PhoenixDeps) => LambdaHandler<E, R>,
  clients: Partial<ClientFactories>,
): LambdaHandler<E, R> {
  return lazyHandler(() => create(depsFromEnv(clients)));
}
