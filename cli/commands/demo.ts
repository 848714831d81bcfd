import { runStory } from "../../local/demo/story.js";
import { seedDemoFleet } from "../../local/seed.js";
import type { Command } from "../command.js";
import { EXIT } from "../io.js";
import { endpointHelp, parseLocalFlags, startCloudForCommand } from "./local.js";

/** Bake and warmup short enough for the story to be told in about a minute. */
const DEMO_POLICY_OVERRIDES = { waveBakeMinutes: 1, instanceWarmup: 15 };
export const DEMO_SPEED = 20;

export const demoCommand: Command = {
  name: "demo",
  usage: `phoenix demo [--port 4566] [--speed ${DEMO_SPEED}] [--no-story] [--exit] [--verbose]`,
  example: "phoenix demo --speed 40 --exit",
  async run(args, io) {
    const flags = parseLocalFlags(args, { speed: DEMO_SPEED }, ["no-story", "exit", "verbose"]);
    // The story prints what matters; the functions' JSON logs are there with --verbose.
    if (!flags.booleans.verbose) process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
    flags.policy.rollout.waveBakeMinutes = DEMO_POLICY_OVERRIDES.waveBakeMinutes;
    flags.policy.rollout.refresh.instanceWarmup ??= DEMO_POLICY_OVERRIDES.instanceWarmup;
    const { cloud, phoenix, code } = await startCloudForCommand(
      flags,
      io,
      { bootSeconds: 20 },
      flags.booleans.verbose,
    );
    if (!cloud || !phoenix) return code === EXIT.ok ? EXIT.failed : code;
    let outcome: number = EXIT.ok;
    try {
      io.out(`Local cloud up on ${cloud.endpoint} (clock ×${flags.speed}). Seeding the demo fleet…`);
      const fleet = await seedDemoFleet(cloud.context.internalClientConfig);
      await fetch(`${cloud.endpoint}/_phoenix/instances/booted`, { method: "POST", body: "{}" });
      for (const group of fleet.groups)
        io.out(`  group ${group.name.padEnd(14)} ${group.instanceIds.length} instances`);
      io.out(`  standalone     ${fleet.standaloneInstanceId}`);
      io.out(
        `  images         ${Object.entries(fleet.images)
          .map(([f, id]) => `${f}=${id}`)
          .join("  ")}`,
      );

      if (!flags.booleans["no-story"]) {
        const started = Date.now();
        const results = await runStory({ cloud, phoenix, fleet, say: (line) => io.out(line) });
        const failed = results.filter((r) => !r.ok);
        io.out(
          `\nThe story took ${Math.round((Date.now() - started) / 1000)} s: ${results.length - failed.length} of ${results.length} acts went as Phoenix intends.`,
        );
        for (const act of failed) io.err(`  act "${act.act}" did not go as intended: ${act.summary}`);
        if (failed.length > 0) outcome = EXIT.failed;
      }
      if (flags.booleans.exit) return outcome;
      io.out("");
      io.out(endpointHelp(cloud.endpoint));
      io.out("Press Ctrl-C to stop.");
      await io.interrupted();
      return outcome;
    } finally {
      io.err("stopping the local cloud…");
      await cloud.stop();
    }
  },
};
