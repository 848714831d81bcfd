import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isAmiId, parseAmiIdValue } from "../../../src/images/ami-id.js";
import { familyFromParameterName } from "../../../src/images/parameters.js";
import { defaultPolicy, parsePolicy } from "../../../src/policy/index.js";

describe("familyFromParameterName", () => {
  const policy = defaultPolicy();

  it("takes the name one level below a prefix", () => {
    expect(familyFromParameterName("/phoenix/images/web", policy)).toBe("web");
    expect(familyFromParameterName("/phoenix/images/api-v2", policy)).toBe("api-v2");
  });

  it("refuses the prefix itself, deeper names and look-alikes", () => {
    expect(familyFromParameterName("/phoenix/images/", policy)).toBeUndefined();
    expect(familyFromParameterName("/phoenix/images/web/arm64", policy)).toBeUndefined();
    expect(familyFromParameterName("/phoenix/imagesweb", policy)).toBeUndefined();
    expect(familyFromParameterName("phoenix/images/web", policy)).toBeUndefined();
    expect(familyFromParameterName("MyExampleParameter", policy)).toBeUndefined();
  });

  it("takes the last segment of an exact name", () => {
    const exact = parsePolicy({ rollout: { imageParameters: ["/golden/amis/web"] } });
    expect(familyFromParameterName("/golden/amis/web", exact)).toBe("web");
    expect(familyFromParameterName("/golden/amis/api", exact)).toBeUndefined();
  });

  it("prefers the longest prefix", () => {
    const nested = parsePolicy({ rollout: { imageParameters: ["/images/", "/images/web/"] } });
    expect(familyFromParameterName("/images/web/arm64", nested)).toBe("arm64");
    expect(familyFromParameterName("/images/web", nested)).toBe("web");
  });
});

describe("AMI id values", () => {
  it.each(["ami-12345678", "ami-0123456789abcdef0", "ami-58024a4804c509798"])("accepts %s", (value) => {
    expect(isAmiId(value)).toBe(true);
    expect(parseAmiIdValue(value)).toEqual({ ok: true, imageId: value });
  });

  it.each([
    "",
    "ami-",
    "ami-1234567",
    "ami-0123456789example",
    "AMI-12345678",
    "ami-0123456789ABCDEF0",
    "ami-123456789",
    "snap-0123456789abcdef0",
    "resolve:ssm:/phoenix/images/web",
    " ami-12345678 x",
  ])("rejects %j", (value) => {
    expect(isAmiId(value)).toBe(false);
    const result = parseAmiIdValue(value);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain("not an AMI id");
  });

  it("forgives surrounding whitespace in a parameter value", () => {
    expect(parseAmiIdValue("  ami-0123456789abcdef0\n")).toEqual({
      ok: true,
      imageId: "ami-0123456789abcdef0",
    });
  });

  it("rejects non-strings without throwing", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const result = parseAmiIdValue(value);
        if (typeof value !== "string") expect(result.ok).toBe(false);
      }),
    );
  });
});
