import { fuzzTriggers } from "../test/reliability/support/fuzz-properties.js";

/**
 * `npx tsx bench/fuzz.ts [cases per trigger]`: the long fuzz pass (default 100,000 cases per
 * trigger; on-finding cases are batches of 1–10 records). Clients never leave the process.
 */
const runs = Number(process.argv[2] ?? process.env.PHOENIX_FUZZ_RUNS ?? 100_000);
const seed = process.env.PHOENIX_FUZZ_SEED ? Number(process.env.PHOENIX_FUZZ_SEED) : Date.now() % 2 ** 31;
const started = performance.now();
console.log(`fuzzing every trigger with ${runs} cases each (seed ${seed})…`);
try {
  const reached = await fuzzTriggers(runs, seed);
  console.log(
    `no crash, no forbidden call: ${3 * runs} cases in ${((performance.now() - started) / 1000).toFixed(0)} s; AWS calls the handlers attempted (stubbed): ${JSON.stringify(reached)}`,
  );
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
