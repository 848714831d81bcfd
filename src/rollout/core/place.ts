/**
 * Where a group is: Phoenix's own account and region, or a member account in one of its regions.
 * A group is named by its place and its name (AWS names a group uniquely only within an account
 * and region): its key is the bare name at home, and `<account>/<region>/<name>` elsewhere. The
 * key is what Phoenix's state (locks, refresh records), its audit trail, its results and a
 * request's `groups` use; the bare name is what the group's own account calls it. Pure.
 */

/** A group's place, when not Phoenix's own account and region (absent there). */
export interface Placed {
  name: string;
  accountId?: string;
  region?: string;
}

const KEY = /^(\d{12})\/([a-z]{2}(?:-[a-z]+)+-\d)\/(.+)$/;

/** The group's key: its name at home, `<account>/<region>/<name>` elsewhere. */
export function groupKey(group: Placed): string {
  return group.accountId !== undefined && group.region !== undefined
    ? `${group.accountId}/${group.region}/${group.name}`
    : group.name;
}

/**
 * A key back into place and name: `222222222222/eu-west-1/web` is web in that account and region;
 * anything else is a group of Phoenix's own account and region (a name may hold slashes).
 */
export function parseGroupKey(key: string): Placed {
  const match = KEY.exec(key);
  return match ? { accountId: match[1]!, region: match[2]!, name: match[3]! } : { name: key };
}

/**
 * A key as Phoenix writes it: one naming Phoenix's own account and region
 * (`123456789012/us-east-1/web`) is the bare name there.
 */
export function normalGroupKey(key: string, home: { accountId: string; region: string }): string {
  const group = parseGroupKey(key);
  return group.accountId === home.accountId && group.region === home.region ? group.name : key;
}

/** A member account and region. */
export interface Place {
  accountId: string;
  region: string;
}

/** The group's place when it is a member's; undefined in Phoenix's own account and region. */
export function placeOf(group: Placed): Place | undefined {
  return group.accountId !== undefined && group.region !== undefined
    ? { accountId: group.accountId, region: group.region }
    : undefined;
}

/** `<account>/<region>`: how a place is named in keys and maps. */
export const placeKey = (place: Place): string => `${place.accountId}/${place.region}`;

/** The place of a group as `accountId`/`region` fields, only when elsewhere (what records carry). */
export function placeFields(group: Placed): { accountId?: string; region?: string } {
  return placeOf(group) ?? {};
}

/** `account 222222222222, eu-west-1` or `this account` for messages. */
export function describePlace(group: Placed): string {
  return group.accountId !== undefined ? `account ${group.accountId}, ${group.region}` : "this account";
}
