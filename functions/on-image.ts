import type { Logger } from "@aws-lambda-powertools/logger";
import { ExecutionAlreadyExists, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { dynamo, ec2, imageBuilder, kms, sfn, sns, ssm } from "../src/aws/client-factories.js";
import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";
import { familyFromParameterName } from "../src/images/parameters.js";
import { parseImageTrigger } from "../src/images/triggers.js";
import { checkImage } from "../src/rollout/aws/image-check.js";
import { imageSubject, ROLLOUT_ACTOR } from "../src/rollout/aws/image-marks.js";
import { type AmiLookup, amiOfParameter, amisOfImageBuild } from "../src/rollout/aws/image-sources.js";
import { supersedeDecision } from "../src/rollout/aws/supersede-check.js";
import { imageFamily } from "../src/rollout/gate.js";
import { rolloutExecutionName } from "../src/rollout/workflow/execution-name.js";
import {
  functionLogger,
  type LambdaHandler,
  lambdaHandler,
  lazyHandler,
} from "../src/rollout/workflow/lambda.js";
import { notifyRollout } from "../src/rollout/workflow/notifications.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, ec2, imageBuilder, kms, sfn, sns, ssm };

/**
 * EventBridge → rollout. Takes an AMI State Change, an Image Builder Image State Change or a
 * Parameter Store Change, finds the AMI(s) it announces, gates each, and starts the rollout
 * state machine for those that pass. Events that do not apply are ignored with the reason
 * logged; malformed ones are rejected (logged as errors, nothing done, no retry: the same
 * event would fail the same way).
 */

export interface ImageDecision {
  imageId: string;
  action: "started" | "already-started" | "refused" | "ignored";
  reason: string;
  family?: string;
  executionArn?: string;
}

export type OnImageResult =
  | { status: "ignored"; reason: string }
  | { status: "rejected"; error: string }
  | { status: "handled"; images: ImageDecision[] };

export interface OnImageOptions {
  logger?: Logger;
}

interface Candidate {
  imageId: string;
  /** The family a parameter name announced: the image's tag must agree. */
  expectedFamily?: string;
}

export function createOnImageHandler(
  deps: PhoenixDeps,
  options: OnImageOptions = {},
): LambdaHandler<unknown, OnImageResult> {
  const logger = options.logger ?? functionLogger("on-image");
  return lambdaHandler(logger, async (event: unknown) => {
    const trigger = parseImageTrigger(event, deps.policy);
    if (trigger.kind === "ignored") {
      logger.info(`ignored: ${trigger.reason}`, { reason: trigger.reason });
      return { status: "ignored", reason: trigger.reason };
    }
    if (trigger.kind === "invalid") {
      logger.error(`malformed image event rejected: ${trigger.error}`, { error: trigger.error });
      return { status: "rejected", error: trigger.error };
    }
    if (trigger.region !== deps.region) {
      const reason = `event from ${trigger.region}, Phoenix here runs in ${deps.region}`;
      logger.info(`ignored: ${reason}`, { reason });
      return { status: "ignored", reason };
    }
    const lookup = await candidates(deps, trigger);
    if (!lookup.ok) {
      logger.info(`ignored: ${lookup.reason}`, { reason: lookup.reason });
      return { status: "ignored", reason: lookup.reason };
    }
    const eventId =
      typeof (event as { id?: unknown }).id === "string" ? (event as { id: string }).id : undefined;
    const images: ImageDecision[] = [];
    for (const candidate of lookup.candidates) {
      const decision = await decide(deps, candidate, eventId);
      const log = decision.action === "refused" ? logger.warn.bind(logger) : logger.info.bind(logger);
      log(`${decision.imageId}: ${decision.action}: ${decision.reason}`, { ...decision });
      images.push(decision);
    }
    return { status: "handled", images };
  });
}

async function candidates(
  deps: PhoenixDeps,
  trigger: Extract<ReturnType<typeof parseImageTrigger>, { kind: "ami" | "imagebuilder" | "parameter" }>,
): Promise<{ ok: true; candidates: Candidate[] } | { ok: false; reason: string }> {
  if (trigger.kind === "ami") return { ok: true, candidates: [{ imageId: trigger.imageId }] };
  let lookup: AmiLookup;
  let expectedFamily: string | undefined;
  if (trigger.kind === "imagebuilder") {
    lookup = await amisOfImageBuild(deps, trigger.imageBuildVersionArn);
  } else {
    lookup = await amiOfParameter(deps, trigger.name);
    expectedFamily = familyFromParameterName(trigger.name, deps.policy);
  }
  if (!lookup.ok) return lookup;
  return {
    ok: true,
    candidates: lookup.imageIds.map((imageId) => ({
      imageId,
      ...(expectedFamily ? { expectedFamily } : {}),
    })),
  };
}

async function decide(
  deps: PhoenixDeps,
  candidate: Candidate,
  eventId: string | undefined,
): Promise<ImageDecision> {
  const { imageId } = candidate;
  const check = await checkImage(
    deps,
    imageId,
    candidate.expectedFamily ? { expectedFamily: candidate.expectedFamily } : {},
  );
  if (!check.found) return { imageId, action: "ignored", reason: check.reason };
  // An image without a family is not a golden image: nothing to roll out, nothing to refuse.
  if (imageFamily(check.image) === undefined) {
    return { imageId, action: "ignored", reason: "the image has no phoenix:image-family tag" };
  }
  if (!check.gate.pass) return refuse(deps, imageId, check.gate.reasons, eventId);

  const family = check.gate.family;
  const decision = await supersedeDecision(deps, family, {
    imageId,
    creationDate: check.image.CreationDate ?? "",
  });
  if (!decision.proceed) return { imageId, family, action: "ignored", reason: decision.reason };

  const name = rolloutExecutionName(family, imageId);
  try {
    const { executionArn } = await deps.clients.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.resources.rolloutStateMachineArn,
        name,
        // Only what identifies the rollout: the same image from two triggers is the same input.
        input: JSON.stringify({ family, imageId }),
      }),
    );
    await deps.audit.write(
      {
        subject: imageSubject(imageId),
        action: "start-rollout",
        outcome: "ok",
        actor: ROLLOUT_ACTOR,
        imageId,
        reason: `${decision.reason}; execution ${name}`,
        ...(executionArn !== undefined ? { execution: executionArn } : {}),
        details: { family, eventId },
      },
      `start-rollout#${name}`,
    );
    return {
      imageId,
      family,
      action: "started",
      reason: decision.reason,
      ...(executionArn ? { executionArn } : {}),
    };
  } catch (error) {
    if (!(error instanceof ExecutionAlreadyExists) && (error as Error).name !== "ExecutionAlreadyExists")
      throw error;
    return { imageId, family, action: "already-started", reason: `execution ${name} already exists` };
  }
}

async function refuse(
  deps: PhoenixDeps,
  imageId: string,
  reasons: string[],
  eventId: string | undefined,
): Promise<ImageDecision> {
  const reason = reasons.join("; ");
  await deps.audit.write(
    {
      subject: imageSubject(imageId),
      action: "gate",
      outcome: "refused",
      actor: ROLLOUT_ACTOR,
      imageId,
      reason,
      details: { reasons, eventId },
    },
    eventId !== undefined ? `gate#event#${eventId}` : undefined,
  );
  await notifyRollout(deps, {
    subject: `Image ${imageId} refused: not rolled out`,
    message: `Phoenix will not roll out ${imageId}:\n- ${reasons.join("\n- ")}`,
    kind: "image-refused",
    severity: "warning",
    data: { imageId, reasons },
  });
  return { imageId, action: "refused", reason };
}

export const handler = lazyHandler(() => createOnImageHandler(depsFromEnv(CLIENTS)));
