#!/usr/bin/env node
// The `phoenix` command. Phoenix is written in TypeScript and runs on Node.js 22; tsx loads the
// sources directly so that `npx phoenix` needs no build step.
const [major] = process.versions.node.split(".").map(Number);
if (major < 22) {
  process.stderr.write(
    `phoenix needs Node.js 22 or newer (this is ${process.version}). Run it through npm (npx phoenix …), ` +
      "which uses the Node 22 that `npm ci` installs into node_modules, or install Node 22.\n",
  );
  process.exit(3);
}
const { register } = await import("tsx/esm/api");
register();
const { main } = await import("../cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
