import { describe, expect, it } from "vitest";
import { decideSupersede, type InFlightRollout, isNewer } from "../../../src/rollout/core/supersede.js";

const OLD = { imageId: "ami-00000001", creationDate: "2025-05-01T10:00:00.000Z" };
const MID = { imageId: "ami-00000002", creationDate: "2025-05-02T10:00:00.000Z" };
const NEW = { imageId: "ami-00000003", creationDate: "2025-05-03T10:00:00.000Z" };

const inFlight = (
  image: typeof OLD,
  waves: number[],
  started: number[],
  executionId?: string,
): InFlightRollout => ({
  ...image,
  waves,
  wavesStarted: started,
  ...(executionId ? { executionId } : {}),
});

describe("decideSupersede", () => {
  it("proceeds when nothing else is in flight", () => {
    expect(decideSupersede({ image: NEW, inFlight: [] })).toEqual({
      proceed: true,
      reason: "ami-00000003 is the newest image of the family",
      cancel: [],
    });
  });

  it("cancels the waves an older rollout has not started, keeping the started ones", () => {
    const decision = decideSupersede({ image: NEW, inFlight: [inFlight(OLD, [1, 2, 3], [1], "exec-old")] });
    expect(decision).toEqual({
      proceed: true,
      reason: "ami-00000003 supersedes ami-00000001",
      cancel: [
        {
          imageId: "ami-00000001",
          executionId: "exec-old",
          wavesCancelled: [2, 3],
          wavesKept: [1],
          reason: "superseded by newer ami-00000003",
        },
      ],
    });
  });

  it("supersedes every older rollout at once", () => {
    const decision = decideSupersede({
      image: NEW,
      inFlight: [inFlight(OLD, [1, 2], [1, 2]), inFlight(MID, [1, 2], [])],
    });
    expect(decision.proceed).toBe(true);
    expect(decision.cancel.map((c) => [c.imageId, c.wavesCancelled, c.wavesKept])).toEqual([
      ["ami-00000001", [], [1, 2]],
      ["ami-00000002", [1, 2], []],
    ]);
  });

  it("ignores an older image that arrives late, naming the newer one", () => {
    const decision = decideSupersede({
      image: OLD,
      inFlight: [inFlight(MID, [1, 2], [1]), inFlight(NEW, [1, 2], [])],
    });
    expect(decision.proceed).toBe(false);
    expect(decision.cancel).toEqual([]);
    expect(decision.reason).toContain("ami-00000001");
    expect(decision.reason).toContain("older than ami-00000003");
  });

  it("ignores an older image after a newer one finished rolling out", () => {
    const decision = decideSupersede({ image: OLD, inFlight: [], lastCompleted: NEW });
    expect(decision).toMatchObject({ proceed: false, reason: expect.stringContaining("already rolled out") });
    expect(decideSupersede({ image: NEW, inFlight: [], lastCompleted: OLD }).proceed).toBe(true);
  });

  it("lets an older image replace a newer one that was marked compromised (a rollback), cancelling its rollout", () => {
    expect(
      decideSupersede({ image: OLD, inFlight: [], lastCompleted: { ...NEW, blocked: true } }),
    ).toMatchObject({
      proceed: true,
      cancel: [],
    });
    const decision = decideSupersede({
      image: OLD,
      inFlight: [{ ...inFlight(NEW, [1, 2], [1], "exec-bad"), blocked: true }],
      lastCompleted: { ...MID, blocked: true },
    });
    expect(decision.proceed).toBe(true);
    expect(decision.cancel).toEqual([
      expect.objectContaining({
        imageId: NEW.imageId,
        wavesCancelled: [2],
        reason: `${NEW.imageId} was marked compromised: replaced by ${OLD.imageId}`,
      }),
    ]);
    // The last good image is the one rolled out before the compromised one started: it rolls out
    // again (the groups the compromised rollout reached come back), and the bad rollout stops.
    const back = decideSupersede({
      image: OLD,
      inFlight: [{ ...inFlight(NEW, [1, 2], [1], "exec-bad"), blocked: true }],
      lastCompleted: OLD,
    });
    expect(back).toMatchObject({
      proceed: true,
      cancel: [expect.objectContaining({ imageId: NEW.imageId })],
    });
    // Without a compromised rollout in flight, it is rolled out already.
    expect(
      decideSupersede({ image: OLD, inFlight: [inFlight(NEW, [1], [], "x")], lastCompleted: OLD }).proceed,
    ).toBe(false);
    // A blocked rival does not clear the way past a good newer one.
    expect(
      decideSupersede({
        image: OLD,
        inFlight: [{ ...inFlight(NEW, [1], [], "x"), blocked: true }],
        lastCompleted: MID,
      }).proceed,
    ).toBe(false);
  });

  it("does not start the same image twice (a repeated event)", () => {
    expect(decideSupersede({ image: NEW, inFlight: [inFlight(NEW, [1], [], "exec-1")] })).toEqual({
      proceed: false,
      reason: "ami-00000003 is already rolling out (exec-1)",
      cancel: [],
    });
    expect(decideSupersede({ image: NEW, inFlight: [], lastCompleted: NEW }).proceed).toBe(false);
  });

  it("orders by creation date, not by arrival or id", () => {
    const newerButSmallerId = { imageId: "ami-00000000", creationDate: "2025-06-01T00:00:00Z" };
    expect(decideSupersede({ image: newerButSmallerId, inFlight: [inFlight(NEW, [1], [])] }).proceed).toBe(
      true,
    );
  });

  it("breaks a creation-date tie by image id, the same way from both sides", () => {
    const a = { imageId: "ami-0000000a", creationDate: NEW.creationDate };
    const b = { imageId: "ami-0000000b", creationDate: NEW.creationDate };
    expect(decideSupersede({ image: b, inFlight: [inFlight(a, [1], [])] }).proceed).toBe(true);
    expect(decideSupersede({ image: a, inFlight: [inFlight(b, [1], [])] }).proceed).toBe(false);
    expect(isNewer(b, a)).toBe(true);
    expect(isNewer(a, b)).toBe(false);
  });

  it("fails closed on unreadable creation dates", () => {
    expect(decideSupersede({ image: { ...NEW, creationDate: "" }, inFlight: [] }).proceed).toBe(false);
    const broken = inFlight({ ...OLD, creationDate: "yesterday" }, [1], []);
    expect(decideSupersede({ image: NEW, inFlight: [broken] })).toMatchObject({
      proceed: false,
      reason: expect.stringContaining("cannot order"),
    });
  });

  it("without the planned waves, cancels nothing by number but still supersedes", () => {
    const decision = decideSupersede({ image: NEW, inFlight: [{ ...OLD, wavesStarted: [1] }] });
    expect(decision.cancel).toEqual([
      {
        imageId: "ami-00000001",
        wavesCancelled: [],
        wavesKept: [1],
        reason: "superseded by newer ami-00000003",
      },
    ]);
  });
});
