import type { PhoenixDeps } from "../../deps.js";
import { checkImage } from "../aws/image-check.js";
import {
  familyCompleted,
  familyCurrent,
  familyRollouts,
  markFamilyImageBlocked,
} from "../aws/rollout-records.js";
import { rollbackExecutionName } from "../core/execution-name.js";
import { isNewer } from "../core/supersede.js";
import type { RolloutRequest } from "./contract.js";
import { startManualRollout } from "./manual-rollout.js";

export type RollbackOutcome =
  | { kind: "started" | "already-started"; imageId: string; execution: string; reason: string }
  | { kind: "not-current" | "no-good-image"; reason: string };

/**
 * An image of the family was marked compromised: its records say so (blocked), and if it is the
 * family's current image (rolled out, or rolling out), the family is rolled back onto the newest
 * image that rolled out successfully, is not blocked, and passes the image gate now (an image
 * rejected or compromised since, deprecated or deregistered is passed over: rolling back onto it
 * would be refused by the workflow's gate and leave the family on the bad image). The rollback is
 * a rollout like any other (the workflow's gate, pause, plan, waves, budgets and locks); only its
 * image is older, which
 * supersede allows because the newer one is blocked. Repeatable: one execution per family, bad
 * and good image.
 */
export async function rollBackFamily(
  deps: Pick<PhoenixDeps, "clients" | "resources" | "now" | "audit" | "policy" | "accountId">,
  request: { family: string; from: string; reason: string; actor: string },
): Promise<RollbackOutcome> {
  const { family, from } = request;
  await markFamilyImageBlocked(deps, family, from);
  const [current, completed] = await Promise.all([
    familyCurrent(deps, family),
    familyCompleted(deps, family),
  ]);
  if (current?.imageId !== from && completed?.imageId !== from) {
    return {
      kind: "not-current",
      reason: `${from} is not family ${family}'s current image (${completed?.imageId ?? current?.imageId ?? "none rolled out"}): nothing to roll back`,
    };
  }
  // The newest by CreationDate, as supersede orders images, that the gate lets through today.
  const candidates = (await familyRollouts(deps, family))
    .filter((record) => record.status === "succeeded" && !record.blocked && record.imageId !== from)
    .sort((a, b) => (isNewer(a, b) ? -1 : 1));
  const passedOver: string[] = [];
  let good: (typeof candidates)[number] | undefined;
  for (const candidate of candidates) {
    const check = await checkImage(deps, candidate.imageId, { expectedFamily: family });
    if (check.found && check.gate.pass) {
      good = candidate;
      break;
    }
    passedOver.push(
      // (found and passing broke out above; the inner test only narrows the type)
      `${candidate.imageId} (${check.found ? (check.gate.pass ? "" : check.gate.reasons.join("; ")) : check.reason})`,
    );
  }
  const skipped =
    passedOver.length > 0 ? `; passed over, refused by the gate now: ${passedOver.join(", ")}` : "";
  if (!good) {
    return {
      kind: "no-good-image",
      reason: `family ${family} has no earlier image that rolled out successfully and passes the gate now${skipped}: its groups stay on ${from} until a new image is published`,
    };
  }
  const execution = rollbackExecutionName(family, good.imageId, from);
  const input: RolloutRequest & { requestedBy: string } = {
    imageId: good.imageId,
    family,
    requestedBy: request.actor,
  };
  const reason = `rolled back from compromised ${from} onto ${good.imageId}, the last image of ${family} that rolled out successfully${skipped}: ${request.reason}`;
  const started = await startManualRollout(deps, {
    stateMachineArn: deps.resources.rolloutStateMachineArn,
    name: execution,
    request: input,
    reason,
    details: { rollbackFrom: from },
    retried: true,
  });
  return { kind: started.created ? "started" : "already-started", imageId: good.imageId, execution, reason };
}
