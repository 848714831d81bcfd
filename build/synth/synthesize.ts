/**
 * Runs the real SST program (sst.config.ts `run()` and everything in stacks/) offline, in SST's
 * own runtime (.sst/platform, from the offline `sst install` of scripts/sst-types.sh), under
 * Pulumi's unit-test mocks: no engine, no provider plugins, no network, no credentials. Every
 * resource the program declares is recorded with its inputs (build/synth/graph.ts).
 *
 * How, since the SST CLI normally does the first three (see docs/DEPLOY.md, "The graph"):
 * - the program is bundled as the CLI bundles it: an entry that runs `mod.run` through SST's
 *   `auto/run.ts`, SST's shim injected (`$config`, `$output`, … as globals), `$app`, `$cli` and
 *   `$dev` defined at build time (one SST module reads `$app` at import), `aws` and `sst` set on
 *   globalThis. Pulumi's packages, esbuild and `@pulumi/tls` stay external, and the bundle sits
 *   under .sst/platform, where Node finds them: the program's `@pulumi/pulumi` is then the very
 *   module the mocks were installed in;
 * - the JSON-RPC calls SST's components make to the CLI are answered by build/synth/sst-cli-stub.ts;
 * - the program runs inside a Pulumi root stack (runInPulumiStack), as under the engine.
 *
 * Pulumi's runtime is per process: synthesize once per process (the CLI, build/synth/main.ts, is
 * what other code runs as a child process).
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { DEFAULT_ACCOUNT, type MockAccount, recordingMocks } from "./aws-mocks.js";
import type { SynthGraph } from "./graph.js";
import { startCliStub } from "./sst-cli-stub.js";

export interface SynthOptions {
  root: string;
  stage: string;
  /** Environment the program sees (PHOENIX_POLICY / PHOENIX_POLICY_FILE / PHOENIX_FLEET_ROLE_ARNS). */
  env?: Record<string, string | undefined>;
  /** Bundle every function as Runtime.Build would (default true); false for a faster graph. */
  bundle?: boolean;
  account?: MockAccount;
}

export class SynthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SynthError";
  }
}

const AWS_PROVIDER_VERSION_FALLBACK = "7.20.0";

export async function synthesize(options: SynthOptions): Promise<SynthGraph> {
  const root = resolve(options.root);
  const platform = join(root, ".sst/platform");
  if (
    !existsSync(join(platform, "config.d.ts")) ||
    !existsSync(join(platform, "node_modules/@pulumi/pulumi"))
  ) {
    throw new SynthError(
      `${platform} is missing: run \`npm run sst:types\` (the offline \`sst install\`) first`,
    );
  }
  // Per process: two synths of one stage (a test worker and `npm run synth`) never share files.
  const run = `${options.stage}-${process.pid}`;
  const work = join(root, ".sst/synth", run);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  const app = await appOf(root, options.stage, platform);
  const cli = {
    command: "deploy",
    paths: { home: join(work, "home"), root, work, platform },
    env: {},
  };

  const outfile = join(platform, "synth", `${run}.mjs`);
  await build({
    stdin: {
      contents: [
        `import * as __aws from "@pulumi/aws";`,
        `import * as __sst from ${JSON.stringify(join(platform, "src/components/index.ts"))};`,
        "globalThis.aws = __aws;",
        "globalThis.sst = __sst;",
        `import { run } from ${JSON.stringify(join(platform, "src/auto/run.ts"))};`,
        `import mod from ${JSON.stringify(join(root, "sst.config.ts"))};`,
        "export default await run(mod.run);",
      ].join("\n"),
      resolveDir: root,
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    outfile,
    external: ["@pulumi/*", "@pulumiverse/*", "esbuild", "@aws-sdk/*", "archiver", "glob"],
    inject: [join(platform, "src/shim/run.js")],
    define: { $app: JSON.stringify(app), $cli: JSON.stringify(cli), $dev: "false" },
    banner: {
      js: [
        `import { createRequire as __synthRequire } from "node:module";`,
        // SST's components (and what they bundle) call require() from ES modules.
        "const require = __synthRequire(import.meta.url);",
      ].join("\n"),
    },
    logLevel: "silent",
  });

  const stub = await startCliStub({ root, work, bundle: options.bundle ?? true });
  process.env["SST_SERVER"] = stub.url;
  const requireFromPlatform = createRequire(join(platform, "package.json"));
  const pulumi = requireFromPlatform("@pulumi/pulumi") as {
    runtime: {
      setMocks(mocks: unknown, project: string, stack: string, preview: boolean): Promise<void>;
      disconnect(): Promise<void>;
    };
  };
  const { runInPulumiStack } = requireFromPlatform("@pulumi/pulumi/runtime/stack") as {
    runInPulumiStack(init: () => Promise<unknown>): Promise<unknown>;
  };
  const mocks = recordingMocks(options.account ?? DEFAULT_ACCOUNT);
  const failures: Error[] = [];
  let failed: () => void = () => {};
  const firstFailure = new Promise<void>((resolve) => (failed = resolve));
  // An error thrown inside an apply() surfaces as an unhandled rejection, not from the program,
  // and leaves Pulumi's queue of registrations waiting for ever: stop at the first one.
  const onRejection = (reason: unknown) => {
    failures.push(reason instanceof Error ? reason : new Error(String(reason)));
    failed();
  };
  process.on("unhandledRejection", onRejection);
  try {
    await pulumi.runtime.setMocks(mocks, String(app.name), options.stage, false);
    const cwd = process.cwd();
    try {
      await runInPulumiStack(async () => (await import(pathToFileURL(outfile).href)).default);
    } finally {
      process.chdir(cwd);
    }
    // Resources declared inside apply() callbacks register after the program returns.
    await Promise.race([pulumi.runtime.disconnect(), firstFailure]);
  } catch (error) {
    throw new SynthError(messageOf(error));
  } finally {
    process.off("unhandledRejection", onRejection);
    await stub.close();
    rmSync(outfile, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
  if (failures.length > 0) throw new SynthError([...new Set(failures.map(messageOf))].join("\n"));
  return {
    stage: options.stage,
    resources: mocks.resources.filter((resource) => resource.type !== "pulumi:pulumi:Stack"),
  };
}

/** What `app(input)` of sst.config.ts returns for the stage, completed as the CLI completes it. */
async function appOf(root: string, stage: string, platform: string): Promise<Record<string, unknown>> {
  const global = globalThis as { $config?: (config: unknown) => unknown };
  global.$config ??= (config) => config;
  const config = (await import(pathToFileURL(join(root, "sst.config.ts")).href)).default as {
    app(input: { stage: string }): Record<string, unknown> | Promise<Record<string, unknown>>;
  };
  const app = await config.app({ stage });
  const requireFromPlatform = createRequire(join(platform, "package.json"));
  let awsVersion = AWS_PROVIDER_VERSION_FALLBACK;
  try {
    awsVersion = (requireFromPlatform("@pulumi/aws/package.json") as { version: string }).version;
  } catch {
    // keep the fallback
  }
  return {
    removal: "retain",
    protect: false,
    ...app,
    stage,
    providers: { aws: { version: awsVersion }, ...((app["providers"] as object) ?? {}) },
  };
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const message = error.message;
    // Pulumi wraps program errors; the first line is the program's own.
    return message.replace(/^Running program '[^']*' failed with an unhandled exception:\s*/, "");
  }
  return String(error);
}
