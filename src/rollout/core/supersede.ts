/**
 * When images of one family arrive close together, the newest (by the image's CreationDate,
 * not by event arrival) wins. An older rollout still in flight is stopped at once (its execution
 * stopped, its locks released); the refreshes it started run to a terminal status (interrupting
 * them would leave groups half-rolled) and the newer rollout waits for them. Its waves not
 * started never start. An older image that arrives late is ignored.
 */

export interface ImageVersion {
  imageId: string;
  /** ISO 8601 CreationDate from DescribeImages. */
  creationDate: string;
  /**
   * The image was marked compromised after it was rolled out (src/rollout/workflow/rollback.ts): it
   * no longer wins over an older image, so the family can be rolled back onto one.
   */
  blocked?: boolean;
}

export interface InFlightRollout extends ImageVersion {
  executionId?: string;
  /** Every wave of its plan, when known; without it, only "no further waves" can be said. */
  waves?: readonly number[];
  wavesStarted: readonly number[];
}

export interface SupersedeInput {
  image: ImageVersion;
  /** Rollouts of the same family that have not finished. */
  inFlight: readonly InFlightRollout[];
  /** The image the family last finished rolling out: a late, older image must not roll it back. */
  lastCompleted?: ImageVersion;
}

export interface Cancellation {
  imageId: string;
  executionId?: string;
  /** Planned waves not yet started: these never start. */
  wavesCancelled: number[];
  /** Started waves: they finish, then the rollout stops. */
  wavesKept: number[];
  reason: string;
}

export type SupersedeDecision =
  | { proceed: true; reason: string; cancel: Cancellation[] }
  | { proceed: false; reason: string; cancel: [] };

export function decideSupersede(input: SupersedeInput): SupersedeDecision {
  const { image, inFlight, lastCompleted } = input;
  if (Number.isNaN(Date.parse(image.creationDate))) {
    return stop(`${image.imageId} has an unreadable CreationDate ${JSON.stringify(image.creationDate)}`);
  }
  const same = inFlight.find((rollout) => rollout.imageId === image.imageId);
  if (same !== undefined) {
    return stop(`${image.imageId} is already rolling out${same.executionId ? ` (${same.executionId})` : ""}`);
  }
  // Rolled out already, unless a compromised image has been rolling out since: its groups are
  // to come back onto this one (the rollback, src/rollout/workflow/rollback.ts).
  const rollingBack = inFlight.some((rollout) => rollout.blocked);
  if (lastCompleted?.imageId === image.imageId && !lastCompleted.blocked && !rollingBack)
    return stop(`${image.imageId} is already rolled out`);

  // Fail closed: if an in-flight rollout cannot be ordered, neither can this one.
  const unreadable = inFlight.find((rollout) => Number.isNaN(Date.parse(rollout.creationDate)));
  if (unreadable !== undefined) {
    return stop(
      `cannot order against in-flight ${unreadable.imageId} (CreationDate ${unreadable.creationDate})`,
    );
  }
  const newer = [...inFlight, ...(lastCompleted ? [lastCompleted] : [])].filter(
    (other) => !other.blocked && isNewer(other, image),
  );
  const newest = newer.sort((a, b) => (isNewer(a, b) ? -1 : 1))[0];
  if (newest !== undefined) {
    const state = newest === lastCompleted ? "already rolled out" : "rolling out";
    return stop(
      `${image.imageId} (created ${image.creationDate}) is older than ${newest.imageId} ` +
        `(created ${newest.creationDate}), ${state}: an older image arriving late is ignored`,
    );
  }

  const cancel = inFlight.map((rollout) => cancellation(rollout, image));
  const reason =
    cancel.length === 0
      ? `${image.imageId} is the newest image of the family`
      : `${image.imageId} supersedes ${cancel.map((c) => c.imageId).join(", ")}`;
  return { proceed: true, reason, cancel };
}

/** Newer by creation date; equal dates are broken by image id so every caller decides the same. */
export function isNewer(a: ImageVersion, b: ImageVersion): boolean {
  const delta = Date.parse(a.creationDate) - Date.parse(b.creationDate);
  return delta !== 0 ? delta > 0 : a.imageId > b.imageId;
}

function cancellation(rollout: InFlightRollout, by: ImageVersion): Cancellation {
  const started = new Set(rollout.wavesStarted);
  const result: Cancellation = {
    imageId: rollout.imageId,
    wavesCancelled: (rollout.waves ?? []).filter((wave) => !started.has(wave)).sort((a, b) => a - b),
    wavesKept: [...started].sort((a, b) => a - b),
    reason: rollout.blocked
      ? `${rollout.imageId} was marked compromised: replaced by ${by.imageId}`
      : `superseded by newer ${by.imageId}`,
  };
  if (rollout.executionId !== undefined) result.executionId = rollout.executionId;
  return result;
}

function stop(reason: string): SupersedeDecision {
  return { proceed: false, reason, cancel: [] };
}
