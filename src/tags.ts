/**
 * The `phoenix:` tags: the contract in DESIGN.md (managed, image-family, wave, protected,
 * quarantine, tainted, fleet-role), plus the image-status pair, how Phoenix marks an image it must
 * never roll out again, and break-glass, how a person exempts an instance from a session's
 * replacement for a while.
 */
export const TAG_MANAGED = "phoenix:managed";
/**
 * On an IAM role: a fleet role, the role of the instance profiles the fleet's launch templates
 * use. Phoenix may pass it to EC2 (a refresh launches with it) and write its credential
 * revocation on it (containment); no other role (build/iam/scopes.ts).
 */
export const TAG_FLEET_ROLE = "phoenix:fleet-role";
export const TAG_IMAGE_FAMILY = "phoenix:image-family";
export const TAG_WAVE = "phoenix:wave";
export const TAG_PROTECTED = "phoenix:protected";
/** On a group: CloudWatch alarm names (comma-separated) whose ALARM rolls its refresh back. */
export const TAG_ROLLBACK_ALARMS = "phoenix:rollback-alarms";
/** Set on an instance by Phoenix when it isolates it; the value names the finding or reason. */
export const TAG_QUARANTINE = "phoenix:quarantine";
/** On resources Phoenix creates for containment (isolation groups, the quarantine profile). */
export const TAG_ROLE = "phoenix:role";
/**
 * Not Phoenix's: the tag Auto Scaling puts on every instance it launches for a group, and takes
 * off when the instance is detached. GuardDuty copies it into a finding's instance tags.
 */
export const ASG_NAME_TAG = "aws:autoscaling:groupName";
/** On evidence (snapshots): the containment it belongs to. */
export const TAG_CONTAINMENT = "phoenix:containment";

/**
 * Set on an AMI by Phoenix: `rejected` after a rollout of it failed or rolled back,
 * `compromised` when a security response traced a compromise to it. Either value blocks the
 * image at the gate (compared trimmed and case-insensitively, so a hand-typed "Rejected" still
 * blocks). Any other value is informational and does not block.
 */
export const TAG_IMAGE_STATUS = "phoenix:image-status";
/** Free text explaining the status (the failed group, the finding id); quoted in gate reasons. */
export const TAG_IMAGE_STATUS_REASON = "phoenix:image-status-reason";

export const IMAGE_STATUS_REJECTED = "rejected";
export const IMAGE_STATUS_COMPROMISED = "compromised";
export const BLOCKING_IMAGE_STATUSES: readonly string[] = [IMAGE_STATUS_REJECTED, IMAGE_STATUS_COMPROMISED];

/**
 * The one value of the tags that grant Phoenix something through IAM (`phoenix:managed` on a
 * group, `phoenix:fleet-role` on a role). IAM compares tag values case-sensitively
 * (`StringEquals "true"` does not match "True"), so the code holds them to the same rule as the
 * policy: exactly "true", nothing else (build/iam/scopes.ts conditions on this very constant).
 */
export const GRANTING_TAG_VALUE = "true";

/** Whether a granting tag (managed, fleet-role) says yes: exactly "true", as IAM matches it. */
export function isGrantingTrue(value: string | undefined): boolean {
  return value === GRANTING_TAG_VALUE;
}

/**
 * A granting tag written as a yes IAM will not match ("True", " true "): not a yes, but worth
 * telling whoever wrote it, since it means what it says to a person.
 */
export function isMisspelledTrue(value: string | undefined): boolean {
  return isTrueTag(value) && !isGrantingTrue(value);
}

/**
 * Tag values meant as a yes, for the tags that only make Phoenix hold back (`phoenix:protected`):
 * lenient on case and spaces, since the intent of "True" is unmistakable and erring towards
 * holding is safe. Never for a tag IAM conditions on (see isGrantingTrue).
 */
export function isTrueTag(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === "true";
}

/**
 * Set on an instance by Phoenix when someone opened an interactive session on it (SSM Session
 * Manager, EC2 Instance Connect, the serial console): `<who>, <when>, <how>`. It is then replaced.
 */
export const TAG_TAINTED = "phoenix:tainted";
/**
 * Put on an instance by a person before logging in: an ISO 8601 time until which a session does
 * not get the instance replaced (at most `sessions.breakGlassMaxHours` after the session).
 */
export const TAG_BREAK_GLASS = "phoenix:break-glass";
