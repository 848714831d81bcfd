import { DescribeInstancesCommand, EC2Client, RegisterImageCommand } from "@aws-sdk/client-ec2";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { createOnFindingHandler } from "../../functions/on-finding.js";
import { createImageEventHandler } from "../../functions/on-image.js";
import { createOnRefreshEventHandler } from "../../functions/on-refresh-event.js";
import { useHarness } from "../containment/support/fixtures.js";
import { quietLogger } from "../rollout/support.js";
import { lambdaContext, sqsBatch } from "../support/lambda-events.js";
import { allowedFindingEffects, forbiddenCalls } from "./support/effects.js";
import { fuzzTriggers, isCleanError } from "./support/fuzz-properties.js";
import { findingBody, imageEvent, refreshEvent } from "./support/hostile-events.js";

const LONG = process.env.PHOENIX_LONG === "1";

describe("fuzzing the triggers (clients stubbed in process)", () => {
  it(
    `no crash, no forbidden call (${LONG ? 5_000 : 400} cases per trigger)`,
    async () => {
      const reached = await fuzzTriggers(LONG ? 5_000 : 400);
      // The generators reach past validation: handlers did try AWS calls on some events.
      expect(reached.onFindingCalls).toBeGreaterThan(0);
    },
    LONG ? 900_000 : 80_000,
  );
});

describe("fuzzing the triggers against the local cloud", () => {
  const h = useHarness({}, 60_000);
  let instanceIds: string[];
  beforeAll(() => {
    instanceIds = h.fleet.groups.flatMap((g) => g.instanceIds);
  });

  it(
    "hostile findings about real instances change nothing the router does not allow",
    async () => {
      const onFinding = createOnFindingHandler(h.deps);
      await fc.assert(
        fc.asyncProperty(findingBody(instanceIds), async (body) => {
          const mark = h.tap.mark();
          const result = await onFinding(sqsBatch([body]), lambdaContext("on-finding"));
          expect(result.batchItemFailures).toEqual([]);
          const allowed = allowedFindingEffects(body, h.deps.policy);
          expect(forbiddenCalls(h.tap.since(mark), allowed)).toEqual([]);
        }),
        { numRuns: LONG ? 600 : 60 },
      );
      // Nothing the fuzz did left an instance stopped, terminated or moved.
      const { Reservations = [] } = await new EC2Client(h.cloud.context.internalClientConfig).send(
        new DescribeInstancesCommand({ InstanceIds: instanceIds }),
      );
      expect(Reservations.flatMap((r) => r.Instances ?? []).every((i) => i.State?.Name === "running")).toBe(
        true,
      );
    },
    LONG ? 900_000 : 80_000,
  );

  it(
    "hostile image and refresh events start nothing",
    async () => {
      const onImage = createImageEventHandler(h.deps, { logger: quietLogger() });
      const onRefresh = createOnRefreshEventHandler(h.deps, { logger: quietLogger() });
      // Images with no Phoenix tags (the fleet's own are tagged with their family: an available
      // event about one of those is a real rollout trigger, which the deployed rollout machine
      // would start; with no such machine, as before the deployment, that went unnoticed).
      const ec2 = new EC2Client(h.cloud.context.internalClientConfig);
      const untagged: string[] = [];
      for (const name of ["fuzz-untagged-1", "fuzz-untagged-2"]) {
        const { ImageId } = await ec2.send(
          new RegisterImageCommand({ Name: name, RootDeviceName: "/dev/xvda", Architecture: "x86_64" }),
        );
        untagged.push(ImageId!);
      }
      const groups = h.fleet.groups.map((g) => g.name);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            imageEvent(untagged).map((e) => ["image", e] as const),
            refreshEvent(groups).map((e) => ["refresh", e] as const),
          ),
          async ([kind, event]) => {
            const mark = h.tap.mark();
            try {
              if (kind === "image") await onImage(event, lambdaContext("on-image"));
              else await onRefresh(event, lambdaContext("on-refresh-event"));
            } catch (error) {
              expect(isCleanError(error), String((error as Error)?.stack ?? error)).toBe(true);
            }
            const allowed = new Set(kind === "image" ? ["sns:Publish"] : []);
            expect(forbiddenCalls(h.tap.since(mark), allowed)).toEqual([]);
          },
        ),
        { numRuns: LONG ? 600 : 60 },
      );
    },
    LONG ? 900_000 : 80_000,
  );
});
