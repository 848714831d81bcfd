import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { build, type Metafile } from "esbuild";
import { lambdaPlugins } from "../build/esbuild-plugins.mjs";
import { PHOENIX_FUNCTIONS } from "../src/catalog.js";
import { BENCH_DIR, type Figures, median, round } from "./lib/results.js";

const run = promisify(execFile);
const RUNS = 10;
const GOAL_MS = 100;

/**
 * Each function bundled as Lambda would get it (esbuild: node22, ESM, bundled, minified, the
 * stack's plugins from build/esbuild-plugins.mjs), then
 * imported in a fresh Node process RUNS times: the median time of `await import(bundle)`, which
 * is the part of a cold start the code controls (Node's own boot is measured beside it).
 */
export async function runColdStart(): Promise<Figures> {
  const outdir = mkdtempSync(path.join(tmpdir(), "phoenix-bench-bundles-"));
  try {
    let packagesOfOnFinding: Record<string, number> = {};
    const functions: Record<string, { bytes: number; medianLoadMs: number; medianProcessMs: number }> = {};
    for (const name of PHOENIX_FUNCTIONS) {
      const outfile = path.join(outdir, `${name}.mjs`);
      const built = await build({
        entryPoints: [path.join(BENCH_DIR, "..", "functions", `${name}.ts`)],
        outfile,
        platform: "node",
        target: "node22",
        format: "esm",
        bundle: true,
        minify: true,
        logLevel: "silent",
        metafile: true,
        mainFields: ["module", "main"],
        plugins: lambdaPlugins,
        // Bundled CommonJS dependencies still call require(): give the ESM bundle one.
        banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
      });
      if (name === "on-finding") packagesOfOnFinding = packageSizes(built.metafile);
      const loads: number[] = [];
      const processes: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const started = performance.now();
        const { stdout } = await run(
          process.execPath,
          [
            "--input-type=module",
            "-e",
            `const t=performance.now();await import(${JSON.stringify(outfile)});console.log(performance.now()-t)`,
          ],
          { env: { ...process.env, AWS_REGION: "us-east-1", POWERTOOLS_LOG_LEVEL: "SILENT" } },
        );
        processes.push(performance.now() - started);
        loads.push(Number(stdout.trim()));
      }
      functions[name] = {
        bytes: statSync(outfile).size,
        medianLoadMs: round(median(loads)),
        medianProcessMs: round(median(processes)),
      };
    }
    const rows = Object.values(functions);
    const maxLoadMs = Math.max(...rows.map((r) => r.medianLoadMs));
    return {
      runsPerFunction: RUNS,
      node: process.version,
      maxLoadMs,
      maxBytes: Math.max(...rows.map((r) => r.bytes)),
      totalBytes: rows.reduce((sum, r) => sum + r.bytes, 0),
      goalLoadMsMax: GOAL_MS,
      goalMet: maxLoadMs < GOAL_MS,
      functions,
      /** Where the bytes come from (on-finding's bundle, top 8 packages). */
      onFindingLargestPackagesKB: packagesOfOnFinding,
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function packageSizes(metafile: Metafile): Record<string, number> {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [file, input] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
      const key = match ? match[1]! : "phoenix (src, functions)";
      sizes.set(key, (sizes.get(key) ?? 0) + input.bytesInOutput);
    }
  }
  return Object.fromEntries(
    [...sizes.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([name, bytes]) => [name, Math.round(bytes / 1024)]),
  );
}
