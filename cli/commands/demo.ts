import { memberAdministrator } from "../../local/core/accounts.js";
import { type DemoGroupSpec, seedDemoFleet } from "../../local/core/seed.js";
import { runStory } from "../../local/demo/story.js";
import { EXIT } from "../../ops/io.js";
import { plural } from "../../ops/output.js";
import type { Command } from "../lib/command.js";
import { endpointHelp, parseLocalFlags, startCloudForCommand, stoppingText } from "./local.js";

/** Bake and warmup short enough for the story to be told in about a minute. */
const DEMO_POLICY_OVERRIDES = { waveBakeMinutes: 1, instanceWarmup: 15 };
export const DEMO_SPEED = 20;
/** A member account's demo fleet: one managed group, enough to contain an instance of. */
const MEMBER_DEMO_GROUPS: DemoGroupSpec[] = [
  { name: "member-web", family: "web", managed: true, desired: 2 },
];

export const demoCommand: Command = {
  name: "demo",
  usage: `phoenix demo [--port 4566] [--speed ${DEMO_SPEED}] [--accounts 222222222222,...] [--no-story] [--exit] [--verbose]`,
  example: "phoenix demo --speed 40 --exit",
  details: `What \`npm start\` runs (\`npm start -- --port 4640\` passes flags on). Ctrl-C stops the story
and the local cloud at any time; the local cloud keeps its state in memory, so it is discarded.
--accounts (as for \`phoenix local\`) adds member accounts, each with a small fleet of its own, and
prints the command that has Phoenix contain one of its instances there.`,
  async run(args, io) {
    const flags = parseLocalFlags(args, { speed: DEMO_SPEED }, ["no-story", "exit", "verbose"]);
    // The story prints what matters; the functions' JSON logs are there with --verbose.
    if (!flags.booleans.verbose) process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
    flags.policy.rollout.waveBakeMinutes = DEMO_POLICY_OVERRIDES.waveBakeMinutes;
    flags.policy.rollout.refresh.instanceWarmup ??= DEMO_POLICY_OVERRIDES.instanceWarmup;
    // Listening from the start: Ctrl-C while the cloud starts or the story runs says what stops.
    let interrupted = false;
    let up = false;
    const interrupt = io.interrupted().then(() => {
      interrupted = true;
      if (!up) io.err("\nCtrl-C: stopping the local cloud while it starts (there is no state to keep yet).");
      return "interrupted" as const;
    });
    const { cloud, phoenix, code } = await startCloudForCommand(
      flags,
      io,
      { bootSeconds: 20 },
      flags.booleans.verbose,
      "phoenix demo",
    );
    if (!cloud || !phoenix) return code === EXIT.ok ? EXIT.failed : code;
    up = true;
    let outcome: number = EXIT.ok;
    let act = "seeding the demo fleet";
    const stopStory = new AbortController();
    const stopped = () => {
      stopStory.abort();
      io.err(`\nCtrl-C: stopping the demo (it was ${act}). ${stoppingText(cloud.endpoint)}`);
      return EXIT.interrupted;
    };
    try {
      if (interrupted) return EXIT.interrupted;
      io.out(`Local cloud up on ${cloud.endpoint} (clock ×${flags.speed}). Seeding the demo fleet…`);
      const seeded = await Promise.race([seedDemoFleet(cloud.context.internalClientConfig), interrupt]);
      if (seeded === "interrupted") return stopped();
      const fleet = seeded;
      await fetch(`${cloud.endpoint}/_phoenix/instances/booted`, { method: "POST", body: "{}" });
      for (const group of fleet.groups)
        io.out(`  group ${group.name.padEnd(14)} ${plural(group.instanceIds.length, "instance")}`);
      io.out(`  standalone     ${fleet.standaloneInstanceId}`);
      io.out(
        `  images         ${Object.entries(fleet.images)
          .map(([f, id]) => `${f}=${id}`)
          .join("  ")}`,
      );
      // A member account (--accounts, or the policy's accounts) gets a small fleet of its own, in
      // its first region, seeded as its administrator would; Phoenix contains there through the
      // member stack's role.
      for (const member of flags.policy.accounts) {
        if (!cloud.context.memberAccounts.includes(member.accountId)) continue;
        const region = member.regions[0]!;
        const seededThere = await Promise.race([
          memberAdministrator(cloud.context, member.accountId, region).then((config) =>
            seedDemoFleet({ ...config, maxAttempts: 3 }, MEMBER_DEMO_GROUPS),
          ),
          interrupt,
        ]);
        if (seededThere === "interrupted") return stopped();
        const first = seededThere.groups[0]!;
        io.out(
          `  account ${member.accountId} (${region}): group ${first.name}, ${plural(first.instanceIds.length, "instance")}; contain one with\n` +
            `    npx phoenix local finding ${first.instanceIds[0]} --account ${member.accountId} --region ${region} --put --port ${cloud.port}`,
        );
      }

      if (!flags.booleans["no-story"]) {
        const started = Date.now();
        const story = runStory({
          cloud,
          phoenix,
          fleet,
          signal: stopStory.signal,
          say: (line) => {
            const title = /━━ (Act \d+: .*?) ━━/.exec(line)?.[1];
            if (title) act = `telling ${title}`;
            io.out(line);
          },
        });
        // Once stopped, the story's remaining calls fail against the stopped cloud: nobody waits for them.
        story.catch(() => {});
        const told = await Promise.race([story, interrupt]);
        if (told === "interrupted") return stopped();
        const failed = told.filter((r) => !r.ok);
        io.out(
          `\nThe story took ${Math.round((Date.now() - started) / 1000)} s: ${told.length - failed.length} of ${told.length} acts went as Phoenix intends.`,
        );
        for (const result of failed)
          io.err(`  act "${result.act}" did not go as intended: ${result.summary}`);
        if (failed.length > 0) outcome = EXIT.failed;
      }
      if (flags.booleans.exit) {
        io.err(stoppingText(cloud.endpoint));
        return outcome;
      }
      act = "waiting for you to try the CLI";
      io.out("");
      io.out(endpointHelp(cloud.endpoint));
      io.out("Press Ctrl-C to stop.");
      await interrupt;
      io.err(`\n${stoppingText(cloud.endpoint, "Ctrl-C: ")}`);
      return outcome;
    } finally {
      stopStory.abort();
      await cloud.stop();
    }
  },
};
