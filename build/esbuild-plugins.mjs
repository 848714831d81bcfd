// esbuild plugins for Phoenix's Lambda bundles, shared by the stack (sst.config.ts → stacks/,
// `nodejs.plugins`) and the cold-start benchmark (bench/cold-start.ts), so both build the same.
import { readFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * AWS SDK v3 clients describe every operation of their service in one generated module
 * (`dist-es/schemas/schemas_0.js`: 1.3 MB for EC2), and esbuild keeps all of it: the trait
 * objects are written with computed keys (`{ [_xN]: "ByoipCidr" }`), which esbuild must assume
 * can run code, so no schema counts as unused. Each of those keys is a module constant holding
 * a string; writing the string itself in its place changes nothing at run time and lets esbuild
 * drop the schemas of the operations a function never calls (EC2: 550 KB → 25 KB for one call).
 */
export const literalSchemaKeys = {
  name: "phoenix-literal-sdk-schema-keys",
  setup(build) {
    build.onLoad(
      { filter: /[\\/]@aws-sdk[\\/][^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/ },
      async (args) => ({
        contents: withLiteralKeys(await readFile(args.path, "utf8")),
        loader: "js",
      }),
    );
  },
};

/** `[_name]:` → `"value":` for every top-level `const _name = "value";` of the module. */
export function withLiteralKeys(source) {
  const strings = new Map();
  for (const [, name, literal] of source.matchAll(/^const (_[A-Za-z0-9_$]*) = ("(?:[^"\\\n]|\\.)*");$/gm)) {
    strings.set(name, literal);
  }
  return source.replace(/\[(_[A-Za-z0-9_$]*)\]:/g, (whole, name) => {
    const literal = strings.get(name);
    // A literal "__proto__" key would set the prototype where the computed one makes a property.
    return literal === undefined || literal === '"__proto__"' ? whole : `${literal}:`;
  });
}

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/**
 * Node builtins that ES modules import (`import { Agent } from "node:http"`) are loaded through
 * Node's ESM facade, which reads every export of the builtin: for `node:http` on Node 22 that
 * touches its lazy WebSocket exports and loads undici (~20 ms of a cold start) for nothing.
 * Bundled as CommonJS modules that take the builtin from `process.getBuiltinModule`, they skip it.
 */
export const builtinsAsCommonJs = {
  name: "phoenix-builtins-as-commonjs",
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) =>
      args.kind === "import-statement" && BUILTINS.has(args.path)
        ? { path: args.path.replace(/^node:/, ""), namespace: "phoenix-builtin" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "phoenix-builtin" }, (args) => ({
      // process.getBuiltinModule (Node ≥ 22.3) needs no `require` in scope, whatever banner the
      // bundler adds.
      contents: `module.exports = process.getBuiltinModule("node:${args.path}");`,
      loader: "js",
    }));
  },
};

/**
 * Lambda hands a function its role's credentials in environment variables, always; the SDK's
 * default chain would also bundle (and load) SSO, profile files, processes, web identity and
 * their STS/SSO clients, none of which can apply there (~100 KB). Lambda bundles get a chain of
 * one: the environment (build/lambda-credentials.mjs).
 */
export const lambdaCredentials = {
  name: "phoenix-lambda-credentials",
  setup(build) {
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({
      path: fileURLToPath(new URL("./lambda-credentials.mjs", import.meta.url)),
    }));
  },
};

/** What every Lambda bundle is built with (the stack's `nodejs.plugins`, and the benchmark). */
export const lambdaPlugins = [literalSchemaKeys, builtinsAsCommonJs, lambdaCredentials];

export default lambdaPlugins;
