import * as z from "../validation/zod.js";

/** EC2 tags as a plain map; EC2 tag keys are unique per resource, so nothing is lost. */
export type Tags = Readonly<Record<string, string>>;

export type ResourceRole = "ACTOR" | "TARGET";

/** The parts of a GuardDuty finding that Phoenix decides on, validated. */
export interface Finding {
  /** EventBridge event id: not unique across re-deliveries of a finding, so never a dedupe key. */
  eventId: string;
  findingId: string;
  type: string;
  severity: number;
  title: string;
  /** The member account the resource lives in (detail.accountId), not the envelope's account. */
  accountId: string;
  /** detail.region, or the envelope's region when the detail has none. */
  region: string;
  /**
   * The envelope's `account` and `region` (the bus the event came through), when present. Phoenix
   * acts only when these and detail.accountId / detail.region all name what it manages.
   */
  eventAccount?: string;
  eventRegion?: string;
  resourceType: string;
  /**
   * The instance the finding leads to: always when resourceType is "Instance"; for the indirect
   * kinds (see `indirect`) when the finding names one.
   */
  instanceId?: string;
  resourceRole?: ResourceRole;
  count: number;
  updatedAt: string;
  createdAt?: string;
  sample: boolean;
  archived: boolean;
  /**
   * How the finding names its instance when it is not about the instance itself: the instance
   * whose role credentials were used elsewhere (an AccessKey finding), or the EC2 node of an
   * EKS or ECS cluster (a Runtime Monitoring finding). Absent for EC2 instance findings.
   */
  indirect?: IndirectInstance;
  /** As reported in the finding, which may be stale: read the live tags before acting. */
  instanceTags?: Tags;
  networkInterfaceIds?: string[];
}

export type IndirectInstance =
  | {
      kind: "credential-exfiltration";
      /** The leaked session's access key, and the role it belongs to (accessKeyDetails). */
      accessKeyId?: string;
      roleName?: string;
    }
  | { kind: "cluster-node"; cluster: "EKSCluster" | "ECSCluster" };

/** The finding types whose AccessKey resource is an instance's leaked role session. */
export const CREDENTIAL_EXFILTRATION_PREFIX = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration";
/** Runtime Monitoring resource types whose instanceDetails is the cluster's EC2 node. */
export const CLUSTER_RESOURCE_TYPES = ["EKSCluster", "ECSCluster"] as const;

export type FindingParseResult = { ok: true; finding: Finding } | { ok: false; error: string };

export const GUARDDUTY_SOURCE = "aws.guardduty";
export const GUARDDUTY_DETAIL_TYPE = "GuardDuty Finding";

// Old (8 hex digits) and current (17 hex digits) EC2 instance id formats.
const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const NETWORK_INTERFACE_ID = /^eni-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;

const nonEmpty = z.string().check(z.trim(), z.minLength(1, "must not be empty"));
// GuardDuty's API takes finding ids of 1 to 300 characters. The id goes into audit keys and
// DynamoDB limits a sort key to 1,024 bytes: a longer one would fail every write, for ever.
const findingId = z
  .string()
  .check(
    z.trim(),
    z.minLength(1, "must not be empty"),
    z.maxLength(300, "must be at most 300 characters (a GuardDuty finding id)"),
  );
const isoTime = z.iso.datetime({ offset: true, message: "must be an ISO-8601 timestamp" });

const detailSchema = z.object({
  id: findingId,
  type: nonEmpty,
  severity: z.number().check(z.minimum(0), z.maximum(10)),
  title: z.string(),
  // Digits only; real accounts have 12, but some published samples carry 13.
  accountId: z.string().check(z.regex(/^\d+$/, "must be an account id (digits)")),
  region: z.optional(z.string().check(z.regex(REGION, "must be an AWS region name"))),
  createdAt: z.optional(isoTime),
  updatedAt: isoTime,
  resource: z.object({
    resourceType: nonEmpty,
    instanceDetails: z.optional(z.unknown()),
    accessKeyDetails: z.optional(z.unknown()),
  }),
  service: z.optional(
    z.object({
      resourceRole: z.optional(z.enum(["ACTOR", "TARGET"])),
      count: z.optional(z.int().check(z.minimum(1))),
      archived: z.optional(z.boolean()),
      additionalInfo: z.optional(z.unknown()),
    }),
  ),
});

const envelopeSchema = z.object({
  id: nonEmpty,
  account: z.optional(z.string().check(z.regex(/^\d+$/, "must be an account id (digits)"))),
  region: z.optional(z.string().check(z.regex(REGION, "must be an AWS region name"))),
  detail: detailSchema,
});

const instanceDetailsSchema = z.object({
  instanceId: z
    .string()
    .check(z.trim(), z.regex(INSTANCE_ID, "must be an EC2 instance id (i- followed by 8 or 17 hex digits)")),
  tags: z
    .nullish(z.array(z.object({ key: z.string().check(z.minLength(1)), value: z.string() })))
    .check(
      z.refine((tags) => !tags || new Set(tags.map((t) => t.key)).size === tags.length, "duplicate tag keys"),
    ),
  networkInterfaces: z.nullish(
    z.array(
      z.object({
        networkInterfaceId: z.optional(
          z
            .string()
            .check(
              z.trim(),
              z.regex(NETWORK_INTERFACE_ID, "must be a network interface id (eni- followed by hex digits)"),
            ),
        ),
      }),
    ),
  ),
});

/**
 * Validates an EventBridge event as a GuardDuty finding. Never throws: anything that is not a
 * well-formed finding comes back as an error naming the offending field.
 */
export function parseGuardDutyEvent(input: unknown): FindingParseResult {
  try {
    return parseUnsafe(input);
  } catch (error) {
    // Handlers must be able to audit every event, so even the unforeseen becomes a result.
    return { ok: false, error: `event could not be read: ${(error as Error)?.message ?? String(error)}` };
  }
}

function parseUnsafe(input: unknown): FindingParseResult {
  if (!isRecord(input)) return { ok: false, error: `event: expected an object, got ${describe(input)}` };
  const source = input["source"];
  const detailType = input["detail-type"];
  if (source !== GUARDDUTY_SOURCE || detailType !== GUARDDUTY_DETAIL_TYPE) {
    return {
      ok: false,
      error:
        `not a GuardDuty finding: source is ${describe(source)} and detail-type is ${describe(detailType)} ` +
        `(expected "${GUARDDUTY_SOURCE}" and "${GUARDDUTY_DETAIL_TYPE}")`,
    };
  }

  const envelope = envelopeSchema.safeParse(input);
  if (!envelope.success) return { ok: false, error: formatIssues(envelope.error, []) };
  const { detail } = envelope.data;

  const region = detail.region ?? envelope.data.region;
  if (region === undefined)
    return { ok: false, error: "detail.region: missing, and the event has no region" };

  const finding: Finding = {
    eventId: envelope.data.id,
    findingId: detail.id,
    type: detail.type,
    severity: detail.severity,
    title: detail.title,
    accountId: detail.accountId,
    region,
    resourceType: detail.resource.resourceType,
    count: detail.service?.count ?? 1,
    updatedAt: detail.updatedAt,
    sample: isSampleFlagged(detail.service?.additionalInfo),
    archived: detail.service?.archived ?? false,
  };
  if (envelope.data.account !== undefined) finding.eventAccount = envelope.data.account;
  if (envelope.data.region !== undefined) finding.eventRegion = envelope.data.region;
  if (detail.createdAt !== undefined) finding.createdAt = detail.createdAt;
  if (detail.service?.resourceRole !== undefined) finding.resourceRole = detail.service.resourceRole;

  if (finding.resourceType === "AccessKey" && finding.type.startsWith(CREDENTIAL_EXFILTRATION_PREFIX)) {
    return exfiltratedInstance(finding, detail.resource.accessKeyDetails);
  }
  const cluster = CLUSTER_RESOURCE_TYPES.find((type) => type === finding.resourceType);
  if (cluster) {
    finding.indirect = { kind: "cluster-node", cluster };
    // A Fargate task runs on no EC2 node of the account's: nothing names an instance (the field
    // is then absent, null, or without an instance id).
    const details = detail.resource.instanceDetails;
    if (!isRecord(details) || details["instanceId"] === undefined || details["instanceId"] === null)
      return { ok: true, finding };
  }
  // Other non-instance findings may still carry placeholder instanceDetails: only the type decides.
  if (finding.resourceType !== "Instance" && !cluster) return { ok: true, finding };

  const path = ["detail", "resource", "instanceDetails"];
  if (detail.resource.instanceDetails === undefined) {
    return { ok: false, error: `${path.join(".")}: required when resourceType is Instance` };
  }
  const instance = instanceDetailsSchema.safeParse(detail.resource.instanceDetails);
  if (!instance.success) return { ok: false, error: formatIssues(instance.error, path) };

  finding.instanceId = instance.data.instanceId;
  if (instance.data.tags) {
    finding.instanceTags = Object.fromEntries(instance.data.tags.map((tag) => [tag.key, tag.value]));
  }
  if (instance.data.networkInterfaces) {
    finding.networkInterfaceIds = instance.data.networkInterfaces.flatMap((eni) =>
      eni.networkInterfaceId === undefined ? [] : [eni.networkInterfaceId],
    );
  }
  return { ok: true, finding };
}

const accessKeyDetailsSchema = z.object({
  accessKeyId: z.optional(z.string()),
  principalId: z.optional(z.string()),
  userName: z.optional(z.string()),
  userType: z.optional(z.string()),
});

/**
 * The instance whose role credentials leaked. EC2 names an instance profile's role session after
 * the instance, so the session name (after the colon of principalId "AROA…:i-…") is its id.
 * A finding whose session is not an instance's is valid, and names no instance.
 */
function exfiltratedInstance(finding: Finding, details: unknown): FindingParseResult {
  const path = ["detail", "resource", "accessKeyDetails"];
  if (details === undefined) return { ok: false, error: `${path.join(".")}: required for ${finding.type}` };
  const parsed = accessKeyDetailsSchema.safeParse(details);
  if (!parsed.success) return { ok: false, error: formatIssues(parsed.error, path) };
  const session = parsed.data.principalId?.split(":").at(1)?.trim();
  const instanceId = [session, parsed.data.userName?.trim()].find((name) => name && INSTANCE_ID.test(name));
  const indirect: IndirectInstance = { kind: "credential-exfiltration" };
  if (parsed.data.accessKeyId) indirect.accessKeyId = parsed.data.accessKeyId;
  if (parsed.data.userName && parsed.data.userName !== instanceId) indirect.roleName = parsed.data.userName;
  finding.indirect = indirect;
  if (instanceId) finding.instanceId = instanceId;
  return { ok: true, finding };
}

/**
 * EventBridge delivers additionalInfo as a map (`sample: true`, sometimes the string "true");
 * copies taken from the GetFindings API wrap that map as `{type: "default", value: "<JSON>"}`.
 */
function isSampleFlagged(additionalInfo: unknown): boolean {
  if (!isRecord(additionalInfo)) return false;
  if (isTrueFlag(additionalInfo["sample"])) return true;
  const wrapped = additionalInfo["value"];
  if (typeof wrapped !== "string") return false;
  try {
    const inner: unknown = JSON.parse(wrapped);
    return isRecord(inner) && isTrueFlag(inner["sample"]);
  } catch {
    return false;
  }
}

const isTrueFlag = (value: unknown): boolean => value === true || value === "true";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

function formatIssues(error: z.core.$ZodError, prefix: readonly string[]): string {
  return error.issues
    .map((issue) => {
      const field = [...prefix, ...issue.path.map(String)].join(".") || "event";
      return `${field}: ${issue.message}`;
    })
    .join("; ");
}
