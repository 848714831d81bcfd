import * as z from "../../validation/zod.js";
import type { LaunchTemplateInUse } from "../core/group.js";
import type { RefreshPreferences } from "../core/preferences.js";
import type { RefreshOutcome } from "../core/refresh-outcome.js";

/**
 * The data that flows through workflows/rollout.asl.json, state by state. The Lambda steps
 * produce and read these shapes; the ASL only moves them around (ResultPath, ItemsPath).
 */

/** Execution input: `{family, imageId}` (what on-image starts) or `{groups, imageId}` (by hand). */
export const rolloutRequestSchema = z
  .object({
    imageId: z.string().check(z.regex(/^ami-[0-9a-z]+$/, "not an AMI id")),
    family: z.optional(z.string().check(z.minLength(1))),
    /** Group names in Phoenix's own account, or `<account>/<region>/<name>` in a member (place.ts). */
    groups: z.optional(z.array(z.string().check(z.minLength(1))).check(z.minLength(1))),
    /** Who asked, for the audit trail ("user:<name>"); events leave it out. */
    requestedBy: z.optional(z.string().check(z.minLength(1))),
    /** Replace every instance, those already on the image too (the drift sweep enforcing age or taint). */
    replaceAll: z.optional(z.boolean()),
  })
  .check(
    z.refine((request) => request.family !== undefined || request.groups !== undefined, {
      message: "give a family or a list of groups",
      path: ["family"],
    }),
  );
export type RolloutRequest = z.infer<typeof rolloutRequestSchema>;

/** What each group's branch needs to know of its group, from the plan. */
export interface GroupOrder {
  /** The group's name in its account; `accountId`/`region` when that is a member's (place.ts). */
  name: string;
  accountId?: string;
  region?: string;
  /** The group's key (place.ts): what the workflow's own states name it by (AbandonFailed). */
  key: string;
  wave: number;
  launchTemplate: LaunchTemplateInUse;
  currentImageId?: string;
  preferences: RefreshPreferences;
  /** Refresh even if every instance is on the image (RolloutRequest.replaceAll). */
  replaceAll?: boolean;
}

/**
 * "blocked": no group could be rolled, and some are managed groups of the family with problems.
 * "paused": rollouts of the family are paused (`phoenix pause`): nothing was planned.
 */
export type PlanOutcome = "proceed" | "refused" | "superseded" | "nothing-to-do" | "blocked" | "paused";

/** `$.rollout`: the plan's result, carried through every wave. */
export interface RolloutContext {
  outcome: PlanOutcome;
  reason: string;
  execution: string;
  family: string;
  imageId: string;
  /** Named groups (a manual start): not part of the family's supersede ordering. */
  explicit: boolean;
  requestedBy: string;
  waves: { wave: number; groups: GroupOrder[] }[];
  waveCount: number;
  /**
   * Groups the rollout should have rolled and cannot (the plan's problems; for named groups,
   * also those excluded): the rollout then ends incomplete, never succeeded.
   */
  notRolled: { name: string; reason: string }[];
  /** Map MaxConcurrencyPath: groups refreshed at once within a wave. */
  maxConcurrentGroups: number;
  /** Wait SecondsPath after each wave but the last (the local clock shortens it). */
  bakeSeconds: number;
  /** Wait SecondsPath between two looks at a refresh. */
  pollSeconds: number;
  foreignRefresh: "wait" | "skip";
  foreignWaitSeconds: number;
  lockTtlSeconds: number;
}

/** The plan step's output: the whole state from there on. */
export interface PlanStepOutput {
  rollout: RolloutContext;
  cursor: number;
}

/** "paused": rollouts are paused, so the group starts no refresh (and waits for none). */
export type PrepareAction = "refresh" | "adopt" | "wait" | "skip" | "give-up" | "paused";

/** `$` inside a group's branch: the order, then what each step added. */
export interface GroupTask {
  execution: string;
  family: string;
  imageId: string;
  wave: number;
  group: GroupOrder;
  pollSeconds: number;
  foreignRefresh: "wait" | "skip";
  foreignWaitSeconds: number;
  lockTtlSeconds: number;
  lock?: { owner: string; expiresAt: number };
  prep?: { action: PrepareAction; reason: string; waitedSeconds: number; refresh?: { refreshId: string } };
  version?: {
    launchTemplateId: string;
    version: string;
    sourceVersion: string;
    created: boolean;
    /** The group's mixed instances policy when the version was made: the refresh sends it back. */
    mixedInstancesPolicy?: Record<string, unknown>;
  };
  refresh?: { refreshId: string; adopted?: boolean; followUps?: number };
  status?: RefreshPoll;
  /** Set by a Catch: the error of the step that failed. */
  error?: { Error?: string; Cause?: string };
}

export const groupTaskSchema = z.looseObject({
  execution: z.string().check(z.minLength(1)),
  family: z.string().check(z.minLength(1)),
  imageId: z.string().check(z.minLength(1)),
  wave: z.int(),
  group: z.looseObject({
    name: z.string().check(z.minLength(1)),
    accountId: z.optional(z.string().check(z.regex(/^\d{12}$/, "not an account id"))),
    region: z.optional(z.string().check(z.minLength(1))),
    launchTemplate: z.looseObject({ version: z.string().check(z.minLength(1)) }),
    preferences: z.looseObject({}),
  }),
  pollSeconds: z.number().check(z.positive()),
  foreignRefresh: z.enum(["wait", "skip"]),
  foreignWaitSeconds: z.number().check(z.minimum(0)),
  lockTtlSeconds: z.number().check(z.positive()),
});

export interface RefreshPoll {
  refreshId: string;
  status: string;
  terminal: boolean;
  outcome?: RefreshOutcome | "incomplete";
  reason: string;
  percentageComplete?: number;
  /** A follow-up refresh the poll started: the branch polls that one next. */
  followUp?: { refreshId: string; followUps: number };
}

/**
 * "incomplete": the refresh ended Successful but serving instances still run another image
 * (scale-in protected or Standby instances left alone): the group is not rolled.
 */
export type GroupOutcome =
  | "succeeded"
  | "skipped"
  | RefreshOutcome
  | "incomplete"
  | "blocked"
  | "error"
  | "paused";

/** What each group's branch returns: the Map collects these for the wave verdict. */
export interface GroupResult {
  /** The group's key (place.ts): its name at home, `<account>/<region>/<name>` in a member. */
  group: string;
  accountId?: string;
  region?: string;
  wave: number;
  outcome: GroupOutcome;
  reason: string;
  refreshId?: string;
}

/** BeginWave's result, at `$.wave`. */
export type WaveStart =
  | { go: true; wave: number; reason: string; tasks: GroupTask[] }
  | { go: false; wave: number; reason: string; tasks: []; paused?: boolean };

/** EndWave's result, at `$.verdict`. */
export interface WaveVerdict {
  wave: number;
  ok: boolean;
  /** The wave failed because a refresh of the image failed or rolled back. */
  rejectImage: boolean;
  /** This was the last wave. */
  last: boolean;
  failures: GroupResult[];
  /** Groups that started no refresh because rollouts were paused: the rollout stops here. */
  paused: boolean;
  summary: string;
}
