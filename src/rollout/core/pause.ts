/**
 * A global stop for rollouts: `phoenix pause` (every family, or one) until `phoenix resume`.
 * While paused, no rollout plans, no wave begins and no group starts a refresh; a refresh already
 * running is left to finish (or cancelled, when asked). Containment is never paused: a
 * compromised instance is contained whatever state rollouts are in. Pure: the records are read
 * by the caller (aws/pauses.ts).
 */

export interface Pause {
  /** Absent: every family. */
  family?: string;
  reason: string;
  /** Who paused: "user:<arn or name>". */
  by: string;
  /** ISO 8601. */
  at: string;
}

/** The pause that stops a rollout of `family`, if any: a pause of every family first. */
export function pauseOf(pauses: readonly Pause[], family: string): Pause | undefined {
  return (
    pauses.find((pause) => pause.family === undefined) ?? pauses.find((pause) => pause.family === family)
  );
}

/** "rollouts of every family are paused since … by …: reason" */
export function describePause(pause: Pause): string {
  const scope =
    pause.family === undefined ? "rollouts of every family" : `rollouts of family ${pause.family}`;
  return `${scope} are paused since ${pause.at} by ${pause.by}: ${pause.reason}`;
}

/** What `phoenix resume` must be given to lift this pause. */
export function resumeCommand(pause: Pick<Pause, "family">): string {
  return pause.family === undefined ? "phoenix resume" : `phoenix resume --family ${pause.family}`;
}
