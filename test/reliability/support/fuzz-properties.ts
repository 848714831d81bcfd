import { Logger } from "@aws-lambda-powertools/logger";
import fc from "fast-check";
import { createOnFindingHandler } from "../../../functions/on-finding.js";
import { createImageEventHandler } from "../../../functions/on-image.js";
import { createOnRefreshEventHandler } from "../../../functions/on-refresh-event.js";
import { parsePolicy } from "../../../src/policy/index.js";
import { lambdaContext, sqsBatch } from "../../support/lambda-events.js";
import { allowedFindingEffects, forbiddenCalls } from "./effects.js";
import { findingBody, imageEvent, refreshEvent } from "./hostile-events.js";
import { stubDeps } from "./stub-deps.js";

process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

/** Errors that mean the code itself broke on the input, not that it refused it. */
const CRASHES = ["TypeError", "RangeError", "ReferenceError", "SyntaxError", "InternalError"];

export function isCleanError(error: unknown): boolean {
  return error instanceof Error && !CRASHES.includes(error.name) && error.message.length > 0;
}

const quiet = () => new Logger({ serviceName: "phoenix-fuzz", logLevel: "SILENT" });
const INSTANCES = ["i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60002"];
const IMAGES = ["ami-0a1b2c3d4e5f60001"];
const GROUPS = ["web-frontend", "api"];

/**
 * Every trigger, fed hostile events, with clients that never leave the process. Properties:
 * on-finding never reports a record for redelivery (nothing transient can happen here, so a
 * failure would be a crash turned into a retry storm) and changes nothing beyond what the
 * router allows; on-image and on-refresh-event return or throw a clean error and change nothing.
 */
export async function fuzzTriggers(
  numRuns: number,
  seed?: number,
): Promise<{ onFindingCalls: number; onImageCalls: number; onRefreshCalls: number }> {
  const reached = { onFindingCalls: 0, onImageCalls: 0, onRefreshCalls: 0 };
  const policy = parsePolicy({});
  const params = { numRuns, ...(seed !== undefined ? { seed } : {}) };

  const finding = stubDeps(policy);
  const onFinding = createOnFindingHandler(finding.deps);
  await fc.assert(
    fc.asyncProperty(fc.array(findingBody(INSTANCES), { minLength: 1, maxLength: 10 }), async (bodies) => {
      finding.sent.length = 0;
      const result = await onFinding(sqsBatch(bodies), lambdaContext("on-finding"));
      reached.onFindingCalls += finding.sent.length;
      if (result.batchItemFailures.length > 0)
        throw new Error("on-finding asked SQS to redeliver a hostile record");
      const allowed = new Set(bodies.flatMap((b) => [...allowedFindingEffects(b, policy)]));
      const forbidden = forbiddenCalls(finding.sent, allowed);
      if (forbidden.length > 0) throw new Error(`on-finding made forbidden calls: ${forbidden.join(", ")}`);
    }),
    params,
  );

  const image = stubDeps(policy);
  const onImage = createImageEventHandler(image.deps, { logger: quiet() });
  await fc.assert(
    fc.asyncProperty(imageEvent(IMAGES), async (event) => {
      image.sent.length = 0;
      try {
        await onImage(event, lambdaContext("on-image"));
      } catch (error) {
        if (!isCleanError(error)) throw new Error(`on-image crashed: ${(error as Error)?.stack ?? error}`);
      }
      reached.onImageCalls += image.sent.length;
      const forbidden = forbiddenCalls(image.sent, new Set(["sns:Publish"]));
      if (forbidden.length > 0) throw new Error(`on-image made forbidden calls: ${forbidden.join(", ")}`);
    }),
    params,
  );

  const refresh = stubDeps(policy);
  const onRefresh = createOnRefreshEventHandler(refresh.deps, { logger: quiet() });
  await fc.assert(
    fc.asyncProperty(refreshEvent(GROUPS), async (event) => {
      refresh.sent.length = 0;
      try {
        await onRefresh(event, lambdaContext("on-refresh-event"));
      } catch (error) {
        if (!isCleanError(error))
          throw new Error(`on-refresh-event crashed: ${(error as Error)?.stack ?? error}`);
      }
      reached.onRefreshCalls += refresh.sent.length;
      const forbidden = forbiddenCalls(refresh.sent, new Set());
      if (forbidden.length > 0)
        throw new Error(`on-refresh-event made forbidden calls: ${forbidden.join(", ")}`);
    }),
    params,
  );
  return reached;
}
