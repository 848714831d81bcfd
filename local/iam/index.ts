import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import type { LocalCloudContext, LocalCloudPart } from "../core/context.js";
import type { AwsRequest } from "../gateway/request.js";
import type { AwsResponse } from "../gateway/response.js";
import type { ControlRoute, ResponseObserver, ServiceHandler } from "../gateway/server.js";
import { type Check, checksFor } from "./contexts.js";
import { type Context, denialMessage, evaluateCheck, type PolicySet, sessionContext } from "./evaluator.js";
import { MotoLookups, type RolePolicies } from "./lookups.js";
import {
  accountOfArn,
  assumedRoleArn,
  CredentialRegistry,
  DecisionLog,
  type DecisionRecord,
  isRoleArn,
  type RoleSession,
  roleNameOfArn,
} from "./model.js";
import { unconditionalGrant } from "./unconditional.js";
import {
  accessDenied,
  accessKeyOf,
  assumeRoleResult,
  callerIdentityResult,
  expiredToken,
  invalidToken,
  sessionTokenOf,
  stsParam,
} from "./wire.js";

export { type Check, CONTEXT_BUILDERS, functionArn } from "./contexts.js";
export { assumedRoleArn, type DecisionRecord, type RoleSession } from "./model.js";

/**
 * IAM on the local cloud, enforced for every call a Phoenix principal makes, as AWS would:
 * - the credentials of a role session (a deployed function's, a state machine's, an instance
 *   profile's, or AssumeRole's) are issued here and known by their access key id;
 * - every call signed with them is authorized before it is served: the request context AWS would
 *   build (contexts.ts), the role's policies as IAM holds them at the time of the call (read from
 *   moto, cached until an IAM write passes through the gateway), evaluated by iam-simulate
 *   (evaluator.ts); a denial answers with the service's own error;
 * - any other credentials (a person at the CLI, a test, the local cloud's own parts) are the
 *   account's administrator, as the account owner's would be;
 * - every decision is kept (`GET /_phoenix/iam/decisions`).
 * With `enforce: false` (`phoenix local --iam off`) credentials are still issued and STS still
 * answers, but no call is evaluated.
 */

export const IAM_PART = "iam";
export const DECISIONS_ROUTE = "/_phoenix/iam/decisions";
export const INSTANCE_CREDENTIALS_ROUTE = "/_phoenix/instances/*/credentials";

/** Instance-profile credentials last hours, as EC2's do (they are rotated before they expire). */
export const INSTANCE_CREDENTIALS_SECONDS = 6 * 3600;

export interface SdkCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration?: Date;
}

export interface SessionRequest {
  roleArn: string;
  sessionName: string;
  sourceInstanceArn?: string;
  /** Seconds of simulated time the credentials last; unlimited when not given (a deployed function's). */
  durationSeconds?: number;
}

export type CheckOutcome = { allowed: true } | { allowed: false; message: string; record?: DecisionRecord };

export interface IamPart extends LocalCloudPart {
  readonly enforcing: boolean;
  readonly decisions: DecisionLog;
  /** Credentials of a role session, as Lambda and Step Functions hand them to what they run. */
  credentialsFor(request: SessionRequest): SdkCredentials;
  /** What IMDS would hand an instance for its instance profile now (404-style error if none). */
  instanceCredentials(instanceId: string): Promise<InstanceCredentials>;
  /** Authorizes a call the local cloud makes itself as a role (Step Functions invoking a function). */
  check(
    session: { roleArn: string; sessionName: string },
    checks: Check[],
    call: string,
  ): Promise<CheckOutcome>;
  /** Forget cached policies (after IAM writes that did not pass through the gateway). */
  invalidatePolicies(): void;
  /** The role session an access key id was issued for (undefined: not issued here, an administrator). */
  sessionOf(accessKeyId: string): RoleSession | undefined;
  /** The account a call acts in: its signer's role session's (undefined: not issued here). */
  accountOf(request: AwsRequest): string | undefined;
}

export interface InstanceCredentials {
  Code: "Success";
  Type: "AWS-HMAC";
  LastUpdated: string;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  /** IMDS's own name for the session token. */
  Token: string;
  Expiration: string;
  RoleArn: string;
  InstanceProfileArn: string;
}

export class InstanceCredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InstanceCredentialsError";
  }
}

export interface IamPluginOptions {
  /** Evaluate calls (default true); false only for debugging (`phoenix local --iam off`). */
  enforce?: boolean;
  /** Decisions kept (default 20,000). */
  decisionCapacity?: number;
  /** Append every denial to this file (JSON lines); PHOENIX_IAM_DENIALS by default. */
  denialsFile?: string;
}

/** What the administrator's credentials are allowed: everything, as the account owner. */
const ADMINISTRATOR_POLICY = {
  Version: "2012-10-17",
  Statement: [{ Sid: "AccountAdministrator", Effect: "Allow", Action: "*", Resource: "*" }],
};

const IAM_READS = /^(Get|List|Simulate|Generate)/;

/** A stable role id (AROA…), as IAM gives each role. */
const roleId = (roleArn: string) =>
  `AROA${createHash("sha256").update(roleArn).digest("hex").slice(0, 17).toUpperCase()}`;

export function iamPlugin(options: IamPluginOptions = {}): (context: LocalCloudContext) => IamPart {
  const enforcing = options.enforce !== false;
  return (context) => {
    const registry = new CredentialRegistry();
    const decisions = new DecisionLog(options.decisionCapacity);
    // Each account's resources and roles are asked of its own moto state.
    const lookupsByAccount = new Map<string, MotoLookups>();
    // Per account and region: moto keeps each region's EC2 and Auto Scaling state apart, and a
    // condition on a resource's tags is about the resource in the region the call is made in.
    const lookupsFor = (account: string, region = context.region) => {
      const key = `${account}#${region}`;
      let found = lookupsByAccount.get(key);
      if (!found) {
        found = new MotoLookups({ ...context.internalClientConfig, region }, account);
        lookupsByAccount.set(key, found);
      }
      return found;
    };
    const lookups = lookupsFor(context.accountId);
    // By role ARN: a role of one name may exist in several accounts.
    let policies = new Map<
      string,
      Promise<(RolePolicies & { tagsMatter: (service: string) => boolean }) | undefined>
    >();
    const counts = { Allow: 0, Deny: 0 };
    const denialsFile = options.denialsFile ?? process.env.PHOENIX_IAM_DENIALS;

    const policiesOf = (roleArn: string) => {
      let found = policies.get(roleArn);
      if (!found) {
        found = lookupsFor(accountOfArn(roleArn))
          .rolePolicies(roleNameOfArn(roleArn))
          .then((p) =>
            p
              ? {
                  ...p,
                  tagsMatter: tagConditionedServices([...p.identity, ...(p.boundary ? [p.boundary] : [])]),
                }
              : undefined,
          );
        // A failed read, or a role not there (yet), is not remembered: the next call asks again.
        const forget = () => {
          if (policies.get(roleArn) === found) policies.delete(roleArn);
        };
        found.then((p) => p ?? forget(), forget);
        policies.set(roleArn, found);
      }
      return found;
    };
    const invalidatePolicies = () => {
      policies = new Map();
    };

    const record = (entry: Omit<DecisionRecord, "seq">) => {
      counts[entry.decision]++;
      const full = decisions.add(entry);
      if (entry.decision === "Deny") {
        context.log(`iam: denied ${entry.principal} ${entry.action}: ${entry.reason ?? ""}`);
        // Debugging aid (e.g. a whole test suite): every denial appended to this file, one JSON a line.
        if (denialsFile) appendFileSync(denialsFile, `${JSON.stringify(full)}\n`);
      }
      return full;
    };

    const issue = (request: SessionRequest & { issuedAt?: number }) => {
      if (!isRoleArn(request.roleArn)) throw new Error(`not a role ARN: ${request.roleArn}`);
      const now = request.issuedAt ?? context.clock.now();
      const session: RoleSession = {
        accountId: accountOfArn(request.roleArn),
        roleArn: request.roleArn,
        roleName: roleNameOfArn(request.roleArn),
        sessionName: request.sessionName,
        ...(request.sourceInstanceArn ? { sourceInstanceArn: request.sourceInstanceArn } : {}),
        issuedAt: now,
        ...(request.durationSeconds !== undefined ? { expiresAt: now + request.durationSeconds * 1000 } : {}),
      };
      return { session, credentials: registry.issue(session) };
    };

    /** Evaluates a call's checks as a session; the first denied check's record, if any. */
    const evaluateAs = async (
      session: RoleSession,
      checks: Check[] | undefined,
      call: string,
      build?: (
        tagsMatter: (service: string) => boolean,
      ) => Promise<{ checks: Check[]; missing?: string } | { problem: string; unbuilt?: string }>,
      /** The region the call is signed for (aws:RequestedRegion). */
      region: string = context.region,
    ): Promise<DecisionRecord | undefined> => {
      const now = context.clock.now();
      const principal = assumedRoleArn(session);
      // A decision made before any resource is known (the call as a whole).
      const decideCall = (decision: "Allow" | "Deny", reason: string) =>
        record({
          time: new Date(now).toISOString(),
          principal,
          action: call,
          call,
          resources: [],
          decision,
          reason,
        });
      const deny = (reason: string) => decideCall("Deny", reason);
      let held: Awaited<ReturnType<typeof policiesOf>>;
      try {
        held = await policiesOf(session.roleArn);
      } catch (error) {
        return deny(`the role's policies could not be read from IAM: ${(error as Error).message}`);
      }
      if (!held) return deny(`role ${session.roleArn} does not exist (any more)`);
      let all = checks;
      if (!all) {
        const built = await build!(held.tagsMatter);
        if ("problem" in built) {
          const grant = built.unbuilt ? unconditionalGrant(held) : undefined;
          if (!grant) return deny(built.problem);
          decideCall(
            "Allow",
            `no request-context builder for ${built.unbuilt}, but ${grant.policy}${grant.sid ? ` (${grant.sid})` : ""} allows every action on every resource with no condition, and the role has no Deny: AWS allows it whatever the resource`,
          );
          return undefined;
        }
        if (built.missing) {
          // Nothing to authorize: the service answers that the resource does not exist.
          decideCall("Allow", `${built.missing}: passed on, the service answers that it does not exist`);
          return undefined;
        }
        all = built.checks;
      }
      const base: Context = sessionContext(session, now, region);
      let denied: DecisionRecord | undefined;
      for (const check of all) {
        const entry = record(
          await evaluateCheck({
            principal,
            account: session.accountId,
            policies: held,
            check,
            base,
            call,
            now,
          }),
        );
        if (entry.decision === "Deny" && !denied) denied = entry;
      }
      return denied;
    };

    const sessionOf = (request: AwsRequest) => {
      const key = accessKeyOf(request);
      return key ? registry.lookup(key) : undefined;
    };

    const timing = { calls: 0, ms: 0, maxMs: 0 };
    const authorize = async (request: AwsRequest): Promise<AwsResponse | undefined> => {
      // Not issued here: the account's administrator (a person, a test, the local cloud itself).
      if (!sessionOf(request)) return undefined;
      const started = performance.now();
      try {
        return await authorizeCall(request);
      } finally {
        const ms = performance.now() - started;
        timing.calls++;
        timing.ms += ms;
        timing.maxMs = Math.max(timing.maxMs, ms);
      }
    };
    const authorizeCall = async (request: AwsRequest): Promise<AwsResponse | undefined> => {
      const known = sessionOf(request);
      // Not issued here: the account's administrator (a person, a test, the local cloud itself).
      if (!known) return undefined;
      if (sessionTokenOf(request) !== known.credentials.sessionToken) return invalidToken(request);
      const now = context.clock.now();
      const call = `${request.service}:${request.action}`;
      if (known.session.expiresAt !== undefined && now >= known.session.expiresAt) {
        if (enforcing) {
          record({
            time: new Date(now).toISOString(),
            principal: assumedRoleArn(known.session),
            action: call,
            call,
            resources: [],
            decision: "Deny",
            reason: `the credentials expired at ${new Date(known.session.expiresAt).toISOString()}`,
          });
        }
        return expiredToken(request);
      }
      if (!enforcing) return undefined;
      // STS answers these itself (sts.ts); GetCallerIdentity needs no permission in AWS.
      if (
        request.service === "sts" &&
        (request.action === "GetCallerIdentity" || request.action === "AssumeRole")
      ) {
        return undefined;
      }
      const denied = await evaluateAs(
        known.session,
        undefined,
        call,
        (tagsMatter) =>
          checksFor(
            {
              service: request.service,
              action: request.action,
              protocol: request.protocol,
              params: request.params,
              json: request.json,
              path: request.path,
            },
            {
              scope: { region: request.region, account: known.session.accountId },
              lookups: lookupsFor(known.session.accountId, request.region),
              tagsMatter,
            },
          ),
        request.region,
      );
      return denied ? accessDenied(request, denialMessage(denied)) : undefined;
    };

    const sts: ServiceHandler = {
      name: "iam-sts",
      // A member account's role sessions ask STS too (who am I, role chaining).
      everyAccount: true,
      handles: (request) =>
        request.service === "sts" &&
        (request.action === "AssumeRole" ||
          (request.action === "GetCallerIdentity" && sessionOf(request) !== undefined)),
      async handle(request) {
        const caller = sessionOf(request);
        if (request.action === "GetCallerIdentity") {
          const session = caller!.session;
          return callerIdentityResult(request, {
            arn: assumedRoleArn(session),
            userId: `${roleId(session.roleArn)}:${session.sessionName}`,
            account: session.accountId,
          });
        }
        return assumeRole(request, caller?.session);
      },
    };

    const assumeRole = async (request: AwsRequest, caller: RoleSession | undefined): Promise<AwsResponse> => {
      const roleArn = stsParam(request, "RoleArn") ?? "";
      const sessionName = stsParam(request, "RoleSessionName") ?? "";
      const now = context.clock.now();
      if (!isRoleArn(roleArn) || !/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
        return accessDeniedValidation(request, roleArn, sessionName);
      }
      const duration = Number(stsParam(request, "DurationSeconds") ?? 3600);
      const principal = caller ? assumedRoleArn(caller) : `arn:aws:iam::${context.accountId}:root`;
      // Asked of the role's own account: the ARN names it, and a role of that name elsewhere is not it.
      const role = await lookupsFor(accountOfArn(roleArn)).role(roleNameOfArn(roleArn));
      const resource = { arn: role?.arn ?? roleArn, tags: role?.tags ?? {} };
      if (enforcing) {
        const identity: PolicySet | undefined = caller
          ? await policiesOf(caller.roleArn)
          : { identity: [{ name: "administrator", policy: ADMINISTRATOR_POLICY }] };
        const externalId = stsParam(request, "ExternalId");
        const check: Check = {
          action: "sts:AssumeRole",
          resources: [resource],
          context: {
            "sts:RoleSessionName": sessionName,
            ...(externalId ? { "sts:ExternalId": externalId } : {}),
          },
        };
        const base: Context = caller
          ? sessionContext(caller, now, request.region)
          : {
              "aws:PrincipalArn": principal,
              "aws:PrincipalAccount": context.accountId,
              "aws:CurrentTime": new Date(now).toISOString(),
            };
        const entry =
          role && identity
            ? record(
                await evaluateCheck({
                  principal,
                  account: caller?.accountId ?? context.accountId,
                  // The role's trust policy is the resource policy of sts:AssumeRole.
                  policies: {
                    identity: identity.identity,
                    ...(identity.boundary ? { boundary: identity.boundary } : {}),
                    resourcePolicy: role.trustPolicy ?? { Version: "2012-10-17", Statement: [] },
                  },
                  check,
                  base,
                  call: "sts:AssumeRole",
                  now,
                }),
              )
            : record({
                time: new Date(now).toISOString(),
                principal,
                action: "sts:AssumeRole",
                call: "sts:AssumeRole",
                resources: [roleArn],
                decision: "Deny",
                reason: role ? "the caller's role no longer exists" : `role ${roleArn} does not exist`,
              });
        if (entry.decision === "Deny") {
          const because = entry.statement?.effect === "Deny" ? "with an explicit deny" : "";
          return accessDenied(
            request,
            `User: ${principal} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}${because ? ` ${because}` : ""}`,
          );
        }
      } else if (!role) {
        return accessDenied(
          request,
          `User: ${principal} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
        );
      }
      // Role chaining caps a session at one hour, and the chained session is not the instance's.
      const seconds = Math.min(
        Math.max(900, Number.isFinite(duration) ? duration : 3600),
        caller ? 3600 : 43_200,
      );
      const { session, credentials } = issue({
        roleArn: role?.arn ?? roleArn,
        sessionName,
        durationSeconds: seconds,
        issuedAt: now,
      });
      return assumeRoleResult(request, credentials, {
        arn: assumedRoleArn(session),
        id: `${roleId(session.roleArn)}:${sessionName}`,
      });
    };

    const accessDeniedValidation = (request: AwsRequest, roleArn: string, sessionName: string) =>
      accessDenied(
        { ...request, service: "sts", protocol: request.protocol },
        `invalid AssumeRole request: RoleArn ${JSON.stringify(roleArn)}, RoleSessionName ${JSON.stringify(sessionName)}`,
      );

    const instanceCredentials = async (instanceId: string): Promise<InstanceCredentials> => {
      const profileArn = await lookups.profileOfInstance(instanceId);
      if (!profileArn) {
        throw new InstanceCredentialsError(
          `instance ${instanceId} has no instance profile (or does not exist): IMDS would have no credentials`,
        );
      }
      const profile = await lookups.instanceProfile(profileArn.slice(profileArn.lastIndexOf("/") + 1));
      const roleName = profile?.roleNames[0];
      if (!roleName) {
        throw new InstanceCredentialsError(
          `instance profile ${profileArn} has no role: IMDS would have no credentials`,
        );
      }
      const role = await lookups.role(roleName);
      if (!role) throw new InstanceCredentialsError(`role ${roleName} of ${profileArn} does not exist`);
      const now = context.clock.now();
      const { credentials } = issue({
        roleArn: role.arn,
        sessionName: instanceId,
        sourceInstanceArn: `arn:aws:ec2:${context.region}:${context.accountId}:instance/${instanceId}`,
        durationSeconds: INSTANCE_CREDENTIALS_SECONDS,
        issuedAt: now,
      });
      return {
        Code: "Success",
        Type: "AWS-HMAC",
        LastUpdated: new Date(now).toISOString(),
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        SessionToken: credentials.sessionToken,
        Token: credentials.sessionToken,
        Expiration: new Date(credentials.expiration!).toISOString(),
        RoleArn: role.arn,
        InstanceProfileArn: profileArn,
      };
    };

    const instanceRoute: ControlRoute = async (req) => {
      if (req.method !== "POST") {
        return { status: 405, body: { error: "use POST /_phoenix/instances/<instance-id>/credentials" } };
      }
      const instanceId = /^\/_phoenix\/instances\/([^/]+)\/credentials/.exec(req.url ?? "")?.[1] ?? "";
      try {
        return { status: 200, body: await instanceCredentials(decodeURIComponent(instanceId)) };
      } catch (error) {
        if (error instanceof InstanceCredentialsError) return { status: 404, body: { error: error.message } };
        throw error;
      }
    };

    const decisionsRoute: ControlRoute = async (req) => {
      const query = new URL(req.url ?? "/", "http://gateway").searchParams;
      const number = (name: string) => (query.get(name) ? Number(query.get(name)) : undefined);
      const since = number("since");
      const limit = number("limit");
      const decision = query.get("decision") ?? undefined;
      const principal = query.get("principal") ?? undefined;
      const action = query.get("action") ?? undefined;
      return {
        status: 200,
        body: {
          enforcing,
          last: decisions.last,
          decisions: decisions.query({
            ...(since !== undefined ? { since } : {}),
            ...(limit !== undefined ? { limit } : {}),
            ...(decision ? { decision } : {}),
            ...(principal ? { principal } : {}),
            ...(action ? { action } : {}),
          }),
        },
      };
    };

    // Policies change only through IAM writes: forget what was read once one is served (the role's
    // when the write names one; all after a managed policy's change, which applies to every role
    // it is attached to; instance-profile writes change no role's policies).
    const noticeIamWrites: ResponseObserver = (request) => {
      if (request.service !== "iam" || IAM_READS.test(request.action)) return;
      const role = request.params.get("RoleName");
      if (role) {
        // The cache is by ARN and a role's ARN has its path: forget every role of that name there.
        const account = request.account ?? context.accountId;
        for (const arn of [...policies.keys()])
          if (accountOfArn(arn) === account && roleNameOfArn(arn) === role) policies.delete(arn);
      } else if (/Policy/.test(request.action)) invalidatePolicies();
    };
    noticeIamWrites.everyAccount = true;

    return {
      name: IAM_PART,
      enforcing,
      decisions,
      authorizers: [authorize],
      handlers: [sts],
      observers: [noticeIamWrites],
      control: { [DECISIONS_ROUTE]: decisionsRoute, [INSTANCE_CREDENTIALS_ROUTE]: instanceRoute },
      health: () => ({
        enforcing,
        sessions: registry.size,
        allowed: counts.Allow,
        denied: counts.Deny,
        /** Time spent authorizing calls signed with issued credentials (real ms). */
        authorization: {
          calls: timing.calls,
          meanMs: timing.calls ? Math.round((timing.ms / timing.calls) * 10) / 10 : 0,
          maxMs: Math.round(timing.maxMs),
        },
      }),
      async stop() {
        if (denialsFile && counts.Allow + counts.Deny > 0) {
          const byPrincipal: Record<string, number> = {};
          for (const d of decisions.query())
            byPrincipal[d.principal.split("/")[1] ?? d.principal] =
              (byPrincipal[d.principal.split("/")[1] ?? d.principal] ?? 0) + 1;
          appendFileSync(
            denialsFile,
            `${JSON.stringify({ summary: { enforcing, ...counts, timing, byRole: byPrincipal } })}\n`,
          );
        }
      },
      credentialsFor(request) {
        const { credentials } = issue(request);
        return {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          sessionToken: credentials.sessionToken,
          ...(credentials.expiration !== undefined ? { expiration: new Date(credentials.expiration) } : {}),
        };
      },
      instanceCredentials,
      async check(session, checks, call) {
        if (!enforcing) return { allowed: true };
        const { session: full } = issueTransient(session);
        const denied = await evaluateAs(full, checks, call);
        return denied
          ? { allowed: false, message: denialMessage(denied), record: denied }
          : { allowed: true };
      },
      invalidatePolicies,
      sessionOf: (accessKeyId) => registry.lookup(accessKeyId)?.session,
      accountOf: (request) => sessionOf(request)?.session.accountId,
    };

    function issueTransient(session: { roleArn: string; sessionName: string }): { session: RoleSession } {
      return {
        session: {
          accountId: accountOfArn(session.roleArn),
          roleArn: session.roleArn,
          roleName: roleNameOfArn(session.roleArn),
          sessionName: session.sessionName,
          issuedAt: context.clock.now(),
        },
      };
    }
  };
}

/**
 * Which services' actions a statement conditioned on resource tags may apply to: tags are looked
 * up only for those (a conservative filter, not an evaluation: a NotAction statement, or an
 * action pattern with a wildcard in its service, counts for every service).
 */
export function tagConditionedServices(policies: { policy: unknown }[]): (service: string) => boolean {
  const services = new Set<string>();
  for (const { policy } of policies) {
    const statements = (policy as { Statement?: unknown })?.Statement;
    for (const statement of Array.isArray(statements) ? statements : [statements]) {
      if (!statement || typeof statement !== "object") continue;
      const { Action, NotAction, Condition } = statement as Record<string, unknown>;
      if (!/resourcetag/i.test(JSON.stringify(Condition ?? {}))) continue;
      if (NotAction !== undefined) services.add("*");
      for (const action of Array.isArray(Action) ? Action : [Action]) {
        if (typeof action !== "string") continue;
        const service = action.split(":")[0]!.toLowerCase();
        services.add(/[*?]/.test(service) ? "*" : service);
      }
    }
  }
  return (service) => services.has("*") || services.has(service.toLowerCase());
}
