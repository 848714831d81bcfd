import { randomBytes } from "node:crypto";

/** A finding type Phoenix contains by default (an instance talking to a C&C server: it is the ACTOR). */
export const DEFAULT_FINDING_TYPE = "Backdoor:EC2/C&CActivity.B!DNS";
/** High (GuardDuty: 7.0–8.9), at or above the default policy's containAtSeverity (7). */
export const DEFAULT_FINDING_SEVERITY = 8;

/**
 * A GuardDuty finding as GuardDuty puts it on the bus (detail shape as in AWS's documented
 * findings), for an instance of the local cloud. Not a sample finding: Phoenix acts on it.
 */
export function guardDutyFinding(options: {
  instanceId: string;
  accountId: string;
  region: string;
  type?: string;
  severity?: number;
  role?: "ACTOR" | "TARGET";
  /** The instance's tags, which GuardDuty copies into the finding. */
  tags?: Record<string, string>;
  now?: Date;
  /** Flagged as GuardDuty's sample findings are (`service.additionalInfo.sample`). */
  sample?: boolean;
  /** Defaults to the C&C DNS finding's words (the default type's). */
  title?: string;
  description?: string;
}): { source: string; detailType: string; detail: Record<string, unknown>; resources: string[] } {
  const now = (options.now ?? new Date()).toISOString();
  const id = randomBytes(16).toString("hex");
  const type = options.type ?? DEFAULT_FINDING_TYPE;
  return {
    source: "aws.guardduty",
    detailType: "GuardDuty Finding",
    resources: [],
    detail: {
      schemaVersion: "2.0",
      accountId: options.accountId,
      region: options.region,
      partition: "aws",
      id,
      arn: `arn:aws:guardduty:${options.region}:${options.accountId}:detector/phoenixdemo/finding/${id}`,
      type,
      resource: {
        resourceType: "Instance",
        instanceDetails: {
          instanceId: options.instanceId,
          ...(options.tags
            ? { tags: Object.entries(options.tags).map(([key, value]) => ({ key, value })) }
            : {}),
        },
      },
      service: {
        serviceName: "guardduty",
        detectorId: "phoenixdemo",
        action: {
          actionType: "DNS_REQUEST",
          dnsRequestAction: { domain: "c2.example.com", protocol: "UDP", blocked: false },
        },
        resourceRole: options.role ?? "ACTOR",
        additionalInfo: options.sample ? { sample: true } : {},
        eventFirstSeen: now,
        eventLastSeen: now,
        archived: false,
        count: 1,
      },
      severity: options.severity ?? DEFAULT_FINDING_SEVERITY,
      createdAt: now,
      updatedAt: now,
      title:
        options.title ??
        `Command and Control server domain name queried by EC2 instance ${options.instanceId}.`,
      description:
        options.description ??
        `EC2 instance ${options.instanceId} is querying a domain name associated with a known Command & Control server.`,
    },
  };
}
