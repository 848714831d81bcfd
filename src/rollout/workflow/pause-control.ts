import { CancelInstanceRefreshCommand } from "@aws-sdk/client-auto-scaling";
import { awsErrorCode } from "../../aws/errors.js";
import type { PhoenixDeps } from "../../deps.js";
import { fleetDeps, isElsewhere } from "../../member-access.js";
import { describeGroups } from "../aws/groups.js";
import { groupSubject } from "../aws/image-marks.js";
import { deletePause, listPauses, putPause } from "../aws/pauses.js";
import { rolloutPlaces } from "../aws/places.js";
import { isManaged } from "../core/group.js";
import { describePause, type Pause, resumeCommand } from "../core/pause.js";
import { groupKey, parseGroupKey, placeOf } from "../core/place.js";
import { notifyRollout } from "./notifications.js";

/**
 * `phoenix pause` and `phoenix resume`: the use-cases behind the CLI (which only parses and
 * prints). The workflows read the pause record at each safe point (plan, each wave, each group
 * before its refresh: src/rollout/workflow/*); containment never does.
 */

/** All of Phoenix's deps: a member's refreshes are seen and cancelled through the member (member-access.ts). */
type Deps = PhoenixDeps;

export class PauseRequestError extends Error {
  override name = "PauseRequestError";
}

/** The audit subject of a pause: its scope. */
const subjectOf = (family: string | undefined) => `rollouts/${family ?? "*"}`;

export interface RefreshInFlight {
  /** The group's key (place.ts): its name at home, `<account>/<region>/<name>` in a member. */
  group: string;
  refreshId: string;
  status: string;
  /** With --cancel-refreshes: whether CancelInstanceRefresh was accepted. */
  cancelled?: boolean;
  error?: string;
}

export interface PauseResult {
  pause: Pause;
  /** The pause of the same scope this one replaced (pausing twice updates the reason). */
  replaced?: Pause;
  /** Phoenix's refreshes running in the scope: left to finish, or cancelled when asked. */
  refreshes: RefreshInFlight[];
  /** Member accounts whose refreshes could not be read (the pause holds there all the same). */
  unreachable: { accountId: string; region: string; error: string }[];
}

export async function pauseRollouts(
  deps: Deps,
  request: { family?: string; reason: string; by: string; cancelRefreshes?: boolean },
): Promise<PauseResult> {
  const reason = request.reason.trim();
  if (reason === "")
    throw new PauseRequestError('give the reason: --reason "…" (it is shown to everyone the pause stops)');
  if (request.family !== undefined && request.family.trim() === "")
    throw new PauseRequestError("--family needs a family name");
  const pause: Pause = {
    ...(request.family !== undefined ? { family: request.family } : {}),
    reason,
    by: request.by,
    at: deps.now().toISOString(),
  };
  // The record first: from this write on, no rollout plans, begins a wave or starts a refresh.
  const replaced = await putPause(deps, pause);
  const { refreshes, unreachable } = await phoenixRefreshes(deps, request.family);
  if (request.cancelRefreshes) {
    for (const refresh of refreshes) await cancel(deps, pause, refresh);
  }
  await deps.audit.write(
    {
      subject: subjectOf(request.family),
      action: "pause-rollouts",
      outcome: "ok",
      actor: request.by,
      reason,
      details: {
        ...(request.family !== undefined ? { family: request.family } : {}),
        cancelRefreshes: request.cancelRefreshes === true,
        refreshes,
        ...(unreachable.length > 0 ? { unreachable } : {}),
        ...(replaced !== undefined ? { replaced } : {}),
      },
    },
    `pause-rollouts#${pause.at}`,
  );
  const running =
    (refreshes.length === 0
      ? "No Phoenix refresh was running."
      : request.cancelRefreshes
        ? `Cancelled ${refreshes.filter((r) => r.cancelled).length} of ${refreshes.length} running refresh(es) (AWS rolls back those with AutoRollback): ${refreshes.map((r) => r.group).join(", ")}.`
        : `${refreshes.length} running refresh(es) are left to finish: ${refreshes.map((r) => r.group).join(", ")}.`) +
    unreachable
      .map((u) => `\nCould not read the refreshes of account ${u.accountId} in ${u.region}: ${u.error}`)
      .join("");
  await notifyRollout(deps, {
    subject: `Rollouts PAUSED${request.family !== undefined ? ` (family ${request.family})` : ""}: ${reason}`,
    message: `${describePause(pause)}.\nNo new rollout, wave or group refresh starts until ${resumeCommand(pause)}. Containment is not paused.\n${running}`,
    kind: "pause",
    severity: "warning",
    data: { pause, refreshes, ...(unreachable.length > 0 ? { unreachable } : {}) },
  });
  return { pause, ...(replaced !== undefined ? { replaced } : {}), refreshes, unreachable };
}

export interface ResumeResult {
  /** The pause lifted; undefined when that scope was not paused. */
  resumed?: Pause;
  /** Pauses still in force (another scope): rollouts they cover stay paused. */
  stillPaused: Pause[];
  /** Rollouts the pause stopped, each with the command that runs it again. */
  stopped: { execution: string; imageId: string; family: string; rerun: string }[];
}

export async function resumeRollouts(
  deps: Deps,
  request: { family?: string; by: string },
): Promise<ResumeResult> {
  const resumed = await deletePause(deps, request.family);
  const stillPaused = await listPauses(deps);
  if (resumed === undefined) return { stillPaused, stopped: [] };
  const stopped = (await deps.audit.since(resumed.at))
    .filter((record) => record.action === "end-rollout" && record.details?.paused === true)
    .filter((record) => resumed.family === undefined || record.details?.family === resumed.family)
    .map((record) => ({
      execution: record.execution ?? "",
      imageId: record.imageId ?? "",
      family: String(record.details?.family ?? ""),
      rerun: String(record.details?.rerun ?? ""),
    }));
  await deps.audit.write(
    {
      subject: subjectOf(request.family),
      action: "resume-rollouts",
      outcome: "ok",
      actor: request.by,
      reason: `lifted: ${describePause(resumed)}`,
      details: { resumed, stopped, stillPaused },
    },
    `resume-rollouts#${resumed.at}`,
  );
  await notifyRollout(deps, {
    subject: `Rollouts resumed${request.family !== undefined ? ` (family ${request.family})` : ""}`,
    message:
      `${request.by} lifted the pause (${resumed.reason}). New rollouts run again.` +
      (stopped.length > 0
        ? `\nStopped by the pause, to run again:\n${stopped.map((s) => `- ${s.rerun}`).join("\n")}`
        : "") +
      (stillPaused.length > 0 ? `\nStill in force: ${stillPaused.map(describePause).join("; ")}` : ""),
    kind: "pause",
    severity: "info",
    data: { resumed, stopped, stillPaused },
  });
  return { resumed, stillPaused, stopped };
}

/**
 * Phoenix's own refreshes still running on managed groups in the scope, in every account and
 * region its rollouts reach (someone else's are not ours to cancel).
 */
async function phoenixRefreshes(
  deps: Deps,
  family: string | undefined,
): Promise<Pick<PauseResult, "refreshes" | "unreachable">> {
  const unreachable: PauseResult["unreachable"] = [];
  const described = await Promise.all(
    rolloutPlaces(deps).map(async (place) => {
      const elsewhere = isElsewhere(deps, place);
      try {
        return await describeGroups(
          fleetDeps(deps, place),
          family !== undefined ? { family } : { managed: true },
          elsewhere ? place : undefined,
        );
      } catch (error) {
        if (!elsewhere) throw error;
        unreachable.push({ ...place, error: (error as Error).message });
        return [];
      }
    }),
  );
  const refreshes = described
    .flat()
    .filter((group) => isManaged(group) && group.activeRefresh?.startedByPhoenix === true)
    .flatMap((group) =>
      group.activeRefresh?.refreshId !== undefined
        ? [
            {
              group: groupKey(group),
              refreshId: group.activeRefresh.refreshId,
              status: group.activeRefresh.status ?? "",
            },
          ]
        : [],
    );
  return { refreshes, unreachable };
}

async function cancel(deps: Deps, pause: Pause, refresh: RefreshInFlight): Promise<void> {
  const group = parseGroupKey(refresh.group);
  const place = placeOf(group);
  const fleet = place !== undefined ? fleetDeps(deps, place) : deps;
  try {
    await fleet.clients.autoScaling.send(
      new CancelInstanceRefreshCommand({ AutoScalingGroupName: group.name }),
    );
    refresh.cancelled = true;
  } catch (error) {
    // It ended meanwhile (ActiveInstanceRefreshNotFound): nothing left to cancel.
    refresh.cancelled = false;
    refresh.error = `${awsErrorCode(error) ?? "error"}: ${(error as Error).message}`;
  }
  await fleet.audit.write(
    {
      subject: groupSubject(refresh.group),
      action: "cancel-refresh",
      outcome: refresh.cancelled ? "ok" : "failed",
      actor: pause.by,
      reason: refresh.cancelled
        ? `cancelled instance refresh ${refresh.refreshId} (${describePause(pause)})`
        : `could not cancel instance refresh ${refresh.refreshId}: ${refresh.error}`,
      details: { refreshId: refresh.refreshId, status: refresh.status, pausedBy: pause.by },
    },
    `cancel-refresh#${refresh.refreshId}`,
  );
}
