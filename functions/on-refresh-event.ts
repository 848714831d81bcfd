import { dynamo, sns } from "../src/aws/client-factories.js";
import { deployedHandler, functionHandler } from "../src/lambda.js";
import { groupSubject, ROLLOUT_ACTOR } from "../src/rollout/aws/image-marks.js";
import { findPhoenixRefresh } from "../src/rollout/aws/refresh.js";
import * as z from "../src/validation/zod.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { dynamo, sns };

/**
 * Instance refresh lifecycle events (Started, Succeeded, Failed, Cancelled, Checkpoint Reached,
 * Rollback …). They are best effort, so the rollout workflow does not depend on them: it polls
 * DescribeInstanceRefreshes. This handler only records what happened to refreshes Phoenix
 * started (the audit trail shows them next to the workflow's own steps) and logs the others.
 */

const DETAIL_TYPE_PREFIX = "EC2 Auto Scaling Instance Refresh ";

const refreshEventSchema = z.object({
  source: z.literal("aws.autoscaling"),
  "detail-type": z.string().check(z.startsWith(DETAIL_TYPE_PREFIX)),
  id: z.optional(z.string()),
  time: z.optional(z.string()),
  detail: z.looseObject({
    AutoScalingGroupName: z.string().check(z.minLength(1)),
    InstanceRefreshId: z.string().check(z.minLength(1)),
  }),
});

export type OnRefreshEventResult =
  | { status: "rejected"; error: string }
  | { status: "observed"; phoenix: boolean; group: string; refreshId: string; event: string };

export const createOnRefreshEventHandler = functionHandler(
  "on-refresh-event",
  (deps, logger) =>
    async (event: unknown): Promise<OnRefreshEventResult> => {
      const parsed = refreshEventSchema.safeParse(event);
      if (!parsed.success) {
        const error = parsed.error.issues
          .map((i) => `${i.path.join(".") || "event"}: ${i.message}`)
          .join("; ");
        logger.error(`not an instance refresh event: ${error}`, { error });
        return { status: "rejected", error };
      }
      const { detail } = parsed.data;
      const what = parsed.data["detail-type"].slice(DETAIL_TYPE_PREFIX.length);
      const group = detail.AutoScalingGroupName;
      const refreshId = detail.InstanceRefreshId;
      const record = await findPhoenixRefresh(deps, group, refreshId);
      if (record === undefined) {
        logger.info(`refresh ${refreshId} of ${group} ${what}: not started by Phoenix`, {
          group,
          refreshId,
          event: what,
        });
        return { status: "observed", phoenix: false, group, refreshId, event: what };
      }
      await deps.audit.write(
        {
          subject: groupSubject(group),
          action: "refresh-event",
          outcome: "ok",
          actor: ROLLOUT_ACTOR,
          execution: record.execution,
          imageId: record.imageId,
          reason: `instance refresh ${refreshId} ${what}`,
          details: { refreshId, event: what, detail },
        },
        `refresh-event#${refreshId}#${parsed.data.id ?? what}`,
      );
      logger.info(`refresh ${refreshId} of ${group} ${what}`, {
        group,
        refreshId,
        event: what,
        execution: record.execution,
      });
      return { status: "observed", phoenix: true, group, refreshId, event: what };
    },
);

export const handler = deployedHandler(createOnRefreshEventHandler, CLIENTS);
