import type { PhoenixDeps } from "../../deps.js";
import { type FleetTarget, fleetDeps, isElsewhere } from "../../member-access.js";
import { describeScope, isManaged, managedScope } from "../../scope.js";
import type { GroupDescription } from "../core/group.js";
import type { ImageFacts } from "../core/image.js";
import { normalGroupKey, parseGroupKey, placeKey } from "../core/place.js";
import { byName, type GroupReason, planRollout, type RolloutPlan } from "../core/plan.js";
import { describeGroups } from "./groups.js";
import { describeImage } from "./images.js";

/**
 * Where a rollout of an image acts: Phoenix's own account, and every member account the policy
 * lists in the region Phoenix runs in. An AMI is regional (another region's groups take a copy of
 * it, with an id of its own), so the groups of other regions are that copy's rollout, not this
 * one's (docs/DEPLOY.md, Multi-account).
 */
export function rolloutPlaces(deps: Pick<PhoenixDeps, "accountId" | "region" | "policy">): FleetTarget[] {
  return managedScope(deps)
    .members.filter((member) => member.regions.includes(deps.region))
    .map((member) => ({ accountId: member.accountId, region: deps.region }));
}

export interface PlanAcrossInput {
  image: ImageFacts;
  family: string;
  /** Named groups: keys (place.ts), a bare name for Phoenix's own account. */
  explicitGroups?: readonly string[];
  replaceAll?: boolean;
}

export interface PlannedAcross {
  plan: RolloutPlan;
  /** Every group described, in every place (for the supersede step's lock release). */
  groups: GroupDescription[];
}

/**
 * The plan of a rollout across accounts, for the workflow's plan step and `phoenix plan` alike:
 * the groups of every place (through the member role elsewhere), the image checked where it
 * would launch (a member that cannot see the image, because it was not shared with it, cannot
 * launch it: its groups are problems, named), and the pure planner over all of them. A member
 * that cannot be read (its role missing, say) is a problem too: the rollout is then incomplete,
 * never a success that skipped an account unseen.
 */
export async function planAcross(deps: PhoenixDeps, input: PlanAcrossInput): Promise<PlannedAcross> {
  const places = rolloutPlaces(deps);
  const explicit = input.explicitGroups?.map((key) => normalGroupKey(key, deps));
  const wanted = explicit !== undefined ? namesByPlace(deps, explicit) : undefined;
  const unreachable: GroupReason[] = [];
  const unreachablePlaces = new Set<string>();
  const imageProblems: Record<string, string> = {};
  const described = await Promise.all(
    places.map(async (place) => {
      const elsewhere = isElsewhere(deps, place);
      const names = wanted?.get(placeKey(place));
      if (wanted !== undefined && names === undefined) return [];
      try {
        const fleet = fleetDeps(deps, place);
        const groups = await describeGroups(
          fleet,
          names !== undefined ? { names } : { family: input.family },
          elsewhere ? place : undefined,
        );
        if (elsewhere && groups.length > 0) {
          const problem = await shareProblem(fleet, input.image, place).catch(
            (error: Error) =>
              `could not check that image ${input.image.ImageId} is shared with account ${place.accountId} (its DescribeImages in ${place.region} failed: ${error.message})`,
          );
          if (problem !== undefined) imageProblems[placeKey(place)] = problem;
        }
        return groups;
      } catch (error) {
        // Phoenix's own account failing is the step's failure (retried); a member's is its own.
        if (!elsewhere) throw error;
        unreachablePlaces.add(placeKey(place));
        unreachable.push({
          name: `${placeKey(place)}/*`,
          accountId: place.accountId,
          region: place.region,
          reason: `could not read the groups of account ${place.accountId} in ${place.region}: ${(error as Error).message}`,
        });
        return [];
      }
    }),
  );
  const groups = described.flat();
  const plan = planRollout({
    image: input.image,
    family: input.family,
    groups,
    policy: deps.policy,
    homeAccountId: deps.accountId,
    firstWaves: Object.fromEntries(
      deps.policy.accounts.map((member) => [member.accountId, member.firstWave]),
    ),
    imageProblems,
    // A named group of a member that could not be read is that member's problem, not "no such group".
    ...(explicit !== undefined
      ? {
          explicitGroups: explicit.filter((key) => !unreachablePlaces.has(placeOfKey(deps, key))),
        }
      : {}),
    ...(input.replaceAll ? { replaceAll: true } : {}),
  });
  plan.problems.push(...unreachable);
  plan.problems.sort(byName);
  if (explicit !== undefined) {
    plan.excluded.push(...unmanagedNames(deps, explicit));
    plan.excluded.sort(byName);
  }
  return { plan, groups };
}

/** `<account>/<region>` of the group a key names. */
function placeOfKey(deps: PhoenixDeps, key: string): string {
  const group = parseGroupKey(key);
  return placeKey({ accountId: group.accountId ?? deps.accountId, region: group.region ?? deps.region });
}

/** Named groups by the place they name (keys of places Phoenix does not manage are left out). */
function namesByPlace(deps: PhoenixDeps, keys: readonly string[]): Map<string, string[]> {
  const byPlace = new Map<string, string[]>();
  const reached = new Set(rolloutPlaces(deps).map(placeKey));
  for (const key of new Set(keys)) {
    const place = placeOfKey(deps, key);
    if (!reached.has(place)) continue;
    byPlace.set(place, [...(byPlace.get(place) ?? []), parseGroupKey(key).name]);
  }
  return byPlace;
}

/** Named groups in a place no rollout of this region reaches: excluded, with why. */
function unmanagedNames(deps: PhoenixDeps, keys: readonly string[]): GroupReason[] {
  const scope = managedScope(deps);
  return [...new Set(keys)].flatMap((key) => {
    const group = parseGroupKey(key);
    if (group.accountId === undefined || group.region === undefined) return [];
    if (group.region === deps.region && isManaged(scope, group.accountId, group.region)) return [];
    const reason =
      group.region !== deps.region && isManaged(scope, group.accountId, group.region)
        ? `in ${group.region}: a rollout of an image of ${deps.region} rolls only ${deps.region}'s groups (an AMI is regional; roll that region's copy there)`
        : `Phoenix does not manage account ${group.accountId} in ${group.region} (it manages ${describeScope(scope)})`;
    return [{ name: key, accountId: group.accountId, region: group.region, reason }];
  });
}

/**
 * Why a member cannot launch the image, or undefined: EC2 shows a member an image it may launch
 * (its own, public, or shared with it), and only those; a shared image shows without its tags, so
 * only its id is compared, and the gate's checks stay with the image as its owner sees it.
 */
async function shareProblem(
  fleet: PhoenixDeps,
  image: ImageFacts,
  place: FleetTarget,
): Promise<string | undefined> {
  const seen = await describeImage(fleet.clients.ec2, image.ImageId);
  if (seen !== undefined) return undefined;
  return (
    `image ${image.ImageId} (owner ${image.OwnerId ?? "unknown"}) is not shared with account ${place.accountId}: ` +
    `its DescribeImages in ${place.region} does not show it, so its groups could not launch it ` +
    `(share it: aws ec2 modify-image-attribute --image-id ${image.ImageId} --launch-permission "Add=[{UserId=${place.accountId}}]")`
  );
}
