import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ContainmentIdentity,
  containmentExecutionName,
  instanceDedupeKey,
} from "../../../src/containment/core/naming.js";
import { parseGuardDutyEvent } from "../../../src/findings/guardduty.js";
import { alteredGuardDutyEvent, loadGuardDutyEvent } from "../../support/sample-events.js";

const VALID_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const identity: ContainmentIdentity = {
  accountId: "123456789012",
  instanceId: "i-05746eb48123455e0",
  epoch: "16afba5c5c43e07c9e3e5e2e544e95df",
};

describe("containmentExecutionName", () => {
  it("is readable for a real finding", () => {
    const name = containmentExecutionName(identity);
    expect(name).toBe("contain_123456789012_i-05746eb48123455e0_16afba5c5c43e07c9e3e5e2e544e95df");
    expect(name).toMatch(VALID_NAME);
  });

  it("maps every repeat of a finding (higher count, new updatedAt) to the same name", () => {
    const file = "canary-ec2-stateless-integtest-target.json";
    const repeat = alteredGuardDutyEvent(file, "detail.service.count", 7);
    (repeat["detail"] as Record<string, unknown>)["updatedAt"] = "2017-11-01T08:00:00.000Z";
    repeat["id"] = "another-event-id";
    const names = [loadGuardDutyEvent(file), repeat].map((event) => {
      const result = parseGuardDutyEvent(event);
      if (!result.ok || result.finding.instanceId === undefined) throw new Error("sample must parse");
      const { accountId, instanceId, findingId } = result.finding;
      return containmentExecutionName({ accountId, instanceId, epoch: findingId });
    });
    expect(names[0]).toBe(names[1]);
  });

  it("gives a new name to a new epoch or a new generation of the same instance", () => {
    const base = containmentExecutionName(identity);
    expect(containmentExecutionName({ ...identity, epoch: "aaaabbbbccccddddeeeeffff00001111" })).not.toBe(
      base,
    );
    expect(containmentExecutionName({ ...identity, generation: 1 })).toBe(base);
    expect(containmentExecutionName({ ...identity, generation: 2 })).toBe(`${base}_g2`);
  });

  it("falls back to a digest when a part is too long or holds other characters", () => {
    const long = containmentExecutionName({ ...identity, epoch: "f".repeat(64) });
    const odd = containmentExecutionName({ ...identity, epoch: "finding/with:odd chars" });
    for (const name of [long, odd]) {
      expect(name).toMatch(/^contain-digest_[0-9a-f]{64}$/);
      expect(name).toMatch(VALID_NAME);
    }
    expect(long).not.toBe(odd);
  });

  it("does not confuse identities whose parts only differ in where an underscore falls", () => {
    const a = containmentExecutionName({ accountId: "1", instanceId: "i-1_x", epoch: "y" });
    const b = containmentExecutionName({ accountId: "1", instanceId: "i-1", epoch: "x_y" });
    expect(a).not.toBe(b);
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses generation %s", (generation) => {
    expect(() => containmentExecutionName({ ...identity, generation })).toThrow(RangeError);
  });

  it("is always a valid, deterministic name, and distinct identities get distinct names", () => {
    const anyIdentity = fc.record({
      accountId: fc.oneof(fc.stringMatching(/^\d{12}$/), fc.string({ maxLength: 40 })),
      instanceId: fc.oneof(fc.stringMatching(/^i-[0-9a-f]{17}$/), fc.string({ maxLength: 40 })),
      epoch: fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), fc.string({ maxLength: 100 })),
      generation: fc.integer({ min: 1, max: 1000 }),
    });
    fc.assert(
      fc.property(anyIdentity, anyIdentity, (x, y) => {
        const name = containmentExecutionName(x);
        expect(name).toMatch(VALID_NAME);
        expect(containmentExecutionName({ ...x })).toBe(name);
        const same =
          x.accountId === y.accountId &&
          x.instanceId === y.instanceId &&
          x.epoch === y.epoch &&
          x.generation === y.generation;
        expect(containmentExecutionName(y) === name).toBe(same);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("instanceDedupeKey", () => {
  it("is the same for every finding on an instance and differs across accounts", () => {
    expect(instanceDedupeKey("123456789012", "i-05746eb48123455e0")).toBe(
      "instance#123456789012#i-05746eb48123455e0",
    );
    expect(instanceDedupeKey("210987654321", "i-05746eb48123455e0")).not.toBe(
      instanceDedupeKey("123456789012", "i-05746eb48123455e0"),
    );
  });
});
