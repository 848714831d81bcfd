import type { PhoenixDeps } from "../../deps.js";
import { IMAGE_STATUS_COMPROMISED } from "../../tags.js";
import { InvalidStepInputError } from "../aws/errors.js";
import { imageMarks, imageSubject, ROLLOUT_ACTOR } from "../aws/image-marks.js";
import { listPauses } from "../aws/pauses.js";
import { endRollout, familyCurrent, markWaveStarted, recordWaveResults } from "../aws/rollout-records.js";
import { describePause, pauseOf } from "../core/pause.js";
import { groupKey } from "../core/place.js";
import type { GroupResult, GroupTask, RolloutContext, WaveStart, WaveVerdict } from "./contract.js";
import { judgeWave } from "./verdict.js";

type Deps = Pick<PhoenixDeps, "clients" | "resources" | "audit" | "now">;

export interface WaveStepInput {
  rollout: RolloutContext;
  /** The wave's index in rollout.waves (the workflow's cursor). */
  index: number;
}

/**
 * Before a wave starts: was the image marked compromised, or has a newer image of the family
 * claimed it? Then this rollout is stopped or superseded and starts no further wave (the waves it already ran keep their result). Otherwise
 * the wave is recorded as started, and each of its groups gets its branch's input.
 */
export async function beginWave(deps: Deps, input: WaveStepInput): Promise<WaveStart> {
  const { rollout } = input;
  const wave = rollout.waves[input.index];
  if (wave === undefined) throw new InvalidStepInputError(`no wave at index ${input.index}`);

  const pause = pauseOf(await listPauses(deps), rollout.family);
  if (pause !== undefined) {
    const reason = `${describePause(pause)} (before wave ${wave.wave})`;
    return notStarted(deps, rollout, wave.wave, reason, true);
  }
  // A compromise found while the image rolls out (src/containment/workflow/trace-image.ts) stops
  // it before its next wave, explicit or not: the gate passed it, but no more groups may take it.
  const compromised = (await imageMarks(deps, rollout.imageId)).find(
    (mark) => mark.status === IMAGE_STATUS_COMPROMISED,
  );
  if (compromised !== undefined) {
    const reason = `${rollout.imageId} was marked compromised${compromised.reason ? ` (${compromised.reason})` : ""}: wave ${wave.wave} and later do not start`;
    if (!rollout.explicit)
      await endRollout(deps, rollout.family, rollout.imageId, { status: "failed", reason });
    return notStarted(deps, rollout, wave.wave, reason);
  }
  if (!rollout.explicit) {
    const current = await familyCurrent(deps, rollout.family);
    if (current !== undefined && current.imageId !== rollout.imageId) {
      const reason = `superseded by ${current.imageId} before wave ${wave.wave}`;
      await endRollout(deps, rollout.family, rollout.imageId, { status: "superseded", reason });
      return notStarted(deps, rollout, wave.wave, reason);
    }
    const started = await markWaveStarted(
      deps,
      rollout.family,
      rollout.imageId,
      rollout.execution,
      wave.wave,
    );
    if (!started) {
      return notStarted(
        deps,
        rollout,
        wave.wave,
        `the rollout is no longer running (superseded or ended) before wave ${wave.wave}`,
      );
    }
  }
  await deps.audit.write(
    {
      subject: imageSubject(rollout.imageId),
      action: "start-wave",
      outcome: "ok",
      actor: rollout.requestedBy,
      execution: rollout.execution,
      imageId: rollout.imageId,
      reason: `wave ${wave.wave}: ${wave.groups.map(groupKey).join(", ")}`,
      details: { family: rollout.family, wave: wave.wave, groups: wave.groups.map(groupKey) },
    },
    `start-wave#${rollout.execution}#${wave.wave}`,
  );
  const tasks: GroupTask[] = wave.groups.map((group) => ({
    execution: rollout.execution,
    family: rollout.family,
    imageId: rollout.imageId,
    wave: wave.wave,
    group,
    pollSeconds: rollout.pollSeconds,
    foreignRefresh: rollout.foreignRefresh,
    foreignWaitSeconds: rollout.foreignWaitSeconds,
    lockTtlSeconds: rollout.lockTtlSeconds,
  }));
  return { go: true, wave: wave.wave, reason: `wave ${wave.wave} started`, tasks };
}

async function notStarted(
  deps: Deps,
  rollout: RolloutContext,
  wave: number,
  reason: string,
  paused = false,
): Promise<WaveStart> {
  await deps.audit.write(
    {
      subject: imageSubject(rollout.imageId),
      action: "start-wave",
      outcome: "skipped",
      actor: ROLLOUT_ACTOR,
      execution: rollout.execution,
      imageId: rollout.imageId,
      reason,
      details: { family: rollout.family, wave },
    },
    `start-wave#${rollout.execution}#${wave}`,
  );
  return { go: false, wave, reason, tasks: [], ...(paused ? { paused: true } : {}) };
}

/** After a wave's groups all ended: the verdict that decides whether the next wave may start. */
export async function endWave(
  deps: Deps,
  input: WaveStepInput & { results: GroupResult[] },
): Promise<WaveVerdict> {
  const { rollout } = input;
  const wave = rollout.waves[input.index];
  if (wave === undefined) throw new InvalidStepInputError(`no wave at index ${input.index}`);
  const verdict = judgeWave(input.results, wave.wave, input.index + 1 >= rollout.waveCount);
  if (!rollout.explicit)
    await recordWaveResults(
      deps,
      rollout.family,
      rollout.imageId,
      rollout.execution,
      wave.wave,
      input.results,
    );
  await deps.audit.write(
    {
      subject: imageSubject(rollout.imageId),
      action: "end-wave",
      outcome: verdict.ok ? "ok" : "failed",
      actor: rollout.requestedBy,
      execution: rollout.execution,
      imageId: rollout.imageId,
      reason: verdict.summary,
      details: { family: rollout.family, wave: wave.wave, results: input.results },
    },
    `end-wave#${rollout.execution}#${wave.wave}`,
  );
  return verdict;
}
