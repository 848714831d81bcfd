import type { PhoenixDeps } from "../../deps.js";
import { imageSubject, markImageRejected, ROLLOUT_ACTOR } from "../aws/image-marks.js";
import { endRollout, getRollout, recordFamilyCompleted } from "../aws/rollout-records.js";
import { type AccountResult, accountResults, describeAccountResults } from "../core/account-results.js";
import { groupKey } from "../core/place.js";
import type { GroupResult, RolloutContext, WaveStart, WaveVerdict } from "./contract.js";
import { errorMessage } from "./group-steps.js";
import { notifyRollout } from "./notifications.js";

/**
 * How a rollout ends: succeeded, failed (a wave failed), superseded (a newer image took over),
 * or errored (a step failed for good). Each ends the rollout's record, audits, and notifies.
 * The returned `cause` is what the workflow's Fail state reports.
 */

type Deps = Pick<
  PhoenixDeps,
  "clients" | "resources" | "audit" | "notifier" | "now" | "accountId" | "region"
>;

/**
 * The rollout's results by account and region: the waves' group results (their end-wave audit
 * records, named and family rollouts alike) and the groups the plan could not roll.
 */
async function resultsByAccount(deps: Deps, rollout: RolloutContext): Promise<AccountResult[]> {
  const records = await deps.audit.history(imageSubject(rollout.imageId));
  const ran = records
    .filter((record) => record.action === "end-wave" && record.execution === rollout.execution)
    .flatMap((record) => (record.details?.results as GroupResult[] | undefined) ?? []);
  return accountResults(
    [
      ...ran.map((result) => ({ group: result.group, outcome: result.outcome })),
      ...(rollout.notRolled ?? []).map((group) => ({ group: group.name, outcome: "not-rolled" })),
    ],
    { accountId: deps.accountId, region: deps.region },
  );
}

/** The per-account lines of a message, when the rollout reached more than Phoenix's own account. */
function byAccountText(accounts: readonly AccountResult[]): string {
  if (accounts.length < 2) return "";
  return `\nBy account:\n${describeAccountResults(accounts)
    .map((line) => `- ${line}`)
    .join("\n")}`;
}

export interface FinishResult {
  status: "succeeded" | "incomplete" | "failed" | "superseded" | "paused" | "errored";
  cause: string;
}

/**
 * Every wave ran and succeeded (or nothing could be planned). When some groups of the rollout could
 * not be rolled (the plan's problems, or named groups it excluded), the rollout is incomplete:
 * its record, audit and notification say so, the family's last completed image does not move, and
 * the workflow ends failed (Phoenix.RolloutIncomplete), never succeeded.
 */
export async function rolloutSucceeded(
  deps: Deps,
  input: { rollout: RolloutContext },
): Promise<FinishResult> {
  const { rollout } = input;
  const groups = rollout.waves.flatMap((wave) => wave.groups.map(groupKey));
  const notRolled = rollout.notRolled ?? [];
  const rolled = `${rollout.imageId} rolled out to ${groups.length} group(s) of ${rollout.family} in ${rollout.waveCount} wave(s)`;
  const accounts = await resultsByAccount(deps, rollout);
  if (notRolled.length > 0) {
    const cause = `${rolled}, but ${notRolled.length} group(s) could not be rolled: ${notRolled
      .map((group) => `${group.name} (${group.reason})`)
      .join("; ")}`;
    await closeRollout(deps, rollout, "incomplete", cause, accounts);
    await notifyRollout(deps, {
      subject: `Rollout INCOMPLETE: ${rollout.imageId} to ${rollout.family}, ${notRolled.length} group(s) not rolled`,
      message: `${cause}.${byAccountText(accounts)}`,
      kind: "rollout",
      severity: "critical",
      data: {
        ...about(rollout),
        groups,
        notRolled,
        accounts,
      },
    });
    return { status: "incomplete", cause };
  }
  const cause = rolled;
  if (!rollout.explicit) {
    await endRollout(deps, rollout.family, rollout.imageId, {
      status: "succeeded",
      reason: cause,
      execution: rollout.execution,
    });
    // Only this execution's success counts, and never a compromised image's: a rollout that was
    // marked compromised while it finished must not become the family's last good image.
    const record = await getRollout(deps, rollout.family, rollout.imageId);
    if (
      record !== undefined &&
      record.execution === rollout.execution &&
      record.status === "succeeded" &&
      !record.blocked
    ) {
      await recordFamilyCompleted(deps, rollout.family, {
        imageId: rollout.imageId,
        creationDate: record.creationDate,
        execution: rollout.execution,
      });
    }
  }
  await writeAudit(deps, rollout, "ok", cause, { accounts });
  await notifyRollout(deps, {
    subject: `Rollout succeeded: ${rollout.imageId} to ${rollout.family}`,
    message: `${cause}: ${groups.join(", ")}.${byAccountText(accounts)}`,
    kind: "rollout",
    severity: "info",
    data: { ...about(rollout), groups, accounts },
  });
  return { status: "succeeded", cause };
}

/**
 * A wave failed: later waves never start. When a refresh of the image failed or rolled back,
 * the image is marked rejected (audit record first, then the tag) so no rollout picks it again.
 */
export async function rolloutFailed(
  deps: Deps,
  input: { rollout: RolloutContext; verdict: WaveVerdict },
): Promise<FinishResult> {
  const { rollout, verdict } = input;
  const first = verdict.failures[0];
  const blame = first ? `${first.group} ${first.outcome}: ${first.reason}` : verdict.summary;
  if (verdict.rejectImage) {
    await markImageRejected(deps, {
      imageId: rollout.imageId,
      family: rollout.family,
      reason: `rollout to ${rollout.family} failed: ${blame}`,
      execution: rollout.execution,
    });
  }
  const later = rollout.waves.filter((wave) => wave.wave > verdict.wave).map((wave) => wave.wave);
  const cause =
    `${rollout.imageId} failed in wave ${verdict.wave} of ${rollout.family}: ${verdict.summary}.` +
    (later.length > 0 ? ` Wave${later.length > 1 ? "s" : ""} ${later.join(", ")} not started.` : "") +
    (verdict.rejectImage ? ` ${rollout.imageId} is marked rejected.` : "");
  const accounts = await resultsByAccount(deps, rollout);
  await closeRollout(deps, rollout, "failed", cause, accounts);
  await notifyRollout(deps, {
    subject:
      `Rollout FAILED: ${rollout.imageId} to ${rollout.family}, ${first?.group ?? `wave ${verdict.wave}`} ${first?.outcome ?? ""}`.trim(),
    message: `${cause}${byAccountText(accounts)}`,
    kind: "rollout",
    severity: "critical",
    data: {
      ...about(rollout),
      wave: verdict.wave,
      failures: verdict.failures,
      wavesNotStarted: later,
      imageRejected: verdict.rejectImage,
      accounts,
    },
  });
  return { status: "failed", cause };
}

export async function rolloutSuperseded(
  deps: Deps,
  input: { rollout: RolloutContext; wave: WaveStart },
): Promise<FinishResult> {
  const { rollout, wave } = input;
  const cause = `${rollout.imageId} rollout to ${rollout.family} stopped before wave ${wave.wave}: ${wave.reason}`;
  await writeAudit(deps, rollout, "skipped", cause);
  await notifyRollout(deps, {
    subject: `Rollout superseded: ${rollout.imageId} to ${rollout.family}`,
    message: cause,
    kind: "rollout",
    severity: "info",
    data: { ...about(rollout), wave: wave.wave },
  });
  return { status: "superseded", cause };
}

/**
 * Rollouts are paused (`phoenix pause`): the plan found them paused (nothing planned), a wave did
 * not begin, or groups of a wave started no refresh. Refreshes already running were left to
 * finish. The rollout ends (Phoenix.RolloutPaused); after `phoenix resume` it is run again by hand
 * (the message gives the command), or by the next image of the family.
 */
export async function rolloutPaused(
  deps: Deps,
  input: { rollout: RolloutContext; wave?: WaveStart; verdict?: WaveVerdict },
): Promise<FinishResult> {
  const { rollout, wave, verdict } = input;
  const where =
    rollout.outcome === "paused"
      ? `not started: ${rollout.reason}`
      : verdict !== undefined
        ? `stopped in wave ${verdict.wave}: ${verdict.summary}`
        : `stopped before wave ${wave?.wave ?? "?"}: ${wave?.reason ?? "paused"}`;
  // The execution's name is taken (it ended FAILED): a run after resume is a retry.
  const groups = rollout.waves.flatMap((w) => w.groups.map((g) => `--group ${groupKey(g)}`));
  const again = `phoenix rollout --image ${rollout.imageId} ${rollout.explicit ? groups.join(" ") : `--family ${rollout.family}`} --retry`;
  const cause = `${rollout.imageId} rollout to ${rollout.family} ${where}. After phoenix resume, run it again: ${again}`;
  if (!rollout.explicit && rollout.outcome === "proceed") {
    await endRollout(deps, rollout.family, rollout.imageId, {
      status: "paused",
      reason: cause,
      execution: rollout.execution,
    });
  }
  await writeAudit(deps, rollout, "skipped", cause, { paused: true, rerun: again });
  await notifyRollout(deps, {
    subject: `Rollout paused: ${rollout.imageId} to ${rollout.family}`,
    message: cause,
    kind: "rollout",
    severity: "warning",
    data: { ...about(rollout), ...(verdict ? { wave: verdict.wave } : wave ? { wave: wave.wave } : {}) },
  });
  return { status: "paused", cause };
}

/**
 * A step failed beyond its retries. The state may hold the rollout (after the plan) or only the
 * request (the plan step itself failed). The image is not blamed: the failure is Phoenix's or AWS's.
 */
export async function rolloutErrored(
  deps: Deps,
  input: {
    state: {
      rollout?: RolloutContext;
      imageId?: string;
      family?: string;
      error?: { Error?: string; Cause?: string };
    };
    execution: string;
  },
): Promise<FinishResult> {
  const { state } = input;
  const error = state.error ?? {};
  const imageId = state.rollout?.imageId ?? state.imageId ?? "unknown image";
  const family = state.rollout?.family || state.family || "unknown family";
  const cause = `rollout of ${imageId} to ${family} stopped by an error: ${error.Error ?? "error"}: ${errorMessage(error)}`;
  if (state.rollout !== undefined && !state.rollout.explicit && state.rollout.outcome === "proceed") {
    await endRollout(deps, family, imageId, { status: "failed", reason: cause, execution: input.execution });
  }
  await deps.audit.write(
    {
      subject: imageSubject(imageId),
      action: "end-rollout",
      outcome: "failed",
      actor: ROLLOUT_ACTOR,
      execution: input.execution,
      imageId,
      reason: cause,
    },
    `end-rollout#${input.execution}`,
  );
  await notifyRollout(deps, {
    subject: `Rollout ERROR: ${imageId} to ${family}`,
    message: cause,
    kind: "error",
    severity: "critical",
    data: { execution: input.execution, family, imageId, error: error.Error },
  });
  return { status: "errored", cause };
}

/** What every rollout notification says it is about. */
const about = (rollout: RolloutContext) => ({
  execution: rollout.execution,
  family: rollout.family,
  imageId: rollout.imageId,
});

/** Ends the rollout's record (a family rollout has one; named groups do not) and audits the end. */
async function closeRollout(
  deps: Deps,
  rollout: RolloutContext,
  status: "incomplete" | "failed",
  cause: string,
  accounts: readonly AccountResult[],
): Promise<void> {
  if (!rollout.explicit) {
    await endRollout(deps, rollout.family, rollout.imageId, {
      status,
      reason: cause,
      execution: rollout.execution,
    });
  }
  await writeAudit(deps, rollout, "failed", cause, { accounts });
}

async function writeAudit(
  deps: Deps,
  rollout: RolloutContext,
  outcome: "ok" | "failed" | "skipped",
  reason: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  await deps.audit.write(
    {
      subject: imageSubject(rollout.imageId),
      action: "end-rollout",
      outcome,
      actor: rollout.requestedBy,
      execution: rollout.execution,
      imageId: rollout.imageId,
      reason,
      details: { family: rollout.family, ...details },
    },
    `end-rollout#${rollout.execution}`,
  );
}
