import { describe, expect, it } from "vitest";
import { ownScope } from "../../../src/containment/core/route.js";
import { defaultPolicy } from "../../../src/policy/index.js";
import {
  decideSession,
  parseTaint,
  type SessionFacts,
  taintValue,
} from "../../../src/sessions/core/decide.js";
import { parseSessionEvent, type SessionEvent } from "../../../src/sessions/core/session-event.js";
import { ownSampleEvent } from "../../support/sample-events.js";

const ID = "i-0abc1234def567890";
const scope = ownScope({ accountId: "123456789012", region: "us-east-1" });
const policy = defaultPolicy().sessions;
const now = new Date("2026-11-30T10:00:00Z");

function session(file = "ssm-start-session.json"): SessionEvent {
  const parsed = parseSessionEvent(ownSampleEvent("cloudtrail", file, ID));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed));
  return parsed.session;
}

const managed = (
  overrides: Partial<SessionFacts> = {},
  instanceTags: Record<string, string> = {},
): SessionFacts => ({
  instance: { state: "running", tags: instanceTags },
  membership: { groupName: "web", lifecycleState: "InService" },
  group: { name: "web", tags: { "phoenix:managed": "true" }, desired: 3, inServiceHealthy: 3 },
  ...overrides,
});

describe("session events", () => {
  it("reads who, when, how and the instance from each kind of session call", () => {
    expect(session()).toMatchObject({
      instanceId: ID,
      who: "arn:aws:sts::123456789012:assumed-role/OnCallAdmin/alice",
      when: "2026-11-30T09:12:43.000Z",
      how: "ssm:StartSession",
      accountId: "123456789012",
      region: "us-east-1",
      sourceIp: "198.51.100.24",
    });
    expect(session("ec2-instance-connect-send-ssh-public-key.json")).toMatchObject({
      how: "ec2-instance-connect:SendSSHPublicKey",
      who: "arn:aws:iam::123456789012:user/bob",
      osUser: "ec2-user",
    });
    expect(session("serial-console-send-ssh-public-key.json").how).toBe(
      "ec2-instance-connect:SendSerialConsoleSSHPublicKey",
    );
  });

  it("ignores a failed call and a target that is not an EC2 instance; rejects what is malformed", () => {
    expect(
      parseSessionEvent(ownSampleEvent("cloudtrail", "ssm-start-session-denied.json", ID)),
    ).toMatchObject({
      ok: false,
      ignore: true,
      reason: expect.stringMatching(/AccessDenied/),
    });
    const hybrid = ownSampleEvent("cloudtrail", "ssm-start-session.json", "mi-0123456789abcdef0");
    expect(parseSessionEvent(hybrid)).toMatchObject({
      ok: false,
      ignore: true,
      reason: expect.stringMatching(/not an EC2 instance/),
    });
    expect(parseSessionEvent("x")).toMatchObject({ ok: false, ignore: false });
    const other = ownSampleEvent("cloudtrail", "ssm-start-session.json", ID);
    (other.detail as Record<string, unknown>).eventName = "SendCommand";
    expect(parseSessionEvent(other)).toMatchObject({
      ok: false,
      ignore: false,
      error: expect.stringMatching(/SendCommand/),
    });
    const noTarget = ownSampleEvent("cloudtrail", "ssm-start-session.json", ID);
    (noTarget.detail as Record<string, unknown>).requestParameters = {};
    expect(parseSessionEvent(noTarget)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/requestParameters.target/),
    });
  });

  it("writes the tainted mark as who, when, how within 256 characters", () => {
    expect(taintValue(session())).toBe(
      "arn:aws:sts::123456789012:assumed-role/OnCallAdmin/alice, 2026-11-30T09:12:43.000Z, ssm:StartSession",
    );
    const long = { ...session(), who: `arn:aws:sts::123456789012:assumed-role/R/${"x".repeat(400)}` };
    expect(taintValue(long).length).toBeLessThanOrEqual(256);
    expect(taintValue(long)).toMatch(/…, 2026-11-30T09:12:43.000Z, ssm:StartSession$/);
  });
});

describe("the session decision", () => {
  const decide = (facts: SessionFacts, s = session(), p = policy) => decideSession(s, facts, p, scope, now);

  it("replaces an in-service instance of a managed group at full capacity", () => {
    expect(decide(managed())).toMatchObject({ action: "replace", taint: true, group: "web" });
  });

  it("defers while the group is below its healthy capacity (another replacement under way)", () => {
    const busy = managed({
      group: { name: "web", tags: { "phoenix:managed": "true" }, desired: 3, inServiceHealthy: 2 },
    });
    expect(decide(busy)).toMatchObject({
      action: "defer",
      taint: true,
      reason: expect.stringMatching(/2 healthy .* of 3/),
    });
  });

  it("refuses other accounts and unknown instances, ignores what is gone or already leaving", () => {
    expect(decide(managed(), { ...session(), accountId: "999988887777" })).toMatchObject({
      action: "refuse",
      taint: false,
    });
    expect(decide(managed(), { ...session(), eventRegion: "eu-west-1" })).toMatchObject({ action: "refuse" });
    expect(decide({})).toMatchObject({ action: "refuse", reason: expect.stringMatching(/does not know/) });
    expect(decide(managed({ instance: { state: "terminated", tags: {} } }))).toMatchObject({
      action: "ignore",
    });
    expect(
      decide(managed({ membership: { groupName: "web", lifecycleState: "Terminating:Wait" } })),
    ).toMatchObject({ action: "ignore", taint: false });
  });

  it("only notifies (and marks nothing) outside a managed group", () => {
    expect(decide(managed({ membership: undefined, group: undefined }))).toMatchObject({
      action: "notify",
      taint: false,
    });
    const unmanaged = managed({
      group: { name: "web", tags: { "phoenix:managed": "True" }, desired: 1, inServiceHealthy: 1 },
    });
    expect(decide(unmanaged)).toMatchObject({ action: "notify", taint: false });
  });

  it("marks but does not replace a protected instance, or when the policy says notify", () => {
    expect(decide(managed({}, { "phoenix:protected": "true" }))).toMatchObject({
      action: "notify",
      taint: true,
    });
    expect(decide(managed(), session(), { ...policy, action: "notify" })).toMatchObject({
      action: "notify",
      taint: true,
    });
  });

  it("honours a break-glass tag only for a bounded, future time", () => {
    const s = { ...session(), when: now.toISOString() };
    const inHours = (h: number) => new Date(now.getTime() + h * 3600_000).toISOString();
    expect(decide(managed({}, { "phoenix:break-glass": inHours(2) }), s)).toMatchObject({
      action: "exempt",
      taint: true,
      exemptUntil: inHours(2),
    });
    expect(decide(managed({}, { "phoenix:break-glass": inHours(-1) }), s)).toMatchObject({
      action: "replace",
      reason: expect.stringMatching(/break-glass ended/),
    });
    expect(
      decide(managed({}, { "phoenix:break-glass": inHours(policy.breakGlassMaxHours + 1) }), s),
    ).toMatchObject({
      action: "replace",
      reason: expect.stringMatching(/not honoured/),
    });
    expect(decide(managed({}, { "phoenix:break-glass": "tomorrow" }), s)).toMatchObject({
      action: "replace",
      reason: expect.stringMatching(/not an ISO 8601 time/),
    });
    // What Date.parse would read, but not as one instant everywhere: a bare year, a local time.
    const year = String(new Date(inHours(2)).getUTCFullYear() + 1);
    const local = inHours(2).replace(/\.\d+Z$/, "");
    for (const value of [year, local, `${local} UTC`]) {
      expect(decide(managed({}, { "phoenix:break-glass": value }), s)).toMatchObject({
        action: "replace",
        reason: expect.stringMatching(/not an ISO 8601 time with a zone/),
      });
    }
    expect(
      decide(managed({}, { "phoenix:break-glass": inHours(2).replace(/\.\d+Z$/, "+00:00") }), s),
    ).toMatchObject({ action: "exempt" });
  });

  it("bounds a break-glass window from the first session its mark names: a later session or a re-tag does not stretch it", () => {
    const inHours = (h: number) => new Date(now.getTime() + h * 3600_000).toISOString();
    // Tainted 11 h ago; a second session now, and a tag 2 h ahead: 13 h after the first session.
    const first = new Date(now.getTime() - 11 * 3600_000).toISOString();
    const tags = {
      "phoenix:tainted": taintValue({ ...session(), when: first }),
      "phoenix:break-glass": inHours(2),
    };
    const later = { ...session(), when: now.toISOString() };
    expect(decide(managed({}, tags), later)).toMatchObject({
      action: "replace",
      reason: expect.stringMatching(
        new RegExp(`after the first session \\(${first.replace(/\./g, "\\.")}\\)`),
      ),
    });
    // Within the first session's 12 h it still exempts.
    expect(decide(managed({}, { ...tags, "phoenix:break-glass": inHours(0.5) }), later)).toMatchObject({
      action: "exempt",
    });
    // A mark Phoenix did not write bounds nothing: the session itself is the start.
    expect(
      decide(managed({}, { "phoenix:tainted": "by hand", "phoenix:break-glass": inHours(2) }), later),
    ).toMatchObject({ action: "exempt" });
  });

  it("reads a tainted mark back, and nothing else as one", () => {
    const s = session();
    expect(parseTaint(taintValue(s))).toEqual({ who: s.who, when: s.when, how: s.how });
    expect(parseTaint("a, b, c")).toBeUndefined();
    expect(parseTaint("someone, 2026-12-01T10:00:00Z, telnet")).toBeUndefined();
    expect(parseTaint("x, y, 2026-12-01T10:00:00Z, ssm:StartSession")).toEqual({
      who: "x, y",
      when: "2026-12-01T10:00:00Z",
      how: "ssm:StartSession",
    });
  });
});
