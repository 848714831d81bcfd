import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  type InstanceRefresh,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  ModifyImageAttributeCommand,
  RegisterImageCommand,
} from "@aws-sdk/client-ec2";
import { DescribeExecutionCommand, SFNClient } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memberAdministrator } from "../../local/core/accounts.js";
import { seedDemoFleet } from "../../local/core/seed.js";
import { getRollout } from "../../src/rollout/aws/rollout-records.js";
import { phoenix } from "../cli/support.js";
import { waitForExecution } from "../support/executions.js";
import { type PhoenixCloud, startPhoenixCloud } from "../support/phoenix-cloud.js";

/**
 * Issue 17, rollout across accounts, end to end on the local cloud: a central Phoenix
 * (123456789012, us-east-1), which is also the tooling account that publishes the golden image,
 * and two member accounts with a managed group "web" each. The image is shared with the members;
 * its AMI event starts the rollout, which refreshes every account's group through that account's
 * member role, in waves that span accounts (the policy puts the second member ten waves later).
 */
const CENTRAL = "123456789012";
const MEMBER = "222222222222";
const LATE = "333333333333";
const REGION = "us-east-1";

let pc: PhoenixCloud;
let sfn: SFNClient;

const admin = () => ({
  endpoint: pc.cloud.endpoint,
  region: REGION,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 3,
});
/** A member's administrator (OrganizationAccountAccessRole), asked afresh: the clock runs fast. */
const memberAdmin = async (account: string) => ({
  ...(await memberAdministrator(pc.cloud.context, account, REGION)),
  maxAttempts: 3,
});
const configOf = (account: string) => (account === CENTRAL ? Promise.resolve(admin()) : memberAdmin(account));

const POLICY = {
  accounts: [
    { accountId: MEMBER, regions: [REGION] },
    { accountId: LATE, regions: [REGION, "eu-west-1"], firstWave: 10 },
  ],
  rollout: { waveBakeMinutes: 5 },
};
const GROUPS = [{ name: "web", family: "web", wave: 1, managed: true, desired: 2 }];
const policyFile = path.join(tmpdir(), `phoenix-accounts-rollout-${process.pid}.json`);
const cliEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
  AWS_REGION: REGION,
  PHOENIX_RUN_DIR: path.join(tmpdir(), `phoenix-accounts-rollout-run-${process.pid}`),
};

/** The group "web" of an account: its template version and the images its instances run. */
async function web(account: string): Promise<{ version?: string; images: string[] }> {
  const config = await configOf(account);
  const { AutoScalingGroups = [] } = await new AutoScalingClient(config).send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] }),
  );
  const ids = (AutoScalingGroups[0]?.Instances ?? []).map((i) => i.InstanceId!);
  const { Reservations = [] } = ids.length
    ? await new EC2Client(config).send(new DescribeInstancesCommand({ InstanceIds: ids }))
    : { Reservations: [] };
  const images = Reservations.flatMap((r) => r.Instances ?? []).map((i) => i.ImageId!);
  return {
    ...(AutoScalingGroups[0]?.LaunchTemplate?.Version
      ? { version: AutoScalingGroups[0].LaunchTemplate.Version }
      : {}),
    images: [...new Set(images)].sort(),
  };
}

async function refreshes(account: string): Promise<InstanceRefresh[]> {
  const { InstanceRefreshes = [] } = await new AutoScalingClient(await configOf(account)).send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "web" }),
  );
  return InstanceRefreshes;
}

/**
 * Publishes a golden image of family web in the central (tooling) account, shared with the given
 * members before it is tagged: its AMI event comes once it is available, by then tagged and shared.
 */
async function publish(name: string, sharedWith: string[]): Promise<string> {
  const ec2 = new EC2Client(admin());
  const { ImageId } = await ec2.send(
    new RegisterImageCommand({
      Name: name,
      Architecture: "x86_64",
      RootDeviceName: "/dev/xvda",
      VirtualizationType: "hvm",
    }),
  );
  if (sharedWith.length > 0)
    await ec2.send(
      new ModifyImageAttributeCommand({
        ImageId,
        LaunchPermission: { Add: sharedWith.map((UserId) => ({ UserId })) },
      }),
    );
  await ec2.send(
    new CreateTagsCommand({
      Resources: [ImageId!],
      Tags: [
        { Key: "phoenix:image-family", Value: "web" },
        { Key: "phoenix:scan-status", Value: "passed" },
      ],
    }),
  );
  return ImageId!;
}

beforeAll(async () => {
  pc = await startPhoenixCloud({ speed: 200, accounts: [MEMBER, LATE], policy: POLICY, groups: GROUPS });
  sfn = new SFNClient(admin());
  writeFileSync(policyFile, JSON.stringify(POLICY));
  for (const account of [MEMBER, LATE]) await seedDemoFleet(await memberAdmin(account), GROUPS);
  await fetch(`${pc.cloud.endpoint}/_phoenix/instances/booted`, { method: "POST", body: "{}" });
}, 120_000);
afterAll(async () => pc?.stop());

describe("a shared image rolls out across accounts", () => {
  let v2: string;
  let v3: string;

  it("refreshes every account's group through its member role, the later account's waves after the first's", async () => {
    const before = { member: await web(MEMBER), late: await web(LATE) };
    v2 = await publish("golden-web-v2", [MEMBER, LATE]);
    const ended = await waitForExecution(sfn, pc.phoenix.stateMachineArns.rollout, v2, 150_000);
    expect(ended.status).toBe("SUCCEEDED");

    for (const account of [CENTRAL, MEMBER, LATE])
      expect(await web(account), account).toEqual({ version: "2", images: [v2] });
    expect(before.member.images).not.toEqual([v2]);

    // Waves span accounts: the central and first member's groups in wave 1, the later member's
    // (firstWave 10) in wave 11, started only after wave 1's refreshes ended.
    const record = await getRollout(pc.phoenix.deps, "web", v2);
    expect(record).toMatchObject({ status: "succeeded", waves: [1, 11], wavesStarted: [1, 11] });
    const [central] = await refreshes(CENTRAL);
    const [member] = await refreshes(MEMBER);
    const [late] = await refreshes(LATE);
    expect(late!.StartTime!.getTime()).toBeGreaterThan(
      Math.max(central!.EndTime!.getTime(), member!.EndTime!.getTime()),
    );

    // Per-account results in the rollout record, under each group's key.
    expect(record?.results).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ group: "web", wave: 1, outcome: "succeeded" }),
        expect.objectContaining({
          group: `${MEMBER}/${REGION}/web`,
          accountId: MEMBER,
          region: REGION,
          wave: 1,
          outcome: "succeeded",
        }),
        expect.objectContaining({ group: `${LATE}/${REGION}/web`, wave: 11, outcome: "succeeded" }),
      ]),
    );
    expect(record?.accounts).toEqual([
      { accountId: CENTRAL, region: REGION, outcomes: { succeeded: ["web"] } },
      { accountId: MEMBER, region: REGION, outcomes: { succeeded: [`${MEMBER}/${REGION}/web`] } },
      { accountId: LATE, region: REGION, outcomes: { succeeded: [`${LATE}/${REGION}/web`] } },
    ]);

    // The member's trail names its account; its refresh was started by the member role.
    const trail = await pc.phoenix.deps.audit.history(`group/${MEMBER}/${REGION}/web`);
    expect(trail.find((r) => r.action === "start-refresh")).toMatchObject({
      outcome: "ok",
      accountId: MEMBER,
      region: REGION,
    });
    const decisions = (await (
      await fetch(`${pc.cloud.endpoint}/_phoenix/iam/decisions?limit=5000`)
    ).json()) as { decisions: { principal: string; decision: string; call: string }[] };
    const starts = decisions.decisions.filter((d) => d.call.endsWith("StartInstanceRefresh"));
    expect(starts.map((d) => d.principal)).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`${MEMBER}:assumed-role/phoenix-member/`),
        expect.stringContaining(`${LATE}:assumed-role/phoenix-member/`),
      ]),
    );
    expect(starts.filter((d) => d.decision !== "Allow")).toEqual([]);
  }, 200_000);

  it("leaves the groups of a member the image is not shared with, named, and ends incomplete", async () => {
    v3 = await publish("golden-web-v3", [MEMBER]);
    const ended = await waitForExecution(sfn, pc.phoenix.stateMachineArns.rollout, v3, 150_000);
    expect(ended.status).toBe("FAILED");
    const { error, cause } = await sfn.send(
      new DescribeExecutionCommand({ executionArn: ended.executionArn }),
    );
    expect(error).toBe("Phoenix.RolloutIncomplete");
    expect(cause).toMatch(
      new RegExp(`${LATE}/${REGION}/web \\(image ${v3} .*not shared with account ${LATE}`),
    );

    expect(await web(CENTRAL)).toEqual({ version: "3", images: [v3] });
    expect(await web(MEMBER)).toEqual({ version: "3", images: [v3] });
    // Not shared: not one call to change it, still on the image before.
    expect(await web(LATE)).toEqual({ version: "2", images: [v2] });
    expect(await refreshes(LATE)).toHaveLength(1);

    const record = await getRollout(pc.phoenix.deps, "web", v3);
    expect(record?.status).toBe("incomplete");
    expect(record?.accounts).toEqual(
      expect.arrayContaining([
        { accountId: MEMBER, region: REGION, outcomes: { succeeded: [`${MEMBER}/${REGION}/web`] } },
        { accountId: LATE, region: REGION, outcomes: { "not-rolled": [`${LATE}/${REGION}/web`] } },
      ]),
    );
  }, 200_000);

  it("plans a member's group by its key with `phoenix plan`, and rolls it by that key once the image is shared", async () => {
    const where = ["--endpoint", pc.cloud.endpoint, "--policy", policyFile];
    const key = `${LATE}/${REGION}/web`;
    const planned = await phoenix(["plan", "--image", v3, "--group", key, ...where], cliEnv);
    expect(planned.stderr).toBe("");
    expect(planned.stdout).toContain("Problems (not rolled until fixed)");
    expect(planned.stdout).toMatch(new RegExp(`${key}: image ${v3} .*not shared with account ${LATE}`));

    await new EC2Client(admin()).send(
      new ModifyImageAttributeCommand({ ImageId: v3, LaunchPermission: { Add: [{ UserId: LATE }] } }),
    );
    const replanned = await phoenix(["plan", "--image", v3, "--group", key, ...where], cliEnv);
    expect(replanned.stdout).toMatch(new RegExp(`Wave 11\n  - ${key}: ${v2}`));
    expect(replanned.stdout).toContain("Verdict: would refresh 1 group(s) in 1 wave(s)");

    const started = await phoenix(["rollout", "--image", v3, "--group", key, ...where], cliEnv);
    expect(started.stderr).toBe("");
    const ended = await waitForExecution(
      sfn,
      pc.phoenix.stateMachineArns.rollout,
      `rollout-groups-`,
      150_000,
    );
    expect(ended.status).toBe("SUCCEEDED");
    expect(await web(LATE)).toEqual({ version: "3", images: [v3] });

    // Its history, by the same key, names its account.
    const audit = await phoenix(["audit", "--group", key, ...where], cliEnv);
    expect(audit.stdout).toMatch(new RegExp(`^Audit trail of group ${key}: \\d+ records`));
    expect(audit.stdout).toContain(`group/${key} (account ${LATE} ${REGION})  start-refresh ok`);
  }, 200_000);
});
