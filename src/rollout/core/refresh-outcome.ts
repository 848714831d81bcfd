/**
 * What an instance refresh's status means for the rollout. AWS statuses: Pending, InProgress,
 * Baking, Cancelling, RollbackInProgress (active), then Successful, Failed, Cancelled,
 * RollbackSuccessful, RollbackFailed (terminal).
 */
export type RefreshOutcome = "succeeded" | "failed" | "rolled-back" | "cancelled";

const ACTIVE = new Set(["Pending", "InProgress", "Baking", "Cancelling", "RollbackInProgress"]);

const OUTCOMES: Record<string, RefreshOutcome> = {
  Successful: "succeeded",
  Failed: "failed",
  RollbackSuccessful: "rolled-back",
  // The rollback itself failed: the group is in a mixed state, and the image is still to blame.
  RollbackFailed: "failed",
  Cancelled: "cancelled",
};

export function isActiveRefreshStatus(status: string | undefined): boolean {
  return status !== undefined && ACTIVE.has(status);
}

/** The outcome of a terminal status; undefined while the refresh is still active (or unknown). */
export function refreshOutcome(status: string | undefined): RefreshOutcome | undefined {
  return status === undefined ? undefined : OUTCOMES[status];
}

/**
 * Whether the outcome is the image's fault: its instances did not become healthy, so the refresh
 * failed or rolled back. A cancelled refresh (someone stopped it) says nothing about the image.
 */
export function blamesImage(outcome: RefreshOutcome): boolean {
  return outcome === "failed" || outcome === "rolled-back";
}
