import { administrativeRole } from "../iam/protected-roles.js";
import * as z from "../validation/zod.js";
import { familyRefresh } from "./family.js";
import { MAX_REFRESH_ALARMS, refreshProblems } from "./refresh-rules.js";
import { ratePeriodMs } from "./schedule.js";

/**
 * Phoenix's one policy. Every field has a default that is safe: containment acts only on
 * high severity, budgets are small, images must carry a passed scan, refreshes roll back.
 */

const findingAction = z.enum(["contain", "notify", "log", "ignore"]);
export type FindingAction = z.infer<typeof findingAction>;

const nonEmptyString = () => z.string().check(z.minLength(1));

const typeOverride = z.strictObject({
  /** Finding type prefix, e.g. "CryptoCurrency:" or "UnauthorizedAccess:EC2/SSHBruteForce". */
  typePrefix: nonEmptyString(),
  /** Only when the instance plays this role in the finding (service.resourceRole). */
  role: z.optional(z.enum(["ACTOR", "TARGET"])),
  action: findingAction,
});

const containmentSchema = z.strictObject({
  /** Severity at or above which an instance finding is contained (High is 7). */
  containAtSeverity: z._default(z.number().check(z.minimum(0), z.maximum(10)), 7),
  /** Severity at or above which a finding is notified (Medium is 4). Below it: logged. */
  notifyAtSeverity: z._default(z.number().check(z.minimum(0), z.maximum(10)), 4),
  /** Checked in order; the first whose prefix (and role, if given) matches wins over severity. */
  typeOverrides: z._default(z.array(typeOverride), [
    { typePrefix: "CryptoCurrency:", action: "contain" },
    { typePrefix: "Backdoor:", action: "contain" },
    { typePrefix: "UnauthorizedAccess:EC2/SSHBruteForce", role: "TARGET", action: "notify" },
    { typePrefix: "UnauthorizedAccess:EC2/RDPBruteForce", role: "TARGET", action: "notify" },
    { typePrefix: "UnauthorizedAccess:EC2/SSHBruteForce", role: "ACTOR", action: "contain" },
    { typePrefix: "UnauthorizedAccess:EC2/RDPBruteForce", role: "ACTOR", action: "contain" },
  ]),
  /**
   * Finding type prefixes (matched like typeOverrides.typePrefix) for which severity may contain
   * an instance that is only the TARGET of the finding (service.resourceRole TARGET). For every
   * other type a TARGET is at most notified: anyone on the internet can probe or brute-force an
   * exposed instance, and must not be able to make Phoenix terminate it. The defaults are the
   * EC2 types whose TARGET findings still describe the instance's own traffic or DNS queries
   * (GuardDuty's EC2 finding types; see docs/ROUTING.md): an SSRF or DNS rebinding reaching the
   * metadata service (its credentials are exposed), a Tor client or relay, and the Trojan:EC2/
   * types (black hole, drop point, DGA, DNS exfiltration, drive-by, phishing). An override whose
   * role is TARGET (or unset) and whose action is contain also names a type; [] disables this.
   */
  containTargetTypes: z._default(z.array(nonEmptyString()), [
    "UnauthorizedAccess:EC2/MetadataDNSRebind",
    "UnauthorizedAccess:EC2/TorClient",
    "UnauthorizedAccess:EC2/TorRelay",
    "Trojan:EC2/",
  ]),
  /**
   * Runtime Monitoring findings on an EKS or ECS cluster's EC2 node (resourceType EKSCluster or
   * ECSCluster) contain the node: opt-in, and only a node whose Auto Scaling group carries
   * phoenix:managed=true (a node group Phoenix may replace). Otherwise they are notified.
   */
  containClusterNodes: z._default(z.boolean(), false),
  allowSampleFindings: z._default(z.boolean(), false),
  allowArchivedFindings: z._default(z.boolean(), false),
  budgets: z._default(
    z.strictObject({
      /** Most instances of one Auto Scaling group contained at once. */
      perGroupMaxCount: z._default(z.int().check(z.minimum(0)), 1),
      /** ... and never more than this share of the group's desired capacity. */
      perGroupMaxPercent: z._default(z.number().check(z.minimum(0), z.maximum(100)), 34),
      /** Most containments started in one account within the window. */
      perAccountMaxCount: z._default(z.int().check(z.minimum(0)), 5),
      windowMinutes: z._default(z.int().check(z.minimum(1)), 60),
    }),
    { perGroupMaxCount: 1, perGroupMaxPercent: 34, perAccountMaxCount: 5, windowMinutes: 60 },
  ),
  /** What becomes of the compromised instance once evidence is complete. */
  dispose: z._default(z.enum(["terminate", "stop"]), "terminate"),
  /** SSM document run for memory capture before snapshots; none by default. */
  memoryCaptureDocument: z.optional(nonEmptyString()),
  quarantineInstanceProfile: z._default(nonEmptyString(), "phoenix-quarantine"),
  quarantineSecurityGroupName: z._default(nonEmptyString(), "phoenix-quarantine"),
  isolationSecurityGroupName: z._default(nonEmptyString(), "phoenix-isolation-transition"),
  /** How long to wait for the group to be back at full healthy capacity. */
  replacementTimeoutMinutes: z._default(z.int().check(z.minimum(1)), 30),
  /**
   * A poisoned image: when at least `minInstances` instances launched from one AMI are contained
   * within `windowHours`, the AMI is marked phoenix:image-status=compromised (the gate refuses it
   * from then on) and, with `rollBack`, a family whose current image it is rolls back to the last
   * image that rolled out successfully.
   */
  poisonedImage: z._default(
    z.strictObject({
      minInstances: z._default(z.int().check(z.minimum(1)), 2),
      windowHours: z._default(z.number().check(z.positive()), 24),
      rollBack: z._default(z.boolean(), true),
    }),
    { minInstances: 2, windowHours: 24, rollBack: true },
  ),
});

/**
 * The refresh preferences' fields. `withDefaults` false gives the same fields, all optional and
 * without defaults: a family's override names only what differs from `rollout.refresh`.
 */
function refreshFields<D extends boolean>(withDefaults: D) {
  const field = <T extends z.ZodMiniType>(schema: T, value: z.output<T>) =>
    (withDefaults ? z._default(schema, value as never) : z.optional(schema)) as D extends true
      ? z.ZodMiniDefault<T>
      : z.ZodMiniOptional<T>;
  return {
    minHealthyPercentage: field(z.int().check(z.minimum(0), z.maximum(100)), 90),
    maxHealthyPercentage: field(z.int().check(z.minimum(100), z.maximum(200)), 100),
    /** Seconds; absent means the group's own health check grace period / default warmup. */
    instanceWarmup: z.optional(z.int().check(z.minimum(0))),
    skipMatching: field(z.boolean(), true),
    autoRollback: field(z.boolean(), true),
    checkpointPercentages: z.optional(z.array(z.int().check(z.minimum(1), z.maximum(100)))),
    checkpointDelay: z.optional(z.int().check(z.minimum(0))),
    /** Seconds the refresh waits after the last replacement before it reports success. */
    bakeTime: z.optional(z.int().check(z.minimum(0))),
    /**
     * CloudWatch alarm names (AlarmSpecification): while the refresh runs, any of them in ALARM
     * fails it, and with autoRollback rolls it back. A group adds its own with the tag
     * `phoenix:rollback-alarms` (comma-separated). AWS takes at most 10 per refresh.
     */
    alarms: z.optional(z.array(nonEmptyString()).check(z.maxLength(MAX_REFRESH_ALARMS))),
    /**
     * Instances protected from scale-in: "Refresh" replaces them like the others (default: an
     * immutable fleet leaves none behind), "Ignore" leaves them on the old image (the group is
     * then reported as not rolled), "Wait" waits up to an hour for the protection to go, then
     * the refresh fails. AWS's own default, when left unset, is "Wait".
     */
    scaleInProtectedInstances: field(z.enum(["Refresh", "Ignore", "Wait"]), "Refresh"),
    /**
     * Instances in Standby (out of service, still in the group): "Terminate" terminates them
     * (default: none is left on the old image to be put back in service), "Ignore" leaves them
     * (the group is then reported as not rolled), "Wait" (AWS's default) as for protected ones.
     */
    standbyInstances: field(z.enum(["Terminate", "Ignore", "Wait"]), "Terminate"),
  };
}

const refreshSchema = z.strictObject(refreshFields(true)).check(
  // The rules AWS checks only at StartInstanceRefresh: refused here, so a policy no group could
  // be refreshed with fails `phoenix config check`, the deploy and every cold start.
  z.superRefine((refresh, ctx) => {
    for (const problem of refreshProblems(refresh)) {
      ctx.addIssue({ code: "custom", message: problem.message, path: problem.path });
    }
  }),
);

/** Per image family: what differs from the rollout policy for that family's groups. */
const familyRolloutSchema = z.strictObject({
  refresh: z.optional(z.strictObject(refreshFields(false))),
});

const imageGateSchema = z
  .strictObject({
    /** Account ids allowed to own a rolled-out image; "self" is the account Phoenix runs in. */
    allowedOwners: z._default(
      z.array(z.string().check(z.regex(/^(self|\d{12})$/, "an account id or 'self'"))).check(z.minLength(1)),
      ["self"],
    ),
    /** Tags an image must carry, with these exact values. */
    requiredTags: z._default(z.record(z.string(), z.string()), { "phoenix:scan-status": "passed" }),
    requireSignature: z._default(z.boolean(), false),
    signatureTag: z._default(nonEmptyString(), "phoenix:signature"),
    /** KMS key (id, ARN or alias) whose asymmetric key verifies image signatures. */
    signingKeyId: z.optional(nonEmptyString()),
  })
  .check(
    z.refine((g) => !g.requireSignature || g.signingKeyId !== undefined, {
      message: "requireSignature is true but no signingKeyId is set",
      path: ["signingKeyId"],
    }),
    z.superRefine((g, ctx) => {
      const problem = signingKeyProblem(g.signingKeyId, g.allowedOwners);
      if (problem) ctx.addIssue({ code: "custom", message: problem, path: ["signingKeyId"] });
    }),
  );

const KMS_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/.+$/;

/**
 * KMS resolves a key id or an alias name in the caller's own account: a key of the image
 * pipeline's account can be used only by its key ARN or alias ARN (and IAM grants it only then,
 * build/iam/context.ts). When images may come from another account, the key must be named so.
 */
function signingKeyProblem(keyId: string | undefined, owners: readonly string[]): string | undefined {
  if (keyId === undefined) return undefined;
  if (keyId.startsWith("arn:")) {
    return KMS_ARN.test(keyId)
      ? undefined
      : `${JSON.stringify(keyId)} is not a KMS key ARN or alias ARN (arn:aws:kms:<region>:<account>:key/<id> or …:alias/<name>)`;
  }
  const others = owners.filter((owner) => owner !== "self");
  if (others.length === 0) return undefined;
  return (
    `${JSON.stringify(keyId)} names a key in Phoenix's own account (KMS resolves a key id or alias name in the ` +
    `caller's account), but images may come from account ${others.join(", ")}: give the signing key's key ARN or ` +
    "alias ARN (arn:aws:kms:<region>:<account>:key/<id> or …:alias/<name>), whichever account holds it"
  );
}

const rolloutSchema = z
  .strictObject({
    imageGate: z._default(imageGateSchema, {
      allowedOwners: ["self"],
      requiredTags: { "phoenix:scan-status": "passed" },
      requireSignature: false,
      signatureTag: "phoenix:signature",
    }),
    /** Parameter Store names (exact, or a prefix ending in "/") whose value is a family's AMI id. */
    imageParameters: z._default(z.array(z.string().check(z.startsWith("/"))), ["/phoenix/images/"]),
    refresh: z._default(refreshSchema, {
      minHealthyPercentage: 90,
      maxHealthyPercentage: 100,
      skipMatching: true,
      autoRollback: true,
      scaleInProtectedInstances: "Refresh",
      standbyInstances: "Terminate",
    }),
    /** Groups refreshed at once within a wave. */
    maxConcurrentGroups: z._default(z.int().check(z.minimum(1), z.maximum(40)), 5),
    /** Minutes a wave must stay healthy before the next starts. */
    waveBakeMinutes: z._default(z.number().check(z.minimum(0)), 10),
    /** A refresh Phoenix did not start is running on a group: wait for it, or skip the group. */
    foreignRefresh: z._default(z.enum(["wait", "skip"]), "wait"),
    foreignRefreshMaxWaitMinutes: z._default(z.int().check(z.minimum(1)), 60),
    lockTtlMinutes: z._default(z.int().check(z.minimum(1)), 180),
    /** Per image family: refresh preferences that differ (e.g. its own alarms or checkpoints). */
    families: z._default(z.record(nonEmptyString(), familyRolloutSchema), {}),
  })
  .check(
    // A family's preferences are the rollout's with its override on top: the merged ones must
    // pass AWS's rules too, named by the family's path.
    z.superRefine((rollout, ctx) => {
      for (const family of Object.keys(rollout.families)) {
        for (const problem of refreshProblems(familyRefresh(rollout, family))) {
          ctx.addIssue({
            code: "custom",
            message: problem.message,
            path: ["families", family, "refresh", ...problem.path],
          });
        }
      }
    }),
  );

const driftMode = z.enum(["report", "enforce"]);

/**
 * The drift sweep (`phoenix sweep`, and the deployed schedule): what it looks for, and what it
 * does about it. `report` lists the drift and changes nothing but the isolation groups it makes
 * sure of; `enforce` also replaces what drifted in managed groups, through the rollout workflow
 * (its gate, pause, waves, locks), at most `maxGroupsPerSweep` groups per sweep: the rest wait
 * for a person's approval (`phoenix approve <hold-id>`).
 */
const driftSchema = z.strictObject({
  mode: z._default(driftMode, "report"),
  /** Per image family: a mode that differs from `mode`. */
  families: z._default(z.record(nonEmptyString(), z.strictObject({ mode: driftMode })), {}),
  /** Groups one sweep may start replacing in enforce mode; beyond it, each waits for approval. */
  maxGroupsPerSweep: z._default(z.int().check(z.minimum(0)), 2),
  /** An instance launched longer ago than this is drift, whatever it runs. */
  maxInstanceAgeDays: z._default(z.int().check(z.minimum(1)), 30),
  /** How often the deployed sweep runs (an EventBridge schedule rule): rate(<n> minutes|hours|days). */
  schedule: z._default(
    z.string().check(
      z.refine((value) => ratePeriodMs(value).ok, {
        error: (issue) => {
          const result = ratePeriodMs(String(issue.input));
          return result.ok ? "" : result.error;
        },
      }),
    ),
    "rate(1 day)",
  ),
});

/**
 * Interactive sessions (SSM Session Manager, EC2 Instance Connect, the serial console) on an
 * instance of a managed group: the instance is marked phoenix:tainted and replaced through its
 * group. Not a containment: no isolation, no evidence.
 */
const sessionsSchema = z.strictObject({
  /** replace: mark and replace (default); notify: mark and tell people, replace nothing. */
  action: z._default(z.enum(["replace", "notify"]), "replace"),
  /**
   * The longest a phoenix:break-glass tag exempts an instance, counted from the session: a tag
   * naming a later time is not honoured (the instance is replaced as if it had none).
   */
  breakGlassMaxHours: z._default(z.number().check(z.minimum(0), z.maximum(168)), 12),
});

/** The member role Phoenix assumes in a member account unless the policy names another. */
export const DEFAULT_MEMBER_ROLE = "phoenix-member";

const ACCOUNT_ID = /^\d{12}$/;
/** us-east-1, eu-west-1, ap-southeast-2, us-gov-west-1, cn-north-1: AWS's region names. */
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;
/** What IAM accepts as a role name (and a role session's ARN can carry). */
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

/**
 * A member account Phoenix acts in: where findings come from and fleets run, reached through the
 * member stack's role (docs/DEPLOY.md). The account Phoenix runs in is a member implicitly, in
 * its own region; list it to manage it in more regions.
 */
const memberAccountSchema = z.strictObject({
  accountId: z.string().check(z.regex(ACCOUNT_ID, "must be a 12-digit AWS account id, as a string")),
  regions: z.array(z.string().check(z.regex(REGION, "must be an AWS region name, e.g. eu-west-1"))).check(
    z.minLength(1, "must list at least one region"),
    z.refine((regions) => new Set(regions).size === regions.length, "lists a region twice"),
  ),
  /** The role the member stack creates (`npm run synth -- --member`). */
  roleName: z._default(
    z.string().check(
      z.regex(ROLE_NAME, "must be an IAM role name (1-64 of A-Z a-z 0-9 +=,.@_-)"),
      z.refine(
        (name) => administrativeRole(name) === undefined,
        "must be the member stack's role, not an administrative one (OrganizationAccountAccessRole, Control Tower's, StackSets', CDK's): Phoenix would be allowed to assume it",
      ),
    ),
    DEFAULT_MEMBER_ROLE,
  ),
  /**
   * The wave this account's groups start at: a group's wave in a rollout is this plus its
   * `phoenix:wave` (default 1), so waves span accounts and an account can go first (staging 0,
   * production 10). Phoenix's own account may be listed, with its own region only, to set it.
   */
  firstWave: z._default(z.int().check(z.minimum(0, "must be a whole number ≥ 0")), 0),
});

export type MemberAccount = z.infer<typeof memberAccountSchema>;

export const policySchema = z.strictObject({
  /** Member accounts and their regions (see memberAccountSchema); none: only Phoenix's own. */
  accounts: z._default(
    z.array(memberAccountSchema).check(
      z.superRefine((accounts, ctx) => {
        const seen = new Set<string>();
        accounts.forEach((account, index) => {
          if (seen.has(account.accountId))
            ctx.addIssue({
              code: "custom",
              message: `account ${account.accountId} is listed twice: list each account once, with all its regions`,
              path: [index, "accountId"],
            });
          seen.add(account.accountId);
        });
      }),
    ),
    [],
  ),
  containment: z._default(containmentSchema, () => containmentSchema.parse({})),
  rollout: z._default(rolloutSchema, () => rolloutSchema.parse({})),
  drift: z._default(driftSchema, () => driftSchema.parse({})),
  sessions: z._default(sessionsSchema, () => sessionsSchema.parse({})),
  retention: z._default(
    z.strictObject({
      auditDays: z._default(z.int().check(z.minimum(1)), 400),
      dedupeHours: z._default(z.int().check(z.minimum(1)), 24),
    }),
    { auditDays: 400, dedupeHours: 24 },
  ),
  notifications: z._default(
    z.strictObject({
      email: z.optional(z.email()),
    }),
    {},
  ),
});

export type Policy = z.infer<typeof policySchema>;
export type ContainmentPolicy = Policy["containment"];
export type RolloutPolicy = Policy["rollout"];
export type RefreshPreferencesPolicy = RolloutPolicy["refresh"];
export type ImageGatePolicy = RolloutPolicy["imageGate"];
export type DriftPolicy = Policy["drift"];
export type SessionsPolicy = Policy["sessions"];
