import type { AwsRequest } from "../gateway/request.js";
import type { LocalCloudContext, LocalCloudPart } from "./context.js";

export const NOTIFICATIONS_PATH = "/_phoenix/notifications";

/** One message published to an SNS topic of the local cloud: what email or chat would receive. */
export interface LocalNotification {
  /** The local cloud's (simulated) time of the publish, ISO. */
  at: string;
  topicArn: string;
  subject?: string;
  message: string;
  /** Message attributes (Phoenix sends `kind` and `severity`). */
  attributes: Record<string, string>;
  messageId?: string;
  /** Its number among the messages this local cloud kept (1 for the first). */
  seq?: number;
}

export const NOTIFICATIONS_PART = "notifications";

export interface NotificationsPart extends LocalCloudPart {
  /** Every message kept so far, oldest first (what `GET /_phoenix/notifications` lists). */
  messages(): readonly LocalNotification[];
}

/** The newest messages kept; older ones are dropped (a local cloud runs for hours at most). */
const KEEP = 1_000;

/**
 * The local cloud's notification inbox. In AWS, Phoenix's SNS topic mails or pages people (the
 * hold notification says which hold to approve); locally nobody is subscribed, so the gateway
 * keeps every message published through it, and `GET /_phoenix/notifications` (what
 * `phoenix local notifications` and the dashboard read) shows them. It only observes: moto
 * still receives and delivers every publish.
 */
export function notificationsPlugin(): (context: LocalCloudContext) => NotificationsPart {
  return (context: LocalCloudContext) => {
    const kept: LocalNotification[] = [];
    let seq = 0;
    const observe = (request: AwsRequest, response: { status: number; body: Buffer }) => {
      const published = publishedMessage(request, response.body, context);
      if (!published) return;
      kept.push({ ...published, seq: ++seq });
      if (kept.length > KEEP) kept.splice(0, kept.length - KEEP);
    };
    return {
      name: NOTIFICATIONS_PART,
      messages: () => kept,
      observers: [observe],
      control: {
        [NOTIFICATIONS_PATH]: async (req) => {
          const url = new URL(req.url ?? "/", "http://gateway");
          const since = url.searchParams.get("since") ?? "";
          const topic = url.searchParams.get("topic");
          return {
            status: 200,
            body: {
              notifications: kept.filter(
                (n) =>
                  n.at >= since &&
                  (topic === null || n.topicArn === topic || n.topicArn.endsWith(`:${topic}`)),
              ),
            },
          };
        },
      },
      health: () => ({ path: NOTIFICATIONS_PATH, kept: kept.length }),
    };
  };
}

function publishedMessage(
  request: AwsRequest,
  body: Buffer,
  context: Pick<LocalCloudContext, "clock">,
): LocalNotification | undefined {
  if (request.action !== "Publish") return undefined;
  if (
    request.service !== "sns" &&
    !String(request.headers["x-amz-target"] ?? "").includes("SimpleNotification")
  )
    return undefined;
  const at = new Date(context.clock.now()).toISOString();
  const messageId = /<MessageId>([^<]+)<\/MessageId>/.exec(body.toString("utf8"))?.[1];
  if (request.protocol === "query") {
    const params = request.params;
    const message = params.get("Message");
    const topicArn = params.get("TopicArn") ?? params.get("TargetArn");
    if (message === null || topicArn === null) return undefined;
    const attributes: Record<string, string> = {};
    for (let i = 1; params.has(`MessageAttributes.entry.${i}.Name`); i++) {
      const name = params.get(`MessageAttributes.entry.${i}.Name`)!;
      attributes[name] =
        params.get(`MessageAttributes.entry.${i}.Value.StringValue`) ??
        params.get(`MessageAttributes.entry.${i}.Value.BinaryValue`) ??
        "";
    }
    const subject = params.get("Subject");
    return {
      at,
      topicArn,
      ...(subject !== null ? { subject } : {}),
      message,
      attributes,
      ...(messageId ? { messageId } : {}),
    };
  }
  const json = request.json as {
    TopicArn?: string;
    TargetArn?: string;
    Message?: string;
    Subject?: string;
    MessageAttributes?: Record<string, { StringValue?: string }>;
  };
  const topicArn = json.TopicArn ?? json.TargetArn;
  if (typeof json.Message !== "string" || typeof topicArn !== "string") return undefined;
  return {
    at,
    topicArn,
    ...(typeof json.Subject === "string" ? { subject: json.Subject } : {}),
    message: json.Message,
    attributes: Object.fromEntries(
      Object.entries(json.MessageAttributes ?? {}).map(([k, v]) => [k, v?.StringValue ?? ""]),
    ),
    ...(messageId ? { messageId } : {}),
  };
}
