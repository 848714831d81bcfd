import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { dynamo, ec2, imageBuilder, kms, sfn, sns, ssm } from "../src/aws/client-factories.js";
import type { PhoenixDeps } from "../src/deps.js";
import { maxReceiveCountOf } from "../src/events/targets.js";
import { deployedHandler, functionLogger, type LambdaHandler, lambdaHandler } from "../src/lambda.js";
import {
  handleImageEvent,
  handleImageRecord,
  type OnImageOptions,
  type OnImageResult,
} from "../src/rollout/workflow/image-intake.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, imageBuilder, kms, sfn, sns, ssm };

/** EventBridge → SQS (the image buffer) → rollout: src/rollout/workflow/image-intake.ts decides each event. */

/**
 * The deployed function: Lambda's SQS batch event from the image buffer, each record's body the
 * EventBridge event. Records to redeliver (failed, or deferred) are reported in batchItemFailures.
 */
export function createOnImageHandler(
  deps: PhoenixDeps,
  options: OnImageOptions = {},
): LambdaHandler<SQSEvent, SQSBatchResponse> {
  const logger = options.logger ?? functionLogger("on-image");
  const maxAttempts = options.maxAttempts ?? maxReceiveCountOf("on-image");
  return lambdaHandler(
    logger,
    async (event: SQSEvent): Promise<SQSBatchResponse> => {
      if (!Array.isArray(event?.Records)) {
        // Invoked by hand with an EventBridge event (a sample): decided at once, as the direct handler.
        logger.warn("not an SQS batch: handled as one EventBridge event, decided at once");
        await handleImageEvent(deps, logger, event, { attempt: 1 });
        return { batchItemFailures: [] };
      }
      const records = event.Records;
      const redeliver = await Promise.all(
        records.map((record) => handleImageRecord(deps, logger, record, maxAttempts)),
      );
      return {
        batchItemFailures: records
          .filter((_, i) => redeliver[i])
          .map((record) => ({ itemIdentifier: record.messageId })),
      };
    },
    { resetKeys: true },
  );
}

/**
 * One EventBridge event, invoked directly (by hand with a sample, or in tests): decided at once,
 * nothing deferred, since nothing would deliver it again.
 */
export function createImageEventHandler(
  deps: PhoenixDeps,
  options: OnImageOptions = {},
): LambdaHandler<unknown, OnImageResult> {
  const logger = options.logger ?? functionLogger("on-image");
  return lambdaHandler(logger, (event: unknown) => handleImageEvent(deps, logger, event, { attempt: 1 }));
}

export const handler = deployedHandler(createOnImageHandler, CLIENTS);
