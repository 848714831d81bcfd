import { describe, expect, it } from "vitest";
import { protectionHold } from "../../../src/containment/core/protection.js";

describe("protectionHold", () => {
  it("holds nothing without the tag", () => {
    expect(protectionHold()).toBeUndefined();
    expect(protectionHold({}, {})).toBeUndefined();
    expect(
      protectionHold({ Name: "web-1", "phoenix:managed": "true" }, { "phoenix:managed": "true" }),
    ).toBeUndefined();
  });

  it("holds a protected instance", () => {
    const reason = protectionHold({ "phoenix:protected": "true" }, {});
    expect(reason).toMatch(/^The instance is tagged phoenix:protected=true/);
    expect(reason).toContain("holds the containment for approval");
  });

  it("holds every instance of a protected group", () => {
    expect(protectionHold({}, { "phoenix:protected": "true" })).toMatch(
      /^The instance's Auto Scaling group is tagged/,
    );
    expect(protectionHold(undefined, { "phoenix:protected": "true" })).toBeDefined();
  });

  it("says so when both are protected", () => {
    const both = { "phoenix:protected": "true" };
    expect(protectionHold(both, both)).toMatch(/^The instance and its Auto Scaling group are both tagged/);
  });

  it.each(["TRUE", " True ", "true\n"])("reads %j as protected, erring towards holding", (value) => {
    expect(protectionHold({ "phoenix:protected": value })).toBeDefined();
  });

  it.each(["false", "", "yes", "1"])("reads %j as not protected", (value) => {
    expect(protectionHold({ "phoenix:protected": value })).toBeUndefined();
  });

  it("matches the key exactly, as AWS tag keys are case-sensitive", () => {
    expect(protectionHold({ "Phoenix:Protected": "true" })).toBeUndefined();
  });
});
