import { depsFromEnv, type PhoenixDeps } from "../src/deps.js";
import type { PlanStepOutput } from "../src/rollout/workflow/contract.js";
import {
  functionLogger,
  type HandlerOptions,
  type LambdaHandler,
  lambdaHandler,
  lazyHandler,
} from "../src/rollout/workflow/lambda.js";
import { type PlanStepInput, planStep } from "../src/rollout/workflow/plan-step.js";

/** Rollout workflow, first state (Plan): gate, supersede, plan, announce. See workflows/ROLLOUT.md. */
export function createRolloutPlanHandler(
  deps: PhoenixDeps,
  options: HandlerOptions = {},
): LambdaHandler<PlanStepInput, PlanStepOutput> {
  const logger = options.logger ?? functionLogger("rollout-plan");
  return lambdaHandler(logger, async (event: PlanStepInput) => {
    const output = await planStep(deps, event);
    logger.info("planned", {
      execution: event.execution,
      outcome: output.rollout.outcome,
      reason: output.rollout.reason,
      imageId: output.rollout.imageId,
      family: output.rollout.family,
    });
    return output;
  });
}

export const handler = lazyHandler(() => createRolloutPlanHandler(depsFromEnv()));
