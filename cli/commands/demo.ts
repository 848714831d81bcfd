import { seedDemoFleet } from "../../local/seed.js";
import type { Command } from "../command.js";
import { EXIT } from "../io.js";
import { endpointHelp, parseLocalFlags, startCloudForCommand } from "./local.js";

export const demoCommand: Command = {
  name: "demo",
  summary: "Start the local cloud, seed a demo fleet and run Phoenix's story on it (what `npm start` runs)",
  usage: "phoenix demo [--port 4566] [--speed 1]",
  example: "phoenix demo --speed 5",
  async run(args, io) {
    const flags = parseLocalFlags(args);
    const { cloud, code } = await startCloudForCommand(flags, io);
    if (!cloud) return code;
    try {
      io.out("Seeding the demo fleet…");
      const fleet = await seedDemoFleet(cloud.context.internalClientConfig);
      for (const group of fleet.groups)
        io.out(`  group ${group.name.padEnd(14)} ${group.instanceIds.length} instances`);
      io.out(`  standalone     ${fleet.standaloneInstanceId}`);
      io.out(
        `  images         ${Object.entries(fleet.images)
          .map(([f, id]) => `${f}=${id}`)
          .join("  ")}`,
      );
      io.out("");
      io.out(endpointHelp(cloud.endpoint));
      io.out("Press Ctrl-C to stop.");
      await io.interrupted();
      return EXIT.ok;
    } finally {
      io.err("stopping the local cloud…");
      await cloud.stop();
    }
  },
};
