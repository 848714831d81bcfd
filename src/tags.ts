/**
 * The `phoenix:` tags: the contract in DESIGN.md (managed, image-family, wave, protected,
 * quarantine), plus the image-status pair, how Phoenix marks an image it must never roll out again.
 */
export const TAG_MANAGED = "phoenix:managed";
export const TAG_IMAGE_FAMILY = "phoenix:image-family";
export const TAG_WAVE = "phoenix:wave";
export const TAG_PROTECTED = "phoenix:protected";
/** Set on an instance by Phoenix when it isolates it; the value names the finding or reason. */
export const TAG_QUARANTINE = "phoenix:quarantine";
/** On resources Phoenix creates for containment (isolation groups, the quarantine profile). */
export const TAG_ROLE = "phoenix:role";
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

/** Tag values meant as a yes. Lenient on case and spaces: the intent of "True" is unmistakable. */
export function isTrueTag(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === "true";
}
