import type { LocalCloudPlugin } from "./context.js";

/** Every part of the local runtime that `phoenix local` loads, in start order. */
export function builtinPlugins(): LocalCloudPlugin[] {
  return [];
}
