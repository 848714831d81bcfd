import { describe, expect, it } from "vitest";
import { SimulatedHealth } from "../../local/autoscaling/health.js";
import { overlayGroups } from "../../local/autoscaling/overlay.js";
import { irreversibleReason, RefreshApiError, RefreshBook } from "../../local/autoscaling/refresh-model.js";
import {
  dispositionOf,
  minHealthyCount,
  nextBatch,
  preferencesProblem,
  waitedInVainReason,
  withDefaults,
} from "../../local/autoscaling/refresh-plan.js";
import { parseStart, refreshXml } from "../../local/autoscaling/wire.js";
import {
  applyEdits,
  child,
  children,
  elementAt,
  replaceContent,
  textOf,
} from "../../local/core/xml-patch.js";

const candidates = (n: number, healthy = true) =>
  Array.from({ length: n }, (_, i) => ({ instanceId: `i-${i}`, healthy }));

describe("batch sizing", () => {
  it("takes down healthy instances only while MinHealthyPercentage holds", () => {
    const batch = nextBatch({
      desiredCapacity: 10,
      healthyCount: 10,
      candidates: candidates(10),
      minHealthyPercentage: 80,
      room: Number.POSITIVE_INFINITY,
    });
    expect(batch.terminateFirst).toEqual(["i-0", "i-1"]);
    expect(batch.launchFirst).toEqual([]);
  });

  it("rounds the healthy minimum up, as AWS does", () => {
    expect(minHealthyCount(4, 90)).toBe(4);
    expect(minHealthyCount(4, 50)).toBe(2);
    expect(minHealthyCount(3, 50)).toBe(2);
  });

  it("still replaces one at a time when the minimum allows none (terminate first without MaxHealthyPercentage)", () => {
    const batch = nextBatch({
      desiredCapacity: 4,
      healthyCount: 4,
      candidates: candidates(4),
      minHealthyPercentage: 100,
      room: Number.POSITIVE_INFINITY,
    });
    expect(batch).toEqual({ terminateFirst: ["i-0"], launchFirst: [] });
  });

  it("launches before terminating when MaxHealthyPercentage leaves room above desired capacity", () => {
    const batch = nextBatch({
      desiredCapacity: 4,
      healthyCount: 4,
      candidates: candidates(4),
      minHealthyPercentage: 100,
      maxHealthyPercentage: 150,
      room: Number.POSITIVE_INFINITY,
    });
    expect(batch).toEqual({ terminateFirst: [], launchFirst: ["i-0", "i-1"] });
    const tight = nextBatch({
      desiredCapacity: 4,
      healthyCount: 4,
      candidates: candidates(4),
      minHealthyPercentage: 100,
      maxHealthyPercentage: 100,
      room: Number.POSITIVE_INFINITY,
    });
    expect(tight).toEqual({ terminateFirst: [], launchFirst: ["i-0"] });
  });

  it("replaces instances that are not healthy without counting them against the minimum, within the checkpoint room", () => {
    const batch = nextBatch({
      desiredCapacity: 4,
      healthyCount: 2,
      candidates: [...candidates(2, false), { instanceId: "i-ok", healthy: true }],
      minHealthyPercentage: 50,
      room: 2,
    });
    expect(batch).toEqual({ terminateFirst: ["i-0", "i-1"], launchFirst: [] });
  });
});

describe("preferences", () => {
  it("rejects what AWS rejects", () => {
    expect(preferencesProblem({ MaxHealthyPercentage: 150 })).toMatch(
      /MinHealthyPercentage must be specified/,
    );
    expect(preferencesProblem({ MinHealthyPercentage: 20, MaxHealthyPercentage: 150 })).toMatch(
      /cannot be greater than 100/,
    );
    expect(preferencesProblem({ MinHealthyPercentage: 90, MaxHealthyPercentage: 250 })).toMatch(
      /between 100 and 200/,
    );
    expect(preferencesProblem({ CheckpointPercentages: [50, 20] })).toMatch(/ascending/);
    expect(preferencesProblem({ CheckpointDelay: 60 })).toMatch(/requires CheckpointPercentages/);
    expect(
      preferencesProblem({
        MinHealthyPercentage: 50,
        MaxHealthyPercentage: 150,
        CheckpointPercentages: [50, 100],
      }),
    ).toBe(undefined);
  });

  it("shows AWS's defaults", () => {
    expect(withDefaults({ CheckpointPercentages: [50] })).toMatchObject({
      MinHealthyPercentage: 90,
      CheckpointDelay: 3600,
      SkipMatching: false,
      AutoRollback: false,
      // The API reference: Wait is the default for both (the console's default is Ignore).
      ScaleInProtectedInstances: "Wait",
      StandbyInstances: "Wait",
    });
    expect(withDefaults({ ScaleInProtectedInstances: "Refresh", StandbyInstances: "Ignore" })).toMatchObject({
      ScaleInProtectedInstances: "Refresh",
      StandbyInstances: "Ignore",
    });
  });

  it("decides each instance's fate by its state and ScaleInProtectedInstances/StandbyInstances", () => {
    const inService = { lifecycleState: "InService", protectedFromScaleIn: false };
    const protectedOne = { lifecycleState: "InService", protectedFromScaleIn: true };
    const standby = { lifecycleState: "Standby", protectedFromScaleIn: false };
    const action = (instance: typeof inService, p: Parameters<typeof dispositionOf>[1]) =>
      dispositionOf(instance, p).action;
    for (const p of [{}, { ScaleInProtectedInstances: "Ignore" as const }])
      expect(action(inService, p)).toBe("replace");
    expect(dispositionOf(protectedOne, {})).toEqual({ action: "wait", why: "protected" });
    expect(action(protectedOne, { ScaleInProtectedInstances: "Refresh" })).toBe("replace");
    expect(action(protectedOne, { ScaleInProtectedInstances: "Ignore" })).toBe("leave");
    expect(dispositionOf(standby, {})).toEqual({ action: "wait", why: "standby" });
    expect(action(standby, { StandbyInstances: "Terminate" })).toBe("terminate");
    expect(action(standby, { StandbyInstances: "Ignore" })).toBe("leave");
    expect(action({ lifecycleState: "Terminating", protectedFromScaleIn: false }, {})).toBe("leave");
    expect(
      waitedInVainReason(
        new Map([
          ["i-1", "protected"],
          ["i-2", "standby"],
        ]),
        3600,
      ),
    ).toBe(
      "The instance refresh waited 3600 seconds for instances it must replace: i-1 still protected from scale in " +
        "(remove the protection, or set ScaleInProtectedInstances to Refresh or Ignore); i-2 still in Standby " +
        "(return them to service, or set StandbyInstances to Terminate or Ignore).",
    );
  });

  it("parses the Query protocol's nested and list parameters", () => {
    const params = new URLSearchParams({
      AutoScalingGroupName: "g",
      "DesiredConfiguration.LaunchTemplate.LaunchTemplateId": "lt-1",
      "DesiredConfiguration.LaunchTemplate.Version": "3",
      "Preferences.MinHealthyPercentage": "50",
      "Preferences.CheckpointPercentages.member.1": "25",
      "Preferences.CheckpointPercentages.member.2": "100",
      "Preferences.AutoRollback": "true",
    });
    expect(parseStart(params)).toEqual({
      groupName: "g",
      desiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-1", Version: "3" } },
      preferences: { MinHealthyPercentage: 50, CheckpointPercentages: [25, 100], AutoRollback: true },
    });
    expect(() => parseStart(new URLSearchParams({ "Preferences.InstanceWarmup": "soon" }))).toThrow(
      RefreshApiError,
    );
  });
});

describe("refresh state machine", () => {
  const book = () => {
    let id = 0;
    return new RefreshBook(
      () => 1_000,
      () => `r-${++id}`,
    );
  };
  const request = { groupName: "g", preferences: {}, instancesToUpdate: 2 };

  it("allows one active refresh per group and lists newest first", () => {
    const b = book();
    const first = b.create(request);
    expect(() => b.create(request)).toThrow(expect.objectContaining({ code: "InstanceRefreshInProgress" }));
    b.transition(first.InstanceRefreshId, "InProgress");
    b.transition(first.InstanceRefreshId, "Successful");
    expect(first.EndTime).toBe(1_000);
    const second = b.create(request);
    expect(b.list("g").map((r) => r.InstanceRefreshId)).toEqual([
      second.InstanceRefreshId,
      first.InstanceRefreshId,
    ]);
    expect(b.list("g", [first.InstanceRefreshId])).toEqual([first]);
  });

  it("refuses illegal transitions", () => {
    const b = book();
    const r = b.create(request);
    b.transition(r.InstanceRefreshId, "InProgress");
    b.transition(r.InstanceRefreshId, "Failed", "x");
    expect(() => b.transition(r.InstanceRefreshId, "Successful")).toThrow(/cannot become/);
  });

  it("cancels and rolls back only what AWS would", () => {
    const b = book();
    expect(() => b.cancel("g")).toThrow(expect.objectContaining({ code: "ActiveInstanceRefreshNotFound" }));
    expect(() => b.rollback("g", "why")).toThrow(
      expect.objectContaining({ code: "ActiveInstanceRefreshNotFound" }),
    );
    b.create(request);
    expect(() => b.rollback("g", "why")).toThrow(
      expect.objectContaining({ code: "IrreversibleInstanceRefresh" }),
    );
    expect(b.cancel("g").Status).toBe("Cancelling");
    expect(() => b.cancel("g")).toThrow(expect.objectContaining({ code: "ActiveInstanceRefreshNotFound" }));
  });

  it("knows which refreshes are irreversible", () => {
    const previous = { LaunchTemplateId: "lt-1", Version: "1" };
    expect(irreversibleReason({})).toMatch(/without a desired configuration/);
    expect(
      irreversibleReason({
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-1", Version: "$Latest" } },
      }),
    ).toMatch(/\$Latest/);
    expect(
      irreversibleReason({
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-1", Version: "2" } },
        previousLaunchTemplate: { ...previous, Version: "$Default" },
      }),
    ).toMatch(/group uses/);
    expect(
      irreversibleReason({
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-1", Version: "2" } },
        previousLaunchTemplate: previous,
      }),
    ).toBeUndefined();
  });

  it("renders refreshes without leaking internal fields", () => {
    const b = book();
    const r = b.create({ ...request, previousLaunchTemplate: { LaunchTemplateId: "lt-<1>", Version: "1" } });
    const xml = refreshXml(r);
    expect(xml).toContain("<Status>Pending</Status>");
    expect(xml).not.toContain("lt-");
  });
});

describe("simulated health", () => {
  it("boots after bootSeconds of simulated time and never heals an unhealthy image", () => {
    let now = 0;
    const health = new SimulatedHealth({ now: () => now }, 30_000);
    health.record({ instanceId: "i-a", groupName: "g", firstSeenAt: 0, unhealthyImage: false });
    health.record({ instanceId: "i-b", groupName: "g", firstSeenAt: 0, unhealthyImage: true });
    const moto = { lifecycleState: "InService", healthStatus: "Healthy" };
    expect(health.view("i-a", moto)).toMatchObject({ lifecycleState: "Pending", healthStatus: "Healthy" });
    now = 30_000;
    expect(health.view("i-a", moto)).toMatchObject({ lifecycleState: "InService", healthStatus: "Healthy" });
    expect(health.view("i-b", moto)).toMatchObject({
      lifecycleState: "InService",
      healthStatus: "Unhealthy",
    });
    expect(health.view("i-a", { lifecycleState: "Standby", healthStatus: "Healthy" }).lifecycleState).toBe(
      "Standby",
    );
    expect(health.view("i-a", { ...moto, healthStatus: "Unhealthy" }).healthStatus).toBe("Unhealthy");
  });

  it("lets seeds mark instances booted", () => {
    const health = new SimulatedHealth({ now: () => 5 }, 30_000);
    health.record({ instanceId: "i-a", groupName: "g", firstSeenAt: 0, unhealthyImage: false });
    expect(health.markBooted(["i-a", "i-unknown"])).toEqual(["i-a"]);
    expect(health.isHealthy("i-a", { lifecycleState: "InService", healthStatus: "Healthy" })).toBe(true);
  });
});

describe("XML rewriting", () => {
  const xml =
    '<?xml version="1.0"?><R xmlns="x"><Result><List><member><Name>a&amp;b</Name><Inner><member><Id>1</Id></member></Inner>' +
    "<Empty/></member><member><Name>c</Name></member></List></Result></R>";

  it("finds direct children only, and rewrites values in place", () => {
    const list = elementAt(xml, ["R", "Result", "List"])!;
    const members = children(xml, list, "member");
    expect(members.map((m) => textOf(xml, child(xml, m, "Name")))).toEqual(["a&b", "c"]);
    expect(child(xml, members[0]!, "Empty")).toBeDefined();
    const edited = applyEdits(xml, [replaceContent(child(xml, members[1]!, "Name")!, "z")]);
    expect(edited).toBe(xml.replace("<Name>c</Name>", "<Name>z</Name>"));
  });

  it("overlays a moto DescribeAutoScalingGroups answer", async () => {
    const moto =
      '<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DescribeAutoScalingGroupsResult><AutoScalingGroups><member>' +
      "<AutoScalingGroupName>g</AutoScalingGroupName><LaunchTemplate><LaunchTemplateId>lt-1</LaunchTemplateId><LaunchTemplateName>t</LaunchTemplateName><Version>2</Version></LaunchTemplate>" +
      "<DesiredCapacity>3</DesiredCapacity><Instances><member><InstanceId>i-a</InstanceId><LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus>" +
      "<LaunchTemplate><LaunchTemplateId>lt-1</LaunchTemplateId><LaunchTemplateName>t</LaunchTemplateName><Version>2</Version></LaunchTemplate></member></Instances>" +
      "</member></AutoScalingGroups></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>";
    const health = new SimulatedHealth({ now: () => 0 }, 30_000);
    health.record({
      instanceId: "i-a",
      groupName: "g",
      firstSeenAt: 0,
      unhealthyImage: false,
      launchTemplate: { LaunchTemplateId: "lt-1", LaunchTemplateName: "t", Version: "1" },
    });
    const out = await overlayGroups(moto, {
      health,
      tracker: { sync: async () => [] },
      presentGroup: () => ({
        launchTemplate: { LaunchTemplateId: "lt-1", LaunchTemplateName: "t", Version: "1" },
        desiredCapacity: 2,
      }),
    });
    expect(out).toContain("<LifecycleState>Pending</LifecycleState>");
    expect(out).toContain("<DesiredCapacity>2</DesiredCapacity>");
    expect(out).not.toContain("<Version>2</Version>");
  });
});
