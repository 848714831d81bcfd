import { autoScaling, dynamo, ec2, sfn, sns } from "../src/aws/client-factories.js";
import { runSweep, type SweepReport, sweepIdOfEvent } from "../src/drift/workflow/sweep.js";
import { deployedHandler, functionHandler } from "../src/lambda.js";

/** The AWS clients this function's code uses: only these are bundled into it. */
export const CLIENTS = { autoScaling, dynamo, ec2, sfn, sns };

/**
 * The scheduled drift sweep (rule phoenix-drift-sweep, `drift.schedule`): the same use-case as
 * `phoenix sweep`. Any invocation sweeps every family once; the Scheduled Event's id and time name
 * the sweep, so a retried delivery repeats it without starting anything twice. Returns a summary
 * (the full report is in the audit trail).
 */
export const createSweepHandler = functionHandler(
  "sweep",
  (deps, logger) =>
    async (
      event: unknown,
    ): Promise<
      Pick<SweepReport, "sweepId" | "mode"> & { findings: number; enforced: number; held: number }
    > => {
      const sweepId = sweepIdOfEvent(event);
      const report = await runSweep(deps, { by: "phoenix:sweep", ...(sweepId ? { sweepId } : {}) });
      const { enforced, held } = report.enforcement;
      logger.info("drift sweep", {
        sweepId: report.sweepId,
        findings: report.findings.length,
        enforced: enforced.length,
        held: held.length,
      });
      return {
        sweepId: report.sweepId,
        mode: report.mode,
        findings: report.findings.length,
        enforced: enforced.length,
        held: held.length,
      };
    },
);

export const handler = deployedHandler(createSweepHandler, CLIENTS);
