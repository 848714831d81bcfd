import { blamesImage, type RefreshOutcome } from "../core/refresh-outcome.js";
import type { GroupOutcome, GroupResult, WaveVerdict } from "./contract.js";

/** Outcomes that let the next wave start: the group is on the image, or policy left it alone. */
const FINE: ReadonlySet<GroupOutcome> = new Set(["succeeded", "skipped"]);

/**
 * Judges a wave from its groups' results. Any group that did not end fine fails the wave (later
 * waves never start). The image is rejected only when a refresh of it failed or rolled back:
 * a lock never freed or a step that errored says nothing about the image, and rejecting a good
 * image for it would block the family until someone publishes again.
 */
export function judgeWave(results: readonly GroupResult[], wave: number, last: boolean): WaveVerdict {
  // A paused group is not a failure (nothing went wrong with it or the image): the rollout stops.
  const failures = results.filter((result) => !FINE.has(result.outcome) && result.outcome !== "paused");
  const paused = results.filter((result) => result.outcome === "paused");
  const rejectImage = failures.some(
    (result) => isRefreshOutcome(result.outcome) && blamesImage(result.outcome),
  );
  const count = (outcome: GroupOutcome) => results.filter((result) => result.outcome === outcome).length;
  const pausedNote =
    paused.length > 0
      ? `, ${paused.length} not started (paused: ${paused.map((p) => p.group).join(", ")})`
      : "";
  const summary =
    failures.length === 0
      ? `wave ${wave}: ${count("succeeded")} refreshed, ${count("skipped")} skipped${pausedNote}`
      : `wave ${wave} failed: ${failures.map((f) => `${f.group} ${f.outcome}${f.reason ? ` (${f.reason})` : ""}`).join("; ")}${pausedNote}`;
  return { wave, ok: failures.length === 0, rejectImage, last, failures, paused: paused.length > 0, summary };
}

function isRefreshOutcome(outcome: GroupOutcome): outcome is RefreshOutcome {
  return (
    outcome === "succeeded" || outcome === "failed" || outcome === "rolled-back" || outcome === "cancelled"
  );
}
