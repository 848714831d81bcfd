import { child, children, elementAt, textOf } from "../core/xml-patch.js";
import { MOTO_ACCOUNT_HEADER } from "../gateway/moto-account.js";

/**
 * The CloudWatch alarms an instance refresh watches (Preferences.AlarmSpecification), read from
 * moto's CloudWatch. On the Query protocol by hand: the project has no CloudWatch SDK client, and
 * moto routes by the credential scope of the Authorization header, which it does not verify.
 */

export type AlarmState = "OK" | "ALARM" | "INSUFFICIENT_DATA";

/** The states of the named alarms that exist (a missing name is absent from the map). */
export async function alarmStates(
  motoUrl: string,
  account: string,
  region: string,
  names: string[],
): Promise<Map<string, AlarmState>> {
  const states = new Map<string, AlarmState>();
  if (names.length === 0) return states;
  const form = new URLSearchParams({ Action: "DescribeAlarms", Version: "2010-08-01" });
  for (const [i, name] of names.entries()) form.set(`AlarmNames.member.${i + 1}`, name);
  form.set("MaxRecords", "100");
  const response = await fetch(motoUrl, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded; charset=utf-8",
      [MOTO_ACCOUNT_HEADER]: account,
      authorization: `AWS4-HMAC-SHA256 Credential=test/20200101/${region}/monitoring/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: form.toString(),
  });
  const xml = await response.text();
  if (!response.ok)
    throw new Error(`CloudWatch DescribeAlarms answered ${response.status}: ${xml.slice(0, 200)}`);
  const list = elementAt(xml, ["DescribeAlarmsResponse", "DescribeAlarmsResult", "MetricAlarms"]);
  for (const member of list ? children(xml, list, "member") : []) {
    const name = textOf(xml, child(xml, member, "AlarmName"));
    const state = textOf(xml, child(xml, member, "StateValue"));
    if (name && state) states.set(name, state as AlarmState);
  }
  return states;
}

/**
 * StatusReason (and RollbackReason) of a refresh an alarm stopped. AWS documents only that "the
 * instance refresh fails" when an alarm goes into ALARM; this names the alarms, as it does.
 */
export function alarmReason(alarms: string[]): string {
  return `The instance refresh failed because the following CloudWatch alarms went into the ALARM state: ${alarms.join(", ")}.`;
}
