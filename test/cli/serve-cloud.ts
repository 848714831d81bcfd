/**
 * A local cloud with Phoenix deployed and the dashboard loaded, for the CLI and dashboard tests:
 * what `phoenix local` serves.
 * Usage: node --import tsx test/cli/serve-cloud.ts <speed> <policy.json>
 */
import { startLocalCloud } from "../../local/cloud.js";
import { builtinPlugins } from "../../local/plugins.js";
import { loadPolicyFile } from "../../src/policy/index.js";

const [speed = "60", policyFile] = process.argv.slice(2);
const policy = policyFile ? loadPolicyFile(policyFile) : undefined;
const cloud = await startLocalCloud({
  port: 0,
  speed: Number(speed),
  plugins: builtinPlugins({ ...(policy ? { policy } : {}) }),
});
process.stdout.write(`Local cloud: ${cloud.endpoint}\n`);
const stop = () => {
  void cloud.stop().then(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
