import { EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";
import { describe, expect, it } from "vitest";
import { registerImage } from "../../local/core/seed.js";
import type { DashboardState } from "../../local/dashboard/state.js";
import { phoenix, useCliCloud } from "./support.js";

/**
 * The dashboard's page, the sections it polls and the JSON they are drawn from, over HTTP. What
 * a person sees in a browser is dashboard-browser.test.ts.
 */

const world = useCliCloud();

const state = async (): Promise<DashboardState> => {
  const response = await fetch(`${world.endpoint}/_phoenix/dashboard/state`);
  expect(response.status).toBe(200);
  return (await response.json()) as DashboardState;
};

describe("dashboard", () => {
  it("serves a page drawn with its first state, that polls the view route", async () => {
    const response = await fetch(`${world.endpoint}/_phoenix/dashboard`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    expect(html).toContain("/_phoenix/dashboard/view");
    expect(html).toContain('id="fleet"');
    // No "loading…": the fleet is in the page as it arrives.
    expect(html).not.toContain("loading…");
    expect(html).toContain('data-group="web-frontend"');
    expect(html).toContain(`data-instance="${world.fleet.standaloneInstanceId}"`);
    const view = (await (await fetch(`${world.endpoint}/_phoenix/dashboard/view`)).json()) as {
      sections: Record<string, string>;
    };
    expect(Object.keys(view.sections)).toEqual(
      expect.arrayContaining(["fleet", "legend", "holds", "workflows", "notifications", "audit"]),
    );
  });

  it("shows the fleet by family and wave, protected groups and standalone instances", async () => {
    const fleet = await state();
    // Unmanaged groups have no wave (Phoenix never rolls them) and come after the managed ones.
    expect(fleet.groups.map((g) => `${g.family}:${g.wave ?? "unmanaged"}:${g.name}`)).toEqual([
      "api:1:api",
      "db:1:vault",
      "web:1:web-frontend",
      "web:2:web-backend",
      "web:unmanaged:web-legacy",
    ]);
    expect(fleet.groups.find((g) => g.name === "vault")?.protected).toBe(true);
    expect(fleet.groups.find((g) => g.name === "web-legacy")?.managed).toBe(false);
    expect(fleet.groups.find((g) => g.name === "web-frontend")?.instances).toHaveLength(3);
    expect(fleet.standalone.map((i) => i.id)).toEqual([world.fleet.standaloneInstanceId]);
  });

  it("follows a workflow from running to succeeded, with refresh progress and instances on the new image", async () => {
    const imageId = await registerImage(new EC2Client(world.backstage), {
      family: "api",
      name: "golden-api-v2",
    });
    expect((await phoenix(["rollout", "--image", imageId], world.env)).code).toBe(0);
    const seen = new Set<string>();
    let last: DashboardState | undefined;
    for (let i = 0; i < 120; i++) {
      last = await state();
      const workflow = last.workflows.find((w) => w.name === `rollout-api-${imageId}`);
      if (workflow) seen.add(workflow.status);
      if (workflow?.status === "SUCCEEDED") break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect([...seen]).toEqual(["RUNNING", "SUCCEEDED"]);
    const workflow = last!.workflows.find((w) => w.name === `rollout-api-${imageId}`)!;
    expect(workflow.steps.map((step) => step.name)).toEqual(
      expect.arrayContaining(["Plan", "StartRefresh", "RolloutSucceeded"]),
    );
    expect(workflow.steps.every((step) => step.outcome === "done" && step.at)).toBe(true);
    expect(workflow.startedAt && workflow.stoppedAt).toBeTruthy();
    const api = last!.groups.find((g) => g.name === "api")!;
    expect(api.refresh).toMatchObject({ status: "Successful", percentComplete: 100 });
    expect(new Set(api.instances.map((i) => i.imageId))).toEqual(new Set([imageId]));
    expect(last!.audit.map((a) => a.action)).toContain("request-rollout");
  });

  it("marks a contained instance as quarantined", async () => {
    const instanceId = world.fleet.standaloneInstanceId;
    const contained = await phoenix(
      ["contain", instanceId, "--reason", "dashboard test", "--watch", "--interval", "0.3s"],
      world.env,
    );
    expect(contained.code).toBe(0);
    const fleet = await state();
    expect(fleet.standalone.find((i) => i.id === instanceId)?.quarantined).toBeTruthy();
    // A standalone instance is not replaced nor disposed of: those steps ran and were skipped.
    const containment = fleet.workflows.find((w) => w.workflow === "contain" && w.name.includes(instanceId))!;
    const outcomes = Object.fromEntries(containment.steps.map((s) => [s.name, s.outcome]));
    expect(outcomes).toMatchObject({
      Isolate: "done",
      Replace: "skipped",
      Dispose: "skipped",
      Report: "done",
    });
  });

  it("lists held containments with the command that approves them, and the hold notification", async () => {
    const [instanceId] = world.fleet.groups.find((g) => g.name === "vault")!.instanceIds;
    const held = await phoenix(["contain", instanceId!, "--reason", "dashboard hold"], world.env);
    expect(held.code).toBe(4);
    const fleet = await state();
    const hold = fleet.holds.find((h) => h.instanceId === instanceId)!;
    expect(hold.holdId).toMatch(/^hold-/);
    expect(hold.approveCommand).toBe(
      `npx phoenix approve ${hold.holdId} --port ${new URL(world.endpoint).port}`,
    );
    expect(
      fleet.groups.find((g) => g.name === "vault")!.instances.find((i) => i.id === instanceId)?.held,
    ).toBe(hold.holdId);
    expect(fleet.notifications.map((n) => n.subject)).toContainEqual(
      expect.stringContaining("Held for approval"),
    );
  });

  it("shows the last drift sweep and what it found", async () => {
    expect((await state()).drift).toBeNull();
    // A stray instance of the web family, launched by hand outside any group.
    const ec2 = new EC2Client(world.backstage);
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: "ami-12c6146b",
        MinCount: 1,
        MaxCount: 1,
        InstanceType: "t3.micro",
        TagSpecifications: [
          { ResourceType: "instance", Tags: [{ Key: "phoenix:image-family", Value: "web" }] },
        ],
      }),
    );
    const stray = run.Instances![0]!.InstanceId!;
    const swept = await phoenix(["sweep", "--json"], world.env);
    const report = JSON.parse(swept.stdout) as { sweepId: string; findings: { subject: string }[] };
    const drift = (await state()).drift!;
    expect([drift.sweepId, drift.findings]).toEqual([report.sweepId, report.findings.length]);
    expect(drift.shown.map((f) => f.subject)).toContain(`instance/${stray}`);
    const view = (await (await fetch(`${world.endpoint}/_phoenix/dashboard/view`)).json()) as {
      sections: Record<string, string>;
    };
    expect(view.sections["drift"]).toContain(`data-drift="instance/${stray}"`);
    expect(view.sections["drift"]).toMatch(/finding.*nothing changed \(report mode\)/);
  });
});
