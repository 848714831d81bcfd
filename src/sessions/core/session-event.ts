/**
 * Interactive sessions on an instance, as CloudTrail reports them on EventBridge (detail-type
 * "AWS API Call via CloudTrail"): SSM Session Manager's StartSession, EC2 Instance Connect's
 * SendSSHPublicKey, and the serial console's SendSerialConsoleSSHPublicKey. Each is somebody
 * about to log in to a server that should never be touched by hand. Pure: validation only.
 */

export const CLOUDTRAIL_API_CALL = "AWS API Call via CloudTrail";

/** The calls that open (or let someone open) an interactive session, by event source. */
export const SESSION_CALLS = {
  "aws.ssm": { eventSource: "ssm.amazonaws.com", eventNames: ["StartSession"] },
  "aws.ec2-instance-connect": {
    eventSource: "ec2-instance-connect.amazonaws.com",
    eventNames: ["SendSSHPublicKey", "SendSerialConsoleSSHPublicKey"],
  },
} as const;

/** How a session was opened: the API call CloudTrail recorded, as `<service>:<eventName>`. */
export const SESSION_HOWS = [
  "ssm:StartSession",
  "ec2-instance-connect:SendSSHPublicKey",
  "ec2-instance-connect:SendSerialConsoleSSHPublicKey",
] as const;
export type SessionHow = (typeof SESSION_HOWS)[number];

export interface SessionEvent {
  /** CloudTrail's eventID: the same on every delivery of the event, so the dedupe key. */
  eventId: string;
  instanceId: string;
  /** Who opened it: the caller's ARN (an assumed role's session ARN names the person). */
  who: string;
  /** CloudTrail's eventTime (ISO 8601). */
  when: string;
  how: SessionHow;
  /** The account the call was made in (detail.recipientAccountId, else the envelope's). */
  accountId: string;
  region: string;
  /** The envelope's account and region, when present: all must name what Phoenix manages. */
  eventAccount?: string;
  eventRegion?: string;
  sourceIp?: string;
  /** StartSession's document (port forwarding, a shell, a command), when named. */
  document?: string;
  /** Instance Connect's OS user. */
  osUser?: string;
}

export type ParsedSession =
  | { ok: true; session: SessionEvent }
  /** Well formed, but nothing to act on (a failed call, a target that is not an EC2 instance). */
  | { ok: false; ignore: true; reason: string; eventId?: string; instanceId?: string }
  | { ok: false; ignore: false; error: string };

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const ACCOUNT_ID = /^\d{12}$/;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const text = (value: unknown, max = 2048): string | undefined =>
  typeof value === "string" && value.length > 0 && value.length <= max ? value : undefined;

export function parseSessionEvent(event: unknown): ParsedSession {
  const invalid = (error: string): ParsedSession => ({ ok: false, ignore: false, error });
  if (!isObject(event)) return invalid("the event is not a JSON object");
  if (event["detail-type"] !== CLOUDTRAIL_API_CALL)
    return invalid(`detail-type is ${JSON.stringify(event["detail-type"])}, not "${CLOUDTRAIL_API_CALL}"`);
  const source = event.source;
  if (typeof source !== "string" || !(source in SESSION_CALLS))
    return invalid(`source ${JSON.stringify(source)} is not one of ${Object.keys(SESSION_CALLS).join(", ")}`);
  const calls = SESSION_CALLS[source as keyof typeof SESSION_CALLS];
  const detail = event.detail;
  if (!isObject(detail)) return invalid("detail is missing or not an object");
  if (detail.eventSource !== calls.eventSource)
    return invalid(`detail.eventSource is ${JSON.stringify(detail.eventSource)}, not ${calls.eventSource}`);
  const eventName = detail.eventName;
  if (typeof eventName !== "string" || !(calls.eventNames as readonly string[]).includes(eventName))
    return invalid(
      `detail.eventName ${JSON.stringify(eventName)} is not a session call (${calls.eventNames.join(", ")})`,
    );
  const eventId = text(detail.eventID, 128);
  if (!eventId) return invalid("detail.eventID is missing");
  const when = text(detail.eventTime, 64);
  if (!when || Number.isNaN(Date.parse(when))) return invalid("detail.eventTime is missing or not a time");
  const request = isObject(detail.requestParameters) ? detail.requestParameters : undefined;
  const target = source === "aws.ssm" ? request?.target : request?.instanceId;
  const targetField = source === "aws.ssm" ? "requestParameters.target" : "requestParameters.instanceId";
  if (typeof target !== "string" || target.length === 0) return invalid(`detail.${targetField} is missing`);

  // A refused call opened nothing: nobody logged in.
  const errorCode = text(detail.errorCode, 256);
  if (errorCode)
    return {
      ok: false,
      ignore: true,
      eventId,
      reason: `the call failed (${errorCode}): no session was opened`,
    };
  if (!INSTANCE_ID.test(target)) {
    // Session Manager also reaches hybrid nodes (mi-…) and ECS tasks (ecs:…): not EC2 instances.
    return {
      ok: false,
      ignore: true,
      eventId,
      reason: `the session's target ${JSON.stringify(target.slice(0, 128))} is not an EC2 instance`,
    };
  }
  const identity = isObject(detail.userIdentity) ? detail.userIdentity : {};
  const who =
    text(identity.arn, 2048) ??
    (text(identity.principalId, 256) ? `principal ${identity.principalId as string}` : undefined) ??
    "an unknown caller";
  const accountId = text(detail.recipientAccountId, 12) ?? text(event.account, 12);
  if (!accountId || !ACCOUNT_ID.test(accountId))
    return invalid("the account (detail.recipientAccountId or account) is missing");
  const region = text(detail.awsRegion, 32) ?? text(event.region, 32);
  if (!region) return invalid("the region (detail.awsRegion or region) is missing");

  const session: SessionEvent = {
    eventId,
    instanceId: target,
    who,
    when: new Date(Date.parse(when)).toISOString(),
    how: `${source === "aws.ssm" ? "ssm" : "ec2-instance-connect"}:${eventName}` as SessionHow,
    accountId,
    region,
  };
  const eventAccount = text(event.account, 12);
  const eventRegion = text(event.region, 32);
  if (eventAccount) session.eventAccount = eventAccount;
  if (eventRegion) session.eventRegion = eventRegion;
  const sourceIp = text(detail.sourceIPAddress, 256);
  if (sourceIp) session.sourceIp = sourceIp;
  const document = text(request?.documentName, 256);
  if (document) session.document = document;
  const osUser = text(request?.instanceOSUser, 256);
  if (osUser) session.osUser = osUser;
  return { ok: true, session };
}
