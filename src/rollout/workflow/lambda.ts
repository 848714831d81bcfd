import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import {
  isTransientAwsError,
  LockHeldError,
  RefreshInProgressError,
  TransientAwsError,
} from "../aws/errors.js";

/** Powertools' structured logger for one Phoenix function. */
export function functionLogger(fn: string): Logger {
  return new Logger({ serviceName: "phoenix", persistentKeys: { function: fn } });
}

/** Options every Phoenix rollout handler factory takes; tests pass a quiet or spied logger. */
export interface HandlerOptions {
  logger?: Logger;
}

export type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

/**
 * Wraps a step in middy with the Lambda context in every log line. An AWS error that is still
 * transient after the SDK's own retries is rethrown as Phoenix.Transient, the name the state
 * machine's Retry matches, so the step is retried later with backoff instead of failing.
 */
export function lambdaHandler<E, R>(logger: Logger, work: (event: E) => Promise<R>): LambdaHandler<E, R> {
  const wrapped = middy(async (event: E): Promise<R> => {
    try {
      return await work(event);
    } catch (error) {
      // Waiting for a lock or for someone else's refresh is the workflow working as designed.
      if (error instanceof LockHeldError || error instanceof RefreshInProgressError) {
        logger.info(`waiting: ${error.message}`, { error: error.name });
      } else {
        logger.error("step failed", { error: error as Error });
      }
      if (isTransientAwsError(error) && !(error instanceof TransientAwsError)) {
        throw new TransientAwsError((error as Error).message, { cause: error });
      }
      throw error;
    }
  }).use(injectLambdaContext(logger));
  return (event, context) => wrapped(event, context) as Promise<R>;
}

/** A handler whose dependencies are built on first use (cold start), not at import. */
export function lazyHandler<E, R>(build: () => LambdaHandler<E, R>): LambdaHandler<E, R> {
  let built: LambdaHandler<E, R> | undefined;
  return (event, context) => {
    built ??= build();
    return built(event, context);
  };
}
