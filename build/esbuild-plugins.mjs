// esbuild plugins for Phoenix's Lambda bundles, shared by the stack (sst.config.ts → stacks/,
// `nodejs.plugins`) and the cold-start benchmark (bench/cold-start.ts), so both build the same.
import { readFile } from "node:fs/promises";

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

export default [literalSchemaKeys];
