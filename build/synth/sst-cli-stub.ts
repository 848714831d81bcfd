/**
 * What SST's Go CLI answers when its components call it over JSON-RPC (`$SST_SERVER/rpc`): the
 * two calls Phoenix's program makes. `Provider.Aws.Bootstrap` names SST's asset bucket in the
 * region (a placeholder: nothing is uploaded); `Runtime.Build` bundles a function with esbuild and
 * the options its `nodejs` block gives (the project's plugins included), as the CLI would, or,
 * with `bundle: false`, hands back an empty folder (the graph does not depend on the code).
 * Anything else is answered with the CLI's own "can't find" error, which SST reports by name.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Plugin } from "esbuild";

export interface CliStub {
  url: string;
  /** Functions built, by SST's function id. */
  built: Map<string, { handler: string; out: string }>;
  close(): Promise<void>;
}

interface BuildInput {
  functionID: string;
  handler: string;
  properties?: {
    format?: "esm" | "cjs";
    minify?: boolean;
    sourcemap?: boolean;
    plugins?: string;
    esbuild?: { mainFields?: string[] };
    architecture?: string;
  };
}

export async function startCliStub(options: {
  root: string;
  work: string;
  bundle: boolean;
}): Promise<CliStub> {
  const built = new Map<string, { handler: string; out: string }>();
  const build = async (input: BuildInput) => {
    // "functions/on-image.handler" → entry functions/on-image.ts, export handler.
    const dot = input.handler.lastIndexOf(".");
    const file = input.handler.slice(0, dot);
    const out = join(options.work, "artifacts", input.functionID);
    mkdirSync(out, { recursive: true });
    if (options.bundle) {
      const esbuild = await import("esbuild");
      const plugins = input.properties?.plugins
        ? ((await import(pathToFileURL(resolve(options.root, input.properties.plugins)).href))
            .default as Plugin[])
        : [];
      const result = await esbuild.build({
        entryPoints: [resolve(options.root, `${file}.ts`)],
        outfile: join(out, `${file}.mjs`),
        bundle: true,
        platform: "node",
        target: "node22",
        format: input.properties?.format ?? "esm",
        minify: input.properties?.minify ?? false,
        sourcemap: input.properties?.sourcemap ?? false,
        mainFields: input.properties?.esbuild?.mainFields ?? ["module", "main"],
        plugins,
        logLevel: "silent",
      });
      if (result.errors.length > 0)
        return { handler: input.handler, out, errors: result.errors.map((e) => e.text), sourcemaps: [] };
    } else {
      writeFileSync(join(out, "NOT-BUNDLED.txt"), `synth --no-bundle: ${input.handler} was not built\n`);
    }
    built.set(input.functionID, { handler: input.handler, out });
    return { handler: input.handler, out, errors: [], sourcemaps: [] };
  };

  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", async () => {
      let message: { id?: unknown; method?: string; params?: unknown[] } = {};
      try {
        message = JSON.parse(body) as typeof message;
        const params = (message.params?.[0] ?? {}) as Record<string, unknown>;
        let result: unknown;
        if (message.method === "Provider.Aws.Bootstrap") {
          const region = String(params["region"]);
          result = {
            asset: `sst-asset-synth-${region}`,
            assetEcrRegistryId: "000000000000",
            assetEcrUrl: `000000000000.dkr.ecr.${region}.amazonaws.com/sst-asset`,
            state: `sst-state-synth-${region}`,
            appsyncHttp: "",
            appsyncRealtime: "",
          };
        } else if (message.method === "Runtime.Build") {
          result = await build(params as unknown as BuildInput);
        } else {
          response.end(
            JSON.stringify({
              id: message.id,
              result: null,
              error: `rpc: can't find method ${message.method}`,
            }),
          );
          return;
        }
        response.end(JSON.stringify({ id: message.id, result, error: null }));
      } catch (error) {
        response.end(JSON.stringify({ id: message.id, result: null, error: (error as Error).message }));
      }
    });
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", () => ready()));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("synth: the CLI stub has no port");
  return {
    url: `http://127.0.0.1:${address.port}`,
    built,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
