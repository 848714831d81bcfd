import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { describe, expect, it } from "vitest";
import type { FollowEvent } from "../../cli/progress/execution.js";
import { registerImage } from "../../local/core/seed.js";
import { phoenix, useCliCloud } from "./support.js";

/** Commands that start or change workflows: rollout, contain (--force), approve, release, watch. */

const world = useCliCloud();
const run = (...argv: string[]) => phoenix(argv, world.env);
const groupInstances = (name: string) => world.fleet.groups.find((g) => g.name === name)!.instanceIds;

describe("rollout and watch", () => {
  it("starts the rollout state machine under the on-image name, and watch follows it to success", async () => {
    const imageId = await registerImage(new EC2Client(world.backstage), {
      family: "api",
      name: "golden-api-v2",
    });
    const started = await run("rollout", "--image", imageId, "--json");
    expect(started.code).toBe(0);
    expect(started.json()).toMatchObject({
      execution: `rollout-api-${imageId}`,
      created: true,
      request: { imageId, family: "api", requestedBy: "user:tester" },
    });

    const watched = await run("watch", `rollout-api-${imageId}`, "--interval", "0.3s", "--json");
    expect(watched.code).toBe(0);
    const events = watched.stdout.split("\n").map((line) => JSON.parse(line) as FollowEvent);
    const steps = events.filter((e) => e.kind === "step").map((e) => (e as { state: string }).state);
    expect(steps).toEqual(
      expect.arrayContaining(["Plan", "StartRefresh", "PollRefresh", "RolloutSucceeded"]),
    );
    const refreshes = events.filter(
      (e): e is Extract<FollowEvent, { kind: "refresh" }> => e.kind === "refresh",
    );
    expect(refreshes.every((r) => r.group === "api")).toBe(true);
    expect(refreshes.at(-1)).toMatchObject({ status: "Successful", percentComplete: 100 });
    expect(events.at(-1)).toMatchObject({ kind: "finished", status: "SUCCEEDED" });

    // The instances of the group now run the image; the trail says who asked.
    const { Reservations = [] } = await new EC2Client(world.backstage).send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: "tag:aws:autoscaling:groupName", Values: ["api"] },
          { Name: "instance-state-name", Values: ["running"] },
        ],
      }),
    );
    const images = new Set(Reservations.flatMap((r) => r.Instances ?? []).map((i) => i.ImageId));
    expect([...images]).toEqual([imageId]);
    const trail = (await run("audit", "--image", imageId, "--json")).json<{
      records: { action: string; actor: string }[];
    }>();
    expect(trail.records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: "request-rollout", actor: "user:tester" }),
        expect.objectContaining({ action: "plan", actor: "user:tester" }),
      ]),
    );

    // Same image, same name: Step Functions will not run it twice.
    const again = await run("rollout", "--image", imageId);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Rollout \S+ already succeeded: \S+ was rolled out to api/);

    const status = (await run("status", "--json")).json<{
      workflows: { name: string; status: string }[];
      groups: { group: string; refresh?: { status: string; percentComplete: number } }[];
    }>();
    expect(status.workflows).toContainEqual(
      expect.objectContaining({ name: `rollout-api-${imageId}`, status: "SUCCEEDED" }),
    );
    expect(status.groups.find((g) => g.group === "api")?.refresh).toMatchObject({
      status: "Successful",
      percentComplete: 100,
    });
  });

  it("watch exits 1 when the workflow fails (an image the gate refuses, rolled to named groups)", async () => {
    const imageId = await registerImage(new EC2Client(world.backstage), {
      family: "web",
      name: "golden-web-unscanned",
      tags: { "phoenix:scan-status": "failed" },
    });
    const result = await run(
      "rollout",
      "--image",
      imageId,
      "--group",
      "web-backend",
      "--watch",
      "--interval",
      "0.3s",
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/Started rollout rollout-groups-[0-9a-f]{12}-/);
    expect(result.stdout).toContain("✘ FAILED");
    expect(result.stdout).toContain("Phoenix.ImageRefused");
  });

  it("refuses an image without a family unless told which groups", async () => {
    const imageId = await registerImage(new EC2Client(world.backstage), { family: "web", name: "x" });
    const missing = await run("rollout", "--image", "ami-00000000000000000");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("does not exist");
    expect((await run("rollout", "--image", imageId, "--family", "web", "--group", "api")).code).toBe(2);
  });
});

describe("contain, release, approve", () => {
  it("contains a standalone instance by hand, joins a repeat, and releases it", async () => {
    const instanceId = world.fleet.standaloneInstanceId;
    const started = await run("contain", instanceId, "--reason", "miner seen by on-call", "--json");
    expect(started.code).toBe(0);
    const result = started.json<{ outcome: string; execution: string }>();
    expect(result.outcome).toBe("started");
    expect(result.execution).toBe(`contain_123456789012_${instanceId}_manual-${instanceId}`);

    const repeat = await run("contain", instanceId, "--reason", "again");
    expect(repeat.code).toBe(0);
    expect(repeat.stdout).toContain("already in containment");

    const watched = await run("watch", result.execution, "--interval", "0.3s");
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(
      /· Isolate[\s\S]*· RevokeCredentials[\s\S]*· CollectEvidence[\s\S]*✔ SUCCEEDED/,
    );

    const released = await run("release", instanceId, "--json");
    expect(released.code).toBe(0);
    expect(released.json<{ restored: string[] }>().restored).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^security-groups:eni-/),
        "tag-removed:phoenix:quarantine",
      ]),
    );
    const twice = await run("release", instanceId);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain("already released by user:tester");

    const trail = (await run("audit", "--instance", instanceId, "--json")).json<{
      records: { action: string; actor: string; reason?: string }[];
    }>();
    const actions = trail.records.map((r) => r.action);
    expect(actions).toEqual(
      expect.arrayContaining(["request-containment", "start-containment", "isolate", "release"]),
    );
    expect(trail.records.find((r) => r.action === "request-containment")).toMatchObject({
      actor: "user:tester",
      reason: "miner seen by on-call",
    });
  });

  it("holds a protected instance (exit 4) until approved; approving twice starts one execution", async () => {
    const [instanceId] = groupInstances("vault");
    const held = await run("contain", instanceId!, "--reason", "suspicious", "--json");
    expect(held.code).toBe(4);
    const { holdId, outcome } = held.json<{ holdId: string; outcome: string }>();
    expect(outcome).toBe("held");
    expect(holdId).toMatch(/^hold-[0-9a-f]{12}$/);

    const approved = await run("approve", holdId, "--json");
    expect(approved.code).toBe(0);
    const first = approved.json<{ executionName: string; alreadyApproved: boolean }>();
    expect(first.alreadyApproved).toBe(false);
    const second = (await run("approve", holdId, "--json")).json<{
      executionName: string;
      alreadyApproved: boolean;
    }>();
    expect(second).toMatchObject({ executionName: first.executionName, alreadyApproved: true });

    const status = (await run("status", "--json")).json<{ workflows: { name: string }[] }>();
    expect(status.workflows.filter((w) => w.name === first.executionName)).toHaveLength(1);
    const unknown = await run("approve", "hold-000000000000");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("No hold with id hold-000000000000");
  });

  it("--force goes past a hold at once, and the trail records who forced it", async () => {
    const [, instanceId] = groupInstances("vault");
    const forced = await run("contain", instanceId!, "--reason", "ransomware beacon", "--force", "--json");
    expect(forced.code).toBe(0);
    const result = forced.json<{ outcome: string; execution: string }>();
    expect(result.outcome).toBe("forced");
    const trail = (await run("audit", "--instance", instanceId!, "--json")).json<{
      records: { action: string; actor: string; reason?: string }[];
    }>();
    expect(trail.records.find((r) => r.action === "force-containment")).toMatchObject({
      actor: "user:tester",
    });
    expect(trail.records.find((r) => r.action === "approve-hold")).toMatchObject({
      actor: "user:tester (--force)",
    });
  });

  it("says so for an instance that does not exist (exit 2)", async () => {
    const result = await run("contain", "i-0000000000000000a", "--reason", "typo");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Instance i-0000000000000000a does not exist in us-east-1/123456789012");
  });
});
