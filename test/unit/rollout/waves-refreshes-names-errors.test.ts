import { describe, expect, it } from "vitest";
import { isTransientAwsError, TransientAwsError } from "../../../src/aws/errors.js";
import { rolloutExecutionName } from "../../../src/rollout/core/execution-name.js";
import {
  blamesImage,
  isActiveRefreshStatus,
  refreshOutcome,
} from "../../../src/rollout/core/refresh-outcome.js";
import type { GroupResult } from "../../../src/rollout/workflow/contract.js";
import { errorMessage } from "../../../src/rollout/workflow/group-steps.js";
import { judgeWave } from "../../../src/rollout/workflow/verdict.js";

const result = (group: string, outcome: GroupResult["outcome"], reason = ""): GroupResult => ({
  group,
  wave: 1,
  outcome,
  reason,
});

describe("wave verdict", () => {
  it("passes a wave whose groups succeeded or were skipped", () => {
    const verdict = judgeWave(
      [result("a", "succeeded"), result("b", "skipped", "already on image")],
      1,
      false,
    );
    expect(verdict).toMatchObject({ ok: true, rejectImage: false, last: false, failures: [] });
    expect(verdict.summary).toBe("wave 1: 1 refreshed, 1 skipped");
  });

  it.each(["failed", "rolled-back"] as const)(
    "fails the wave and blames the image when a refresh %s",
    (outcome) => {
      const verdict = judgeWave([result("a", "succeeded"), result("b", outcome, "unhealthy")], 2, true);
      expect(verdict).toMatchObject({ ok: false, rejectImage: true, wave: 2, last: true });
      expect(verdict.failures.map((f) => f.group)).toEqual(["b"]);
      expect(verdict.summary).toContain(`b ${outcome} (unhealthy)`);
    },
  );

  it.each(["cancelled", "blocked", "error"] as const)(
    "fails the wave without blaming the image when a group is %s",
    (outcome) => {
      const verdict = judgeWave([result("a", outcome)], 1, false);
      expect(verdict).toMatchObject({ ok: false, rejectImage: false });
    },
  );

  it("passes an empty wave (every group left the plan meanwhile)", () => {
    expect(judgeWave([], 3, true)).toMatchObject({ ok: true, last: true });
  });
});

describe("refresh statuses", () => {
  it("maps terminal statuses to outcomes and leaves active ones open", () => {
    expect(refreshOutcome("Successful")).toBe("succeeded");
    expect(refreshOutcome("RollbackSuccessful")).toBe("rolled-back");
    expect(refreshOutcome("RollbackFailed")).toBe("failed");
    expect(refreshOutcome("Failed")).toBe("failed");
    expect(refreshOutcome("Cancelled")).toBe("cancelled");
    for (const status of ["Pending", "InProgress", "Baking", "Cancelling", "RollbackInProgress"]) {
      expect(refreshOutcome(status), status).toBeUndefined();
      expect(isActiveRefreshStatus(status), status).toBe(true);
    }
    expect(isActiveRefreshStatus("Successful")).toBe(false);
    expect(blamesImage("cancelled")).toBe(false);
  });
});

describe("execution names", () => {
  it("are deterministic per family and image", () => {
    expect(rolloutExecutionName("web", "ami-0123456789abcdef0")).toBe("rollout-web-ami-0123456789abcdef0");
    expect(rolloutExecutionName("web", "ami-0123456789abcdef0")).toBe(
      rolloutExecutionName("web", "ami-0123456789abcdef0"),
    );
  });

  it("stay within Step Functions' rules for any family, and distinct for distinct families", () => {
    const image = "ami-0123456789abcdef0";
    const odd = ["web/prod", "web prod", "web:prod", "x".repeat(200), "wéb"];
    const names = odd.map((family) => rolloutExecutionName(family, image));
    for (const name of names) {
      expect(name.length).toBeLessThanOrEqual(80);
      expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(name.endsWith(image)).toBe(true);
    }
    expect(new Set(names).size).toBe(names.length);
    expect(rolloutExecutionName("web/prod", image)).not.toBe(rolloutExecutionName("web:prod", image));
  });
});

describe("errors", () => {
  it("treats throttling, 5xx and network errors as transient, and nothing else", () => {
    expect(isTransientAwsError(Object.assign(new Error("Rate exceeded"), { name: "Throttling" }))).toBe(true);
    expect(isTransientAwsError(Object.assign(new Error("x"), { $metadata: { httpStatusCode: 503 } }))).toBe(
      true,
    );
    expect(isTransientAwsError(Object.assign(new Error("x"), { code: "ECONNRESET" }))).toBe(true);
    expect(isTransientAwsError(new TransientAwsError("again"))).toBe(true);
    expect(
      isTransientAwsError(
        Object.assign(new Error("x"), { name: "ValidationError", $metadata: { httpStatusCode: 400 } }),
      ),
    ).toBe(false);
    expect(isTransientAwsError("Throttling")).toBe(false);
  });

  it("reads Lambda's error document from a Catch's Cause", () => {
    expect(
      errorMessage({ Error: "X", Cause: JSON.stringify({ errorType: "X", errorMessage: "boom" }) }),
    ).toBe("boom");
    expect(errorMessage({ Error: "States.Timeout", Cause: "took too long" })).toBe("took too long");
    expect(errorMessage({})).toBe("no cause given");
  });
});
