import type { Json } from "./asl.js";

/**
 * Turns an SDK output into the JSON a state receives: no `$metadata`, timestamps as ISO strings,
 * binary as base64 (JSON has no bytes; base64 is how AWS renders blobs in JSON).
 */
export function sdkOutputToJson(output: Record<string, unknown>): Json {
  const { $metadata: _metadata, ...rest } = output;
  const text = JSON.stringify(rest, (_key, value: unknown) =>
    value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value,
  );
  return JSON.parse(text ?? "null") as Json;
}

/** Any value as JSON data: what crosses a Lambda or service boundary is serialized on AWS too. */
export function asJson(value: unknown): Json {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as Json);
}

function renameKeysDeep(value: unknown, rename: (key: string) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => renameKeysDeep(item, rename));
  if (
    value !== null &&
    typeof value === "object" &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array)
  ) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [rename(k), renameKeysDeep(v, rename)]));
  }
  return value;
}

export const camelCaseKeys = (value: unknown) =>
  renameKeysDeep(value, (k) => k.charAt(0).toLowerCase() + k.slice(1));
export const pascalCaseKeys = (value: unknown) =>
  renameKeysDeep(value, (k) => k.charAt(0).toUpperCase() + k.slice(1));
