import { type Figures, printFigures, recordResult } from "./lib/results.js";

/**
 * `npx tsx bench/run.ts [name…]`: runs the named benchmarks (all by default), prints each
 * figure with the command that made it, and merges them into bench/results/latest.json.
 */
const BENCHMARKS: Record<string, () => Promise<Figures>> = {
  isolation: async () => (await import("./isolation.js")).runIsolation(),
  flood: async () => (await import("./flood.js")).runFlood(),
  coldStart: async () => (await import("./cold-start.js")).runColdStart(),
  cost: async () => (await import("./cost.js")).runCost(),
  scale: async () => (await import("./scale.js")).runScale({ growth: flags.has("--growth") }),
};

// `--growth`: the scale benchmark's growth table (10 to 200 groups; opt-in, it takes long).
const FLAGS = new Set(["--growth"]);
const flags = new Set(process.argv.slice(2).filter((arg) => arg.startsWith("--")));
const unknownFlags = [...flags].filter((flag) => !FLAGS.has(flag));
if (unknownFlags.length > 0) {
  console.error(`unknown option(s): ${unknownFlags.join(", ")}; known: ${[...FLAGS].join(", ")}`);
  process.exit(2);
}
const requested = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const unknown = requested.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; known: ${Object.keys(BENCHMARKS).join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const name of requested.length > 0 ? requested : Object.keys(BENCHMARKS)) {
  // The environment that shaped the run (sizes, speeds) is part of the command that made it.
  const settings = Object.entries(process.env)
    .filter(([key]) => key.startsWith("PHOENIX_"))
    .map(([key, value]) => `${key}=${value} `)
    .join("");
  const command = `${settings}npx tsx bench/run.ts ${name}${name === "scale" && flags.has("--growth") ? " --growth" : ""}`;
  const started = performance.now();
  try {
    const figures = await BENCHMARKS[name]!();
    figures.benchmarkRuntimeS = Number(((performance.now() - started) / 1000).toFixed(1));
    printFigures(name, figures, command);
    // A run without --growth keeps the last growth table (it names its own command).
    recordResult(name, figures, command, name === "scale" ? ["growth"] : []);
  } catch (error) {
    failed++;
    console.error(`\n== ${name} == FAILED: ${(error as Error).stack ?? error}`);
  }
}
process.exit(failed > 0 ? 1 : 0);
