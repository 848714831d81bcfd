/**
 * The data that flows through the contain state machine. The execution input is
 * `{ containment, results: {} }`; every step receives the whole state and adds its own result
 * under `results.<step>` (the Lambda wrapper merges it), so a later step, a retry or the failure
 * report can see everything done so far.
 */
export interface ContainmentInput {
  /** The execution name: deterministic per instance and containment generation. */
  containmentId: string;
  instanceId: string;
  /** The member account of the finding (detail.accountId). */
  accountId: string;
  /** The instance's region (the finding's); absent on inputs made before member accounts: Phoenix's own. */
  region?: string;
  findingId: string;
  findingType: string;
  severity: number;
  /** When Phoenix received the finding (the start of the timeline). */
  findingReceivedAt: string;
  generation: number;
  /** The Auto Scaling group the instance was in when the finding arrived; absent: standalone. */
  groupName?: string;
  /** Set when a person approved a held containment (protected or over budget). */
  approvedBy?: string;
}

/** The Admit step's answer: go on with the record's input, or end without acting. */
export interface AdmitResult {
  proceed: boolean;
  /**
   * admitted: the record names this execution; delegated: the intake started (or joined) the
   * instance's containment under another name; held: waiting for approval; refused: not contained.
   */
  outcome: "admitted" | "delegated" | "held" | "refused";
  reason: string;
  /** The containment execution that acts (this one when admitted). */
  execution?: string;
  /** When admitted: the input stored in the record, which replaces the execution's own. */
  containment?: ContainmentInput;
}

export interface InterfaceIsolation {
  networkInterfaceId: string;
  vpcId: string;
  originalGroupIds: string[];
}

export interface IsolateResult {
  /** The account that owns the instance (for its ARN in the credential deny). */
  ownerId: string;
  interfaces: InterfaceIsolation[];
  /** Branch interfaces of the node's pods (security groups for pods), cut off after the node's. */
  podInterfaces?: InterfaceIsolation[];
  transitionGroupIds: Record<string, string>;
  quarantineGroupIds: Record<string, string>;
  /** The profile the instance had before containment, if any. */
  originalProfileArn?: string;
  isolatedAt: string;
}

export interface HardenResult {
  changed: string[];
  hardenedAt: string;
}

export interface RevokeResult {
  quarantineProfileArn: string;
  /** When EC2 confirmed the quarantine profile on the instance (the revocation time is after it). */
  swapConfirmedAt?: string;
  /** The role of the original profile, if any (its credentials are denied unless credentialsNotRevoked). */
  roleName?: string;
  /** The role's inline policy that lists the instance (one per role and stage). */
  denyPolicyName?: string;
  tokensIssuedBefore?: string;
  /** Why the instance's existing credentials could not be denied (e.g. not a fleet role). */
  credentialsNotRevoked?: string;
  disassociatedAddresses: string[];
  revokedAt: string;
}

export interface EvidenceResult {
  snapshotIds: string[];
  volumeIds: string[];
  memoryCaptureCommandId?: string;
  startedAt: string;
}

export interface EvidenceStatusResult {
  complete: boolean;
  pending: number;
  checkedAt: string;
  completedAt?: string;
}

export interface ReplaceResult {
  /** False for a standalone instance: nothing replaces it. */
  replaced: boolean;
  groupName?: string;
  detachedAt?: string;
}

/** What the TraceImage step found of the instance's image (src/containment/workflow/trace-image.ts). */
export interface TraceImageResult {
  traced: boolean;
  reason: string;
  imageId?: string;
  family?: string;
  /** Distinct instances of the image contained within the policy's window, this one included. */
  instances?: number;
  compromised?: boolean;
  /** "failed": the rollback could not be started (audited and told; a person rolls back). */
  rollback?: "started" | "already-started" | "not-current" | "no-good-image" | "failed";
}

export interface ReplacementStatusResult {
  healthy: boolean;
  healthyCount: number;
  desiredCapacity: number;
  checkedAt: string;
  healthyAt?: string;
  /** Replacements held by a launch lifecycle hook (Pending:Wait) at this poll. */
  waitingForLifecycleHook?: string[];
}

export interface DisposeResult {
  disposition: "terminated" | "stopped" | "kept";
  reason: string;
  disposedAt: string;
}

export interface ReportResult {
  reportedAt: string;
  totalMs?: number;
}

export interface FailureReportResult {
  failedAt: string;
  isolated: boolean;
  /** Also the Cause of the workflow's Fail state. */
  message: string;
  reportedAt: string;
}

export interface StepResults {
  admit: AdmitResult;
  isolate: IsolateResult;
  harden: HardenResult;
  revoke: RevokeResult;
  evidence: EvidenceResult;
  evidenceStatus: EvidenceStatusResult;
  replace: ReplaceResult;
  traceImage: TraceImageResult;
  replacementStatus: ReplacementStatusResult;
  dispose: DisposeResult;
  report: ReportResult;
  failure: FailureReportResult;
}

export type StepName = keyof StepResults;

/** What Step Functions' Catch puts at `$.error`. */
export interface CaughtError {
  Error: string;
  Cause?: string;
}

export interface ContainState {
  containment: ContainmentInput;
  results: Partial<StepResults>;
  error?: CaughtError;
  /**
   * TraceImage's failure, once its retries are spent: kept aside (the containment goes on with the
   * evidence) and reported by Report or ReportFailure, so a containment whose image may not be
   * counted toward the poisoned-image threshold, marked or rolled back says so.
   */
  traceError?: CaughtError;
}

export const instanceSubject = (instanceId: string): string => `instance/${instanceId}`;
export const ACTOR = "phoenix:contain";

/**
 * Where a containment's instance runs, when that is not Phoenix's own account and region: what
 * the steps that keep to Phoenix's own deps (the reports) say in their records and messages.
 */
export function memberPlace(
  input: Pick<ContainmentInput, "accountId" | "region">,
  home: { accountId: string; region: string },
): { accountId: string; region: string; text: string } | undefined {
  const region = input.region ?? home.region;
  if (input.accountId === home.accountId && region === home.region) return undefined;
  return { accountId: input.accountId, region, text: ` in account ${input.accountId} region ${region}` };
}
