import { autoScaling, dynamo, ec2, kms, sfn, sns, sts } from "../src/aws/client-factories.js";
import { deployedHandler, functionHandler } from "../src/lambda.js";
import type { PlanStepOutput } from "../src/rollout/workflow/contract.js";
import { type PlanStepInput, planStep } from "../src/rollout/workflow/plan-step.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { autoScaling, dynamo, ec2, kms, sfn, sns, sts };

/** Rollout workflow, first state (Plan): gate, supersede, plan, announce. See workflows/ROLLOUT.md. */
export const createRolloutPlanHandler = functionHandler(
  "rollout-plan",
  (deps, logger) =>
    async (event: PlanStepInput): Promise<PlanStepOutput> => {
      const output = await planStep(deps, event);
      logger.info("planned", {
        execution: event.execution,
        outcome: output.rollout.outcome,
        reason: output.rollout.reason,
        imageId: output.rollout.imageId,
        family: output.rollout.family,
      });
      return output;
    },
);

export const handler = deployedHandler(createRolloutPlanHandler, CLIENTS);
