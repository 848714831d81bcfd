import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";

/** A notification to the people who run Phoenix (SNS: email, chat, pager). */
export interface Notification {
  /** Short, e.g. "Contained i-0abc (UnauthorizedAccess:EC2/TorClient)". At most 100 characters. */
  subject: string;
  /** Human text first; the structured `data` is appended as JSON for machines. */
  message: string;
  kind: "containment" | "rollout" | "hold" | "image-refused" | "pause" | "drift" | "session" | "error";
  severity: "info" | "warning" | "critical";
  data?: Record<string, unknown>;
}

export interface Notifier {
  notify(notification: Notification): Promise<void>;
}

/** `client` is asked for at the first notification: most invocations notify nobody. */
export function snsNotifier(client: () => SNSClient, topicArn: string): Notifier {
  return {
    async notify(n) {
      await client().send(
        new PublishCommand({
          TopicArn: topicArn,
          Subject: n.subject.slice(0, 100),
          Message: `${n.message}\n\n${JSON.stringify({ kind: n.kind, severity: n.severity, ...n.data })}`,
          MessageAttributes: {
            kind: { DataType: "String", StringValue: n.kind },
            severity: { DataType: "String", StringValue: n.severity },
          },
        }),
      );
    },
  };
}
