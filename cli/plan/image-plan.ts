import type { Connection } from "../../ops/connect.js";
import { checkImage } from "../../src/rollout/aws/image-check.js";
import { planAcross } from "../../src/rollout/aws/places.js";
import { familyCompleted, inFlightRollouts } from "../../src/rollout/aws/rollout-records.js";
import { manualRolloutName } from "../../src/rollout/core/execution-name.js";
import { formatPlan } from "../../src/rollout/core/format-plan.js";
import type { RolloutPlan } from "../../src/rollout/core/plan.js";
import { decideSupersede, type SupersedeDecision } from "../../src/rollout/core/supersede.js";

/** What a rollout of one image would do, computed with reads only. */
export interface ImagePlan {
  kind: "image";
  imageId: string;
  /** The execution `phoenix rollout` (or on-image, for a family) would start. */
  execution?: string;
  gate: { pass: true; family: string } | { pass: false; reasons: string[] };
  supersede?: Pick<SupersedeDecision, "proceed" | "reason"> & { cancels: string[] };
  plan?: RolloutPlan;
  verdict: string;
}

/**
 * The rollout workflow's plan step without its writes: the same gate (checkImage), the same
 * group descriptions and the same pure planner. The supersede check reads the family's records
 * as they stand (the workflow would also close records of executions that ended unannounced).
 */
export async function planImage(
  connection: Connection,
  imageId: string,
  selector: { family?: string; groups?: string[] },
): Promise<ImagePlan> {
  const { deps } = connection;
  const check = await checkImage(deps, imageId, selector.family ? { expectedFamily: selector.family } : {});
  if (!check.found) {
    return {
      kind: "image",
      imageId,
      gate: { pass: false, reasons: [check.reason] },
      verdict: `refused: ${check.reason}`,
    };
  }
  if (!check.gate.pass) {
    return {
      kind: "image",
      imageId,
      gate: check.gate,
      verdict: `refused by the image gate: ${check.gate.reasons.join("; ")}`,
    };
  }
  const family = check.gate.family;
  const explicit = selector.groups !== undefined && selector.groups.length > 0;
  const execution = manualRolloutName(imageId, explicit ? { groups: selector.groups! } : { family });
  let supersede: ImagePlan["supersede"];
  if (!explicit) {
    const [inFlight, lastCompleted] = await Promise.all([
      inFlightRollouts(deps, family),
      familyCompleted(deps, family),
    ]);
    const decision = decideSupersede({
      image: { imageId, creationDate: check.image.CreationDate ?? "" },
      inFlight,
      ...(lastCompleted ? { lastCompleted } : {}),
    });
    supersede = {
      proceed: decision.proceed,
      reason: decision.reason,
      cancels: decision.cancel.map((c) => `${c.imageId}: ${c.reason}`),
    };
    if (!decision.proceed)
      return {
        kind: "image",
        imageId,
        execution,
        gate: check.gate,
        supersede,
        verdict: `not rolled out: ${decision.reason}`,
      };
  }
  const { plan } = await planAcross(deps, {
    image: check.image,
    family,
    ...(explicit ? { explicitGroups: selector.groups! } : {}),
  });
  const count = plan.waves.reduce((sum, wave) => sum + wave.groups.length, 0);
  return {
    kind: "image",
    imageId,
    execution,
    gate: check.gate,
    ...(supersede ? { supersede } : {}),
    plan,
    verdict:
      count === 0 ? "nothing to refresh" : `would refresh ${count} group(s) in ${plan.waves.length} wave(s)`,
  };
}

export function formatImagePlan(result: ImagePlan, bakeMinutes: number): string[] {
  const lines = [`Plan for image ${result.imageId} (dry run: nothing changed)`];
  if (!result.gate.pass) {
    lines.push("Image gate: REFUSED");
    for (const reason of result.gate.reasons) lines.push(`  - ${reason}`);
    lines.push("The rollout workflow would stop at its plan step, audit the refusal and notify.");
    return lines;
  }
  lines.push(`Image gate: passed (family ${result.gate.family})`);
  if (result.supersede) {
    lines.push(
      `Ordering: ${result.supersede.proceed ? "proceed" : "superseded"} (${result.supersede.reason})`,
    );
    for (const cancel of result.supersede.cancels) lines.push(`  would supersede ${cancel}`);
  }
  if (result.execution) lines.push(`Execution: ${result.execution}`);
  if (result.plan) {
    lines.push(...formatPlan(result.plan).split("\n"));
    if (result.plan.waves.length > 1)
      lines.push(`Each wave bakes ${bakeMinutes} min before the next starts.`);
    lines.push(
      "Per group: lock the group, create a launch template version with the image, start an instance refresh (auto rollback per preferences), poll it to the end, release the lock.",
    );
  }
  lines.push(`Verdict: ${result.verdict}`);
  return lines;
}
