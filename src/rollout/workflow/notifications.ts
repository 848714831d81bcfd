import type { PhoenixDeps } from "../../deps.js";
import type { Notification } from "../../notify.js";

/** SNS subjects are at most 100 characters; the notifier cuts, this keeps the cut readable. */
export function subject(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 99)}…`;
}

export async function notifyRollout(
  deps: Pick<PhoenixDeps, "notifier">,
  notification: Omit<Notification, "subject"> & { subject: string },
): Promise<void> {
  await deps.notifier.notify({ ...notification, subject: subject(notification.subject) });
}
