import type { Tags } from "../../findings/guardduty.js";

import { TAG_PROTECTED as PROTECTED_TAG } from "../../tags.js";

/**
 * Why a containment must be held for a person instead of acting automatically, or undefined.
 * The value is compared leniently (" TRUE " counts): mistaking a protected resource for an
 * unprotected one is the expensive error, so ambiguity errs towards holding.
 */
export function protectionHold(instanceTags?: Tags, groupTags?: Tags): string | undefined {
  const onInstance = isProtected(instanceTags);
  const onGroup = isProtected(groupTags);
  if (onInstance && onGroup) {
    return `The instance and its Auto Scaling group are both tagged ${PROTECTED_TAG}=true; Phoenix never isolates or terminates them automatically and holds the containment for approval.`;
  }
  if (onInstance) {
    return `The instance is tagged ${PROTECTED_TAG}=true; Phoenix never isolates or terminates it automatically and holds the containment for approval.`;
  }
  if (onGroup) {
    return `The instance's Auto Scaling group is tagged ${PROTECTED_TAG}=true; Phoenix never isolates or terminates its instances automatically and holds the containment for approval.`;
  }
  return undefined;
}

function isProtected(tags: Tags | undefined): boolean {
  const value = tags?.[PROTECTED_TAG];
  return typeof value === "string" && value.trim().toLowerCase() === "true";
}
