import { randomBytes } from "node:crypto";

/**
 * IAM on the local cloud, the data: who a set of credentials is (a session of a role, as STS
 * issues them to Lambda, Step Functions, an instance profile or AssumeRole), and what was decided
 * for each call such a session made. Pure: time comes in as simulated epoch milliseconds.
 */

/** A session of a role: what AWS puts in the request context of every call made with its credentials. */
export interface RoleSession {
  accountId: string;
  /** `arn:aws:iam::<account>:role/<path><name>`. */
  roleArn: string;
  /** The role's name (without its path), as the assumed-role ARN names it. */
  roleName: string;
  sessionName: string;
  /** Instance-profile credentials only: the instance they were handed to (`ec2:SourceInstanceARN`). */
  sourceInstanceArn?: string;
  /** Simulated epoch ms the credentials were issued (`aws:TokenIssueTime`). */
  issuedAt: number;
  /** Simulated epoch ms after which they are refused; none for the credentials of a deployed function. */
  expiresAt?: number;
}

export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Simulated epoch ms, when the session expires. */
  expiration?: number;
}

/** How AWS names the principal of a role session. */
export const assumedRoleArn = (session: Pick<RoleSession, "accountId" | "roleName" | "sessionName">) =>
  `arn:aws:sts::${session.accountId}:assumed-role/${session.roleName}/${session.sessionName}`;

/** `arn:aws:iam::123456789012:role/path/name` → `name`. */
export function roleNameOfArn(roleArn: string): string {
  const resource = roleArn.split(":").slice(5).join(":");
  return resource.slice(resource.lastIndexOf("/") + 1);
}

const ROLE_ARN = /^arn:aws[\w-]*:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
export const isRoleArn = (value: string) => ROLE_ARN.test(value);
export const accountOfArn = (arn: string) => arn.split(":")[4] ?? "";

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function randomText(length: number, alphabet = ALPHANUMERIC): string {
  const bytes = randomBytes(length);
  let text = "";
  for (const byte of bytes) text += alphabet[byte % alphabet.length];
  return text;
}

/** Every set of temporary credentials the local cloud issued, by access key id. */
export class CredentialRegistry {
  private readonly sessions = new Map<string, { session: RoleSession; credentials: IssuedCredentials }>();

  issue(session: RoleSession): IssuedCredentials {
    // The shape of STS's temporary credentials: ASIA… key ids, 40-character secrets.
    const credentials: IssuedCredentials = {
      accessKeyId: `ASIA${randomText(16)}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      sessionToken: `IQoJb3JpZ2luX2VjE${randomBytes(96).toString("base64")}`,
      ...(session.expiresAt !== undefined ? { expiration: session.expiresAt } : {}),
    };
    this.sessions.set(credentials.accessKeyId, { session, credentials });
    return credentials;
  }

  lookup(accessKeyId: string): { session: RoleSession; credentials: IssuedCredentials } | undefined {
    return this.sessions.get(accessKeyId);
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** The statement that decided a check, as iam-simulate reports it. */
export interface DecidingStatement {
  /** `inline:<policy name>`, a managed policy ARN, `trust` (the role's trust policy), `boundary:<arn>`. */
  policy: string;
  sid?: string;
  /** 1-based, in the policy's Statement list. */
  index: number;
  effect: "Allow" | "Deny";
}

export interface ResourceDecision {
  arn: string;
  decision: "Allow" | "Deny";
  /** Explicit or implicit, for a Deny. */
  denial?: "explicit" | "implicit";
  statement?: DecidingStatement;
}

export interface DecisionRecord {
  seq: number;
  /** Simulated time of the call (ISO). */
  time: string;
  /** As AWS names it: `arn:aws:sts::<account>:assumed-role/<role>/<session>`. */
  principal: string;
  /** The IAM action checked (one call may check several: a refresh checks RunInstances and PassRole too). */
  action: string;
  /** The API call that made the check: `autoscaling:StartInstanceRefresh`. */
  call: string;
  resources: string[];
  decision: "Allow" | "Deny";
  /** The statement that decided (the first refused resource's for a Deny); none for an implicit deny. */
  statement?: DecidingStatement;
  /** Why, in words: the denial, a missing context builder, expired credentials. */
  reason?: string;
  /** What the decision assumed that only a real account can confirm (another account's resource policy). */
  notes?: string[];
  perResource?: ResourceDecision[];
  /** Context keys iam-simulate was given (tags, request tags, source instance…), for reading a decision. */
  context?: Record<string, string | string[]>;
}

/** The last `capacity` decisions, oldest first. */
export class DecisionLog {
  private readonly records: DecisionRecord[] = [];
  private seq = 0;

  constructor(private readonly capacity = 20_000) {}

  add(record: Omit<DecisionRecord, "seq">): DecisionRecord {
    const full = { seq: ++this.seq, ...record };
    this.records.push(full);
    if (this.records.length > this.capacity * 1.1) {
      this.records.splice(0, this.records.length - this.capacity);
    }
    return full;
  }

  query(
    filter: { since?: number; decision?: string; principal?: string; action?: string; limit?: number } = {},
  ) {
    const matching = this.records.filter(
      (r) =>
        r.seq > (filter.since ?? 0) &&
        (filter.decision === undefined || r.decision === filter.decision) &&
        (filter.principal === undefined || r.principal.includes(filter.principal)) &&
        (filter.action === undefined || r.action === filter.action || r.call === filter.action),
    );
    const limit = filter.limit ?? this.capacity;
    return matching.slice(Math.max(0, matching.length - limit));
  }

  get last(): number {
    return this.seq;
  }

  count(decision?: "Allow" | "Deny"): number {
    return decision ? this.records.filter((r) => r.decision === decision).length : this.records.length;
  }
}
