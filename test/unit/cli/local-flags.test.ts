import { describe, expect, it } from "vitest";
import { parseLocalFlags } from "../../../cli/commands/local.js";

describe("phoenix local --accounts", () => {
  it("takes a comma-separated list of member account ids", () => {
    expect(parseLocalFlags(["--accounts", "222222222222, 333333333333"]).accounts).toEqual([
      "222222222222",
      "333333333333",
    ]);
    expect(parseLocalFlags([]).accounts).toEqual([]);
  });

  it("refuses, as a usage error naming each problem, ids that cannot be member accounts", () => {
    expect(() => parseLocalFlags(["--accounts", "2222,123456789012"])).toThrow(
      /--accounts: "2222" is not a 12-digit account id; 123456789012 is the local cloud's own account/,
    );
    expect(() => parseLocalFlags(["--accounts", "222222222222,222222222222"])).toThrowError(
      expect.objectContaining({ name: "UsageError" }),
    );
  });
});
