import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

  it("makes them accounts Phoenix manages, in the local region unless the policy lists them", () => {
    const dir = mkdtempSync(join(tmpdir(), "phoenix-flags-"));
    const file = join(dir, "policy.json");
    writeFileSync(
      file,
      JSON.stringify({ accounts: [{ accountId: "333333333333", regions: ["eu-west-1"] }] }),
    );
    const { policy } = parseLocalFlags(["--accounts", "222222222222,333333333333", "--policy", file]);
    expect(policy.accounts).toEqual([
      { accountId: "333333333333", regions: ["eu-west-1"], roleName: "phoenix-member", firstWave: 0 },
      { accountId: "222222222222", regions: ["us-east-1"], roleName: "phoenix-member", firstWave: 0 },
    ]);
  });
});
