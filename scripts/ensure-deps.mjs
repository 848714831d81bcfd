// Runs before `npm start` and `npm test` (pre-scripts): on a fresh clone it installs the exact
// dependencies from package-lock.json, so each of the README's two commands works on its own.
// Plain JavaScript on purpose: it runs before anything (Node 22 included) is installed.
import { execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const marker = "node_modules/.package-lock.json";
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync("package-lock.json").mtimeMs;
if (stale) {
  process.stderr.write("phoenix: installing dependencies (npm ci)…\n");
  execSync("npm ci --no-audit --no-fund", { stdio: "inherit" });
  const [major] = process.versions.node.split(".").map(Number);
  if (major < 22)
    process.stderr.write(
      `phoenix: the "npm warn EBADENGINE" lines above are harmless: npm runs on Node ${process.version}, ` +
        "and the packages that want Node 22 run on the Node 22 just installed into node_modules " +
        "(every npm script and npx phoenix use it).\n",
    );
}
