import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalCloud } from "../../local/cloud.js";
import type { LocalDeployment } from "../../local/deployment/index.js";
import type { PhoenixDeps } from "../../src/deps.js";
import { SWEEPS_SUBJECT } from "../../src/drift/workflow/sweep.js";
import { awsCli } from "../support/cloud.js";
import { startDeployedCloud } from "../support/phoenix.js";
import { until } from "../support/poll.js";

/**
 * The deployed sweep: the stack's schedule rule (drift.schedule) invokes the sweep function, on
 * the local cloud's clock. rate(10 minutes) at 600× is a sweep a second.
 */
let cloud: LocalCloud;
let deployment: LocalDeployment;
let deps: PhoenixDeps;
beforeAll(async () => {
  ({ cloud, deployment, deps } = await startDeployedCloud({
    speed: 600,
    policy: { drift: { schedule: "rate(10 minutes)" } },
  }));
}, 60_000);
afterAll(async () => cloud?.stop());

describe("the scheduled drift sweep", () => {
  it("is a schedule rule with the policy's rate, targeting the sweep function", async () => {
    const fn = deployment.functionOf("sweep");
    expect(fn.name).toBe("phoenix-test-sweep");
    const targets = (await awsCli(cloud, [
      "events",
      "list-targets-by-rule",
      "--rule",
      "phoenix-test-drift-sweep",
    ])) as {
      Targets: { Arn: string }[];
    };
    expect(targets.Targets.map((t) => t.Arn)).toEqual([fn.arn]);
    const rule = (await awsCli(cloud, ["events", "describe-rule", "--name", "phoenix-test-drift-sweep"])) as {
      ScheduleExpression?: string;
      EventPattern?: string;
    };
    expect([rule.ScheduleExpression, rule.EventPattern]).toEqual(["rate(10 minutes)", undefined]);
  });

  it("runs the sweep on its own, as the function, every period", async () => {
    const sweeps = await until(
      "two scheduled sweeps",
      async () => {
        const records = (await deps.audit.history(SWEEPS_SUBJECT)).filter((r) => r.action === "sweep");
        return records.length >= 2 ? records : undefined;
      },
      20_000,
    );
    expect(sweeps.every((r) => r.actor === "phoenix:sweep" && r.outcome === "ok")).toBe(true);
    expect(new Set(sweeps.map((r) => r.execution)).size).toBe(sweeps.length);
  }, 30_000);

  it("makes the isolation groups of a VPC with instances, as the function (its IAM role, enforced)", async () => {
    const vpcId = String(
      ((await awsCli(cloud, ["ec2", "describe-vpcs"])) as { Vpcs: { VpcId: string }[] }).Vpcs[0]!.VpcId,
    );
    const subnet = (
      (await awsCli(cloud, ["ec2", "describe-subnets", "--filters", `Name=vpc-id,Values=${vpcId}`])) as {
        Subnets: { SubnetId: string }[];
      }
    ).Subnets[0]!.SubnetId;
    await awsCli(cloud, [
      "ec2",
      "run-instances",
      "--image-id",
      "ami-12c6146b",
      "--instance-type",
      "t3.micro",
      "--subnet-id",
      subnet,
    ]);
    const ensured = await until(
      "a sweep that made the VPC's isolation groups",
      async () =>
        (await deps.audit.history(SWEEPS_SUBJECT)).find((r) => {
          const groups = r.details?.["isolationGroups"] as { vpcs: string[]; ensured: boolean } | undefined;
          return groups?.ensured === true && groups.vpcs.includes(vpcId);
        }),
      20_000,
    );
    expect(ensured.actor).toBe("phoenix:sweep");
    const groups = (await awsCli(cloud, [
      "ec2",
      "describe-security-groups",
      "--filters",
      "Name=tag-key,Values=phoenix:role",
      `Name=vpc-id,Values=${vpcId}`,
    ])) as { SecurityGroups: { GroupName: string }[] };
    expect(groups.SecurityGroups.map((g) => g.GroupName).sort()).toEqual([
      "phoenix-isolation-transition",
      "phoenix-quarantine",
    ]);
  }, 30_000);
});
