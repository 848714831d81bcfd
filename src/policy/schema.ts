import { z } from "zod";

/**
 * Phoenix's one policy. Every field has a default that is safe: containment acts only on
 * high severity, budgets are small, images must carry a passed scan, refreshes roll back.
 */

const findingAction = z.enum(["contain", "notify", "log", "ignore"]);
export type FindingAction = z.infer<typeof findingAction>;

const typeOverride = z
  .object({
    /** Finding type prefix, e.g. "CryptoCurrency:" or "UnauthorizedAccess:EC2/SSHBruteForce". */
    typePrefix: z.string().min(1),
    /** Only when the instance plays this role in the finding (service.resourceRole). */
    role: z.enum(["ACTOR", "TARGET"]).optional(),
    action: findingAction,
  })
  .strict();

const containmentSchema = z
  .object({
    /** Severity at or above which an instance finding is contained (High is 7). */
    containAtSeverity: z.number().min(0).max(10).default(7),
    /** Severity at or above which a finding is notified (Medium is 4). Below it: logged. */
    notifyAtSeverity: z.number().min(0).max(10).default(4),
    /** Checked in order; the first whose prefix (and role, if given) matches wins over severity. */
    typeOverrides: z.array(typeOverride).default([
      { typePrefix: "CryptoCurrency:", action: "contain" },
      { typePrefix: "Backdoor:", action: "contain" },
      { typePrefix: "UnauthorizedAccess:EC2/SSHBruteForce", role: "TARGET", action: "notify" },
      { typePrefix: "UnauthorizedAccess:EC2/RDPBruteForce", role: "TARGET", action: "notify" },
      { typePrefix: "UnauthorizedAccess:EC2/SSHBruteForce", role: "ACTOR", action: "contain" },
      { typePrefix: "UnauthorizedAccess:EC2/RDPBruteForce", role: "ACTOR", action: "contain" },
    ]),
    allowSampleFindings: z.boolean().default(false),
    allowArchivedFindings: z.boolean().default(false),
    budgets: z
      .object({
        /** Most instances of one Auto Scaling group contained at once. */
        perGroupMaxCount: z.number().int().min(0).default(1),
        /** ... and never more than this share of the group's desired capacity. */
        perGroupMaxPercent: z.number().min(0).max(100).default(34),
        /** Most containments started in one account within the window. */
        perAccountMaxCount: z.number().int().min(0).default(5),
        windowMinutes: z.number().int().min(1).default(60),
      })
      .strict()
      .default({ perGroupMaxCount: 1, perGroupMaxPercent: 34, perAccountMaxCount: 5, windowMinutes: 60 }),
    /** What becomes of the compromised instance once evidence is complete. */
    dispose: z.enum(["terminate", "stop"]).default("terminate"),
    /** SSM document run for memory capture before snapshots; none by default. */
    memoryCaptureDocument: z.string().min(1).optional(),
    quarantineInstanceProfile: z.string().min(1).default("phoenix-quarantine"),
    quarantineSecurityGroupName: z.string().min(1).default("phoenix-quarantine"),
    isolationSecurityGroupName: z.string().min(1).default("phoenix-isolation-transition"),
    /** How long to wait for the group to be back at full healthy capacity. */
    replacementTimeoutMinutes: z.number().int().min(1).default(30),
  })
  .strict();

const refreshSchema = z
  .object({
    minHealthyPercentage: z.number().int().min(0).max(100).default(90),
    maxHealthyPercentage: z.number().int().min(100).max(200).default(100),
    /** Seconds; absent means the group's own health check grace period / default warmup. */
    instanceWarmup: z.number().int().min(0).optional(),
    skipMatching: z.boolean().default(true),
    autoRollback: z.boolean().default(true),
    checkpointPercentages: z.array(z.number().int().min(1).max(100)).optional(),
    checkpointDelay: z.number().int().min(0).optional(),
    /** Seconds the refresh waits after the last replacement before it reports success. */
    bakeTime: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((r) => r.maxHealthyPercentage - r.minHealthyPercentage <= 100, {
    message: "maxHealthyPercentage minus minHealthyPercentage must not exceed 100",
    path: ["maxHealthyPercentage"],
  });

const imageGateSchema = z
  .object({
    /** Account ids allowed to own a rolled-out image; "self" is the account Phoenix runs in. */
    allowedOwners: z
      .array(z.string().regex(/^(self|\d{12})$/, "an account id or 'self'"))
      .min(1)
      .default(["self"]),
    /** Tags an image must carry, with these exact values. */
    requiredTags: z.record(z.string(), z.string()).default({ "phoenix:scan-status": "passed" }),
    requireSignature: z.boolean().default(false),
    signatureTag: z.string().min(1).default("phoenix:signature"),
    /** KMS key (id, ARN or alias) whose asymmetric key verifies image signatures. */
    signingKeyId: z.string().min(1).optional(),
  })
  .strict()
  .refine((g) => !g.requireSignature || g.signingKeyId !== undefined, {
    message: "requireSignature is true but no signingKeyId is set",
    path: ["signingKeyId"],
  });

const rolloutSchema = z
  .object({
    imageGate: imageGateSchema.default({
      allowedOwners: ["self"],
      requiredTags: { "phoenix:scan-status": "passed" },
      requireSignature: false,
      signatureTag: "phoenix:signature",
    }),
    /** Parameter Store names (exact, or a prefix ending in "/") whose value is a family's AMI id. */
    imageParameters: z.array(z.string().startsWith("/")).default(["/phoenix/images/"]),
    refresh: refreshSchema.default({
      minHealthyPercentage: 90,
      maxHealthyPercentage: 100,
      skipMatching: true,
      autoRollback: true,
    }),
    /** Groups refreshed at once within a wave. */
    maxConcurrentGroups: z.number().int().min(1).max(40).default(5),
    /** Minutes a wave must stay healthy before the next starts. */
    waveBakeMinutes: z.number().min(0).default(10),
    /** A refresh Phoenix did not start is running on a group: wait for it, or skip the group. */
    foreignRefresh: z.enum(["wait", "skip"]).default("wait"),
    foreignRefreshMaxWaitMinutes: z.number().int().min(1).default(60),
    lockTtlMinutes: z.number().int().min(1).default(180),
  })
  .strict();

export const policySchema = z
  .object({
    containment: containmentSchema.default(() => containmentSchema.parse({})),
    rollout: rolloutSchema.default(() => rolloutSchema.parse({})),
    retention: z
      .object({
        auditDays: z.number().int().min(1).default(400),
        dedupeHours: z.number().int().min(1).default(24),
      })
      .strict()
      .default({ auditDays: 400, dedupeHours: 24 }),
    notifications: z
      .object({
        email: z.string().email().optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type Policy = z.infer<typeof policySchema>;
export type ContainmentPolicy = Policy["containment"];
export type RolloutPolicy = Policy["rollout"];
export type RefreshPreferencesPolicy = RolloutPolicy["refresh"];
export type ImageGatePolicy = RolloutPolicy["imageGate"];
