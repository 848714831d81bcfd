import { EC2Client } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DashboardState } from "../../local/dashboard/state.js";
import { registerImage } from "../../local/seed.js";
import { type CliCloud, phoenix, startCliCloud } from "./support.js";

/**
 * The dashboard's page and the JSON it polls, over HTTP. (The headless-browser test needs
 * chromium and playwright-core, not installed here yet.)
 */

let world: CliCloud;
beforeAll(async () => {
  world = await startCliCloud();
});
afterAll(() => world?.stop());

const state = async (): Promise<DashboardState> => {
  const response = await fetch(`${world.endpoint}/_phoenix/dashboard/state`);
  expect(response.status).toBe(200);
  return (await response.json()) as DashboardState;
};

describe("dashboard", () => {
  it("serves a page that polls the state route", async () => {
    const response = await fetch(`${world.endpoint}/_phoenix/dashboard`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    expect(html).toContain("/_phoenix/dashboard/state");
    expect(html).toContain('id="fleet"');
  });

  it("shows the fleet by family and wave, protected groups and standalone instances", async () => {
    const fleet = await state();
    expect(fleet.groups.map((g) => `${g.family}:${g.wave}:${g.name}`)).toEqual([
      "api:1:api",
      "db:1:vault",
      "web:1:web-frontend",
      "web:1:web-legacy",
      "web:2:web-backend",
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
    expect(workflow.steps).toEqual(expect.arrayContaining(["Plan", "StartRefresh", "RolloutSucceeded"]));
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
  });
});
