import { AssumeRoleCommand } from "@aws-sdk/client-sts";
import type { AuditEntry, AuditStore } from "./audit/audit.js";
import type { AwsClients, AwsKeys } from "./aws/clients.js";
import type { PhoenixDeps } from "./deps.js";
import { describeScope, isManaged, managedScope, memberAt, partitionOf } from "./scope.js";

/**
 * Phoenix acting on a fleet in a member account or another region. The central account keeps
 * everything that is Phoenix's own (tables, topic, state machines, events): only the fleet's
 * clients (EC2, Auto Scaling, IAM, SSM) are made in the target region, on the credentials of
 * the member role (`phoenix-member` unless the policy names another) that the member stack
 * creates and that trusts only Phoenix's function roles (docs/DEPLOY.md).
 */
export interface FleetTarget {
  accountId: string;
  region: string;
}

/** The clients that act on the fleet, and so are made in the member account. */
const FLEET_CLIENTS = ["ec2", "autoScaling", "iam", "ssm"] as const satisfies readonly (keyof AwsClients)[];

export class MemberAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MemberAccessError";
  }
}

/** The longest a chained role session may last (a function's role assuming the member's). */
const SESSION_SECONDS = 3600;

export const memberRoleArn = (accountId: string, region: string, roleName: string): string =>
  `arn:${partitionOf(region)}:iam::${accountId}:role/${roleName}`;

const made = new WeakMap<PhoenixDeps, Map<string, PhoenixDeps>>();

/**
 * The deps to act on a fleet in this account and region: `deps` itself for Phoenix's own account
 * and region, otherwise the same deps with the fleet's clients on the member role's credentials,
 * in that region, and `accountId`/`region` naming the member (so ARNs Phoenix builds, such as an
 * instance's in a revocation policy, are the member's). Refused, with the reason, for an account
 * or region the policy does not list: a record or an execution input cannot widen the scope.
 */
export function fleetDeps(deps: PhoenixDeps, target: FleetTarget): PhoenixDeps {
  if (target.accountId === deps.accountId && target.region === deps.region) return deps;
  const scope = managedScope(deps);
  if (!isManaged(scope, target.accountId, target.region)) {
    throw new MemberAccessError(
      `Phoenix does not manage account ${target.accountId} in region ${target.region}: the policy's accounts do not list it (it manages ${describeScope(scope)}).`,
    );
  }
  const key = `${target.accountId}#${target.region}`;
  const cache = made.get(deps) ?? new Map<string, PhoenixDeps>();
  made.set(deps, cache);
  const cached = cache.get(key);
  if (cached) return cached;
  if (!deps.reach) {
    throw new MemberAccessError(
      `These dependencies cannot reach other accounts or regions (no reach), so Phoenix cannot act in account ${target.accountId} region ${target.region}.`,
    );
  }
  const member = memberAt(scope, target.accountId, target.region)!;
  const roleName = member.roleName;
  // Phoenix's own account in another region: its own credentials, that region's endpoints.
  const reached =
    roleName !== undefined
      ? deps.reach({
          region: target.region,
          credentialProvider: memberCredentials(
            deps,
            memberRoleArn(target.accountId, target.region, roleName),
          ),
        })
      : deps.reach({ region: target.region });
  const clients = {} as AwsClients;
  // Property by property: the central clients are lazy getters, and must stay so.
  for (const name of Object.keys(deps.clients) as (keyof AwsClients)[]) {
    const from = (FLEET_CLIENTS as readonly string[]).includes(name) ? reached : deps.clients;
    Object.defineProperty(clients, name, { enumerable: true, get: () => from[name] });
  }
  const result: PhoenixDeps = {
    ...deps,
    clients,
    accountId: target.accountId,
    region: target.region,
    audit: namingTarget(deps.audit, target),
    notifier: {
      notify: (n) =>
        deps.notifier.notify({
          ...n,
          message: `${n.message}\n\nAccount ${target.accountId}, region ${target.region}.`,
          data: { ...n.data, accountId: target.accountId, region: target.region },
        }),
    },
  };
  cache.set(key, result);
  return result;
}

/** Every record written through a member's deps names the account and region it is about. */
function namingTarget(audit: AuditStore, target: FleetTarget): AuditStore {
  const named = (entry: AuditEntry): AuditEntry => ({
    accountId: target.accountId,
    region: target.region,
    ...entry,
  });
  return {
    write: (entry, key) => audit.write(named(entry), key),
    transactPut: (entry, key) => audit.transactPut(named(entry), key),
    history: (subject) => audit.history(subject),
    since: (at) => audit.since(at),
  };
}

const asPeople = new WeakMap<PhoenixDeps, Map<string, PhoenixDeps>>();

/**
 * Phoenix's deps as a person uses them (the CLI, the local dashboard): in a member account,
 * through a role the person may assume there (OrganizationAccountAccessRole, say), never the
 * member role, which trusts only Phoenix's functions. Everything that reaches a member through
 * these deps (fleetDeps, and so the intake of `phoenix contain` or a release) goes that way; the
 * workflows a person starts still run as Phoenix. The same deps for the same role, so fleetDeps'
 * clients and credentials are made once.
 */
export function asPerson(deps: PhoenixDeps, roleName: string): PhoenixDeps {
  const byRole = asPeople.get(deps) ?? new Map<string, PhoenixDeps>();
  asPeople.set(deps, byRole);
  let person = byRole.get(roleName);
  if (!person) {
    person = {
      ...deps,
      policy: { ...deps.policy, accounts: deps.policy.accounts.map((member) => ({ ...member, roleName })) },
    };
    byRole.set(roleName, person);
  }
  return person;
}

/** Whether these deps act on a member's fleet (or another region), rather than Phoenix's own. */
export const isElsewhere = (deps: PhoenixDeps, target: FleetTarget): boolean =>
  target.accountId !== deps.accountId || target.region !== deps.region;

/**
 * Keys are fetched again this long before they expire, or at the last quarter of their life if
 * that is shorter. Both are judged on Phoenix's clock (deps.now), the one STS states expiry on:
 * the same as the machine's in AWS; on the local cloud it may run many times faster, so an hour
 * of a session can be seconds of real time.
 */
const REFRESH_BEFORE_MS = 5 * 60_000;

/**
 * What the SDK is told of expiry: always within its own refresh window (5 minutes), so it asks
 * the provider before every request and the provider's cache, on Phoenix's clock, decides.
 */
const SDK_EXPIRY_MS = 60_000;

type MemberKeys = AwsKeys & { expiration?: Date };

/**
 * The member role's keys, assumed with the function's own role from the central STS, shared by
 * the four fleet clients (one AssumeRole, not four) and assumed again shortly before they expire.
 * A refusal names the role and the likely cause.
 */
function memberCredentials(deps: PhoenixDeps, roleArn: string): () => Promise<MemberKeys> {
  const sessionName = (process.env.AWS_LAMBDA_FUNCTION_NAME ?? "phoenix")
    .replace(/[^\w+=,.@-]/g, "-")
    .slice(0, 64);
  let current: Promise<{ keys: AwsKeys; refreshAt?: number }> | undefined;
  const fresh = async (): Promise<{ keys: AwsKeys; refreshAt?: number }> => {
    const askedAt = deps.now().getTime();
    let keys:
      | { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string; Expiration?: Date }
      | undefined;
    try {
      ({ Credentials: keys } = await deps.clients.sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: sessionName,
          DurationSeconds: SESSION_SECONDS,
        }),
      ));
    } catch (error) {
      throw new MemberAccessError(
        `Phoenix could not assume ${roleArn} (${(error as Error).name}: ${(error as Error).message}). Is the member stack deployed in that account, trusting this Phoenix (docs/DEPLOY.md, "Multi-account")?`,
      );
    }
    if (!keys?.AccessKeyId || !keys.SecretAccessKey) {
      throw new MemberAccessError(`STS answered AssumeRole on ${roleArn} without credentials.`);
    }
    const expires = keys.Expiration?.getTime();
    return {
      keys: {
        accessKeyId: keys.AccessKeyId,
        secretAccessKey: keys.SecretAccessKey,
        ...(keys.SessionToken ? { sessionToken: keys.SessionToken } : {}),
      },
      ...(expires !== undefined
        ? { refreshAt: expires - Math.min(REFRESH_BEFORE_MS, (expires - askedAt) / 4) }
        : {}),
    };
  };
  return async () => {
    const seen = current;
    const held = seen ? await seen.catch(() => undefined) : undefined;
    // Concurrent callers that found the same stale keys share one AssumeRole: only the first
    // replaces what they saw.
    const stale = !held || (held.refreshAt !== undefined && deps.now().getTime() >= held.refreshAt);
    if ((stale && current === seen) || current === undefined) {
      const asked = fresh();
      current = asked;
      // A failure is not kept (the next call asks STS again), unless a newer ask replaced it.
      asked.catch(() => {
        if (current === asked) current = undefined;
      });
    }
    const { keys } = await current!;
    return { ...keys, expiration: new Date(Date.now() + SDK_EXPIRY_MS) };
  };
}
