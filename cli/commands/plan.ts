import { EXIT, UsageError } from "../../ops/io.js";
import { printJson } from "../../ops/output.js";
import { asPerson } from "../../src/member-access.js";
import { openConnection } from "../aws/session.js";
import * as flags from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { planEvent, readEventFile } from "../plan/event-plan.js";
import { formatImagePlan, type ImagePlan, planImage } from "../plan/image-plan.js";
import { formatInstancePlan, planInstance } from "../plan/instance-plan.js";

/**
 * Dry run. Every call it makes is a read (Describe*, Get*, Query, KMS Verify); the decisions are
 * the same pure functions the workflows use. The exit code is 0 whatever the verdict: the plan
 * was computed. A refused image or a held containment is in the output, not a failure.
 */
export const planCommand: Command = {
  name: "plan",
  usage: `phoenix plan (--image ami-… [--family f | --group name …] | --instance i-… | --event event.json) [--member-role <role>] [--json] ${flags.CONNECTION_USAGE}`,
  example: "phoenix plan --image ami-0123456789abcdef0 --local",
  async run(args, io) {
    const parsed = flags.parseCommandArgs(args, {
      ...flags.CONNECTION_FLAGS,
      ...flags.JSON_FLAG,
      image: { type: "string" },
      family: { type: "string" },
      group: { type: "string", multiple: true },
      instance: { type: "string" },
      event: { type: "string" },
      "member-role": { type: "string" },
    });
    const image = flags.stringFlag(parsed, "image");
    const instance = flags.stringFlag(parsed, "instance");
    const eventFile = flags.stringFlag(parsed, "event");
    const chosen = [image, instance, eventFile].filter((v) => v !== undefined).length;
    if (chosen !== 1) throw new UsageError("give exactly one of --image, --instance or --event");
    const family = flags.stringFlag(parsed, "family");
    const groups = flags.listFlag(parsed, "group");
    if (family !== undefined && groups.length > 0) throw new UsageError("give --family or --group, not both");
    if ((family !== undefined || groups.length > 0) && image === undefined)
      throw new UsageError("--family and --group go with --image");
    const imageId = image !== undefined ? flags.requireImageId(image) : undefined;
    const instanceId = instance !== undefined ? flags.requireInstanceId(instance) : undefined;
    const event = eventFile !== undefined ? readEventFile(eventFile) : undefined;
    const json = flags.booleanFlag(parsed, "json");
    const memberRole = flags.memberRoleFlag(parsed, io.env);
    const opened = await openConnection(parsed, io);
    // A person reads member accounts through a role they may assume there (--member-role).
    const connection = { ...opened, deps: asPerson(opened.deps, memberRole) };
    const bake = connection.deps.policy.rollout.waveBakeMinutes;

    if (imageId) {
      const result = await planImage(connection, imageId, { ...(family ? { family } : {}), groups });
      if (json) printJson(io, result);
      else io.out(formatImagePlan(result, bake).join("\n"));
    } else if (instanceId) {
      const result = await planInstance(connection, instanceId);
      if (json) printJson(io, result);
      else io.out(formatInstancePlan(result).join("\n"));
    } else {
      const result = await planEvent(connection, event);
      if (json) printJson(io, result);
      else if (result.event === "guardduty") {
        io.out(`GuardDuty finding ${result.findingId}: ${result.findingType}, severity ${result.severity}`);
        if (!result.delivered)
          io.out(
            `Verdict: not delivered: Phoenix would NOT contain, notify or record it.\n  ${result.verdict.replace(/^not delivered: /, "")}`,
          );
        else
          io.out(
            result.instance ? formatInstancePlan(result.instance).join("\n") : `Verdict: ${result.verdict}`,
          );
      } else if (result.event === "session") {
        if (result.instanceId) io.out(`Session on ${result.instanceId}: ${result.who} (${result.how})`);
        if (result.tainted) io.out("It would be marked phoenix:tainted.");
        io.out(`Verdict: ${result.verdict}`);
      } else {
        if (result.images.length === 0) io.out(`Image event: ${result.verdict}`);
        for (const plan of result.images as ImagePlan[]) io.out(formatImagePlan(plan, bake).join("\n"));
      }
    }
    return EXIT.ok;
  },
};
