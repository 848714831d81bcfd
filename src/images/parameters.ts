import type { Policy } from "../policy/index.js";

/**
 * Which Parameter Store names announce a family's image, per `policy.rollout.imageParameters`.
 *
 * - An entry ending in "/" is a prefix: `/phoenix/images/web` names family `web`. Only one
 *   level below the prefix counts (`/phoenix/images/web/arm64` does not), so a family name
 *   never depends on how deep a parameter happens to sit.
 * - Any other entry is an exact name, and the family is its last path segment
 *   (`/golden/web` → `web`).
 * Exact names win over prefixes, and a longer prefix over a shorter one.
 */
export function familyFromParameterName(name: string, policy: Pick<Policy, "rollout">): string | undefined {
  const entries = policy.rollout.imageParameters;
  if (entries.includes(name) && !name.endsWith("/")) return lastSegment(name);
  const prefixes = entries.filter((entry) => entry.endsWith("/") && name.startsWith(entry));
  prefixes.sort((a, b) => b.length - a.length);
  for (const prefix of prefixes) {
    const rest = name.slice(prefix.length);
    if (rest.length > 0 && !rest.includes("/")) return rest;
  }
  return undefined;
}

function lastSegment(name: string): string | undefined {
  const segment = name.split("/").at(-1);
  return segment === undefined || segment === "" ? undefined : segment;
}
