import { autoScaling, dynamo, ec2, sns, sts } from "../src/aws/client-factories.js";
import { deployedHandler, functionHandler } from "../src/lambda.js";
import { InvalidStepInputError, isWaiting } from "../src/rollout/aws/errors.js";
import type { GroupResult, GroupTask } from "../src/rollout/workflow/contract.js";
import {
  abandonStep,
  type GroupStep,
  lockStep,
  parseGroupTask,
  pollStep,
  prepareStep,
  releaseStep,
  startStep,
  versionStep,
} from "../src/rollout/workflow/group-steps.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { autoScaling, dynamo, ec2, sns, sts };

export type RolloutGroupEvent = { step: GroupStep; task: unknown };

/**
 * Rollout workflow, one group's branch (every Task inside the RefreshGroups Map). Each step
 * returns the task with its own result added; release and abandon return the group's result.
 */
export const createRolloutGroupHandler = functionHandler(
  "rollout-group",
  (deps, logger) =>
    async (event: RolloutGroupEvent): Promise<GroupTask | GroupResult> => {
      const task = parseGroupTask(event?.task);
      const context = {
        execution: task.execution,
        group: task.group.name,
        imageId: task.imageId,
        step: event.step,
      };
      switch (event.step) {
        case "lock":
          return { ...task, lock: await lockStep(deps, task) };
        case "prepare": {
          const prep = await prepareStep(deps, task);
          logger.info("prepared", { ...context, action: prep.action, reason: prep.reason });
          return { ...task, prep };
        }
        case "version":
          return { ...task, version: await versionStep(deps, task) };
        case "start": {
          const refresh = await startStep(deps, task);
          logger.info("refresh started", { ...context, ...refresh });
          return { ...task, refresh };
        }
        case "poll": {
          const status = await pollStep(deps, task);
          return status.followUp
            ? {
                ...task,
                status,
                refresh: { refreshId: status.followUp.refreshId, followUps: status.followUp.followUps },
              }
            : { ...task, status };
        }
        case "release": {
          const result = await releaseStep(deps, task);
          logger.info("group done", { ...context, outcome: result.outcome, reason: result.reason });
          return result;
        }
        case "abandon": {
          const result = await abandonStep(deps, task);
          logger.warn("group abandoned", { ...context, outcome: result.outcome, reason: result.reason });
          return result;
        }
        default:
          throw new InvalidStepInputError(`rollout-group: unknown step ${JSON.stringify(event.step)}`);
      }
    },
  { expected: isWaiting },
);

export const handler = deployedHandler(createRolloutGroupHandler, CLIENTS);
