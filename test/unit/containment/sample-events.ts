import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRootDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** Shared sample events live beside the repository, wherever CI clones it. */
export const sharedEventsDir = path.resolve(repoRootDir, "../shared/events");

export function sampleEventFiles(folder: string): string[] {
  return readdirSync(path.join(sharedEventsDir, folder))
    .filter((name) => name.endsWith(".json"))
    .sort();
}

export function loadSampleEvent(folder: string, file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(sharedEventsDir, folder, file), "utf8")) as Record<
    string,
    unknown
  >;
}

export const loadGuardDutyEvent = (file: string) => loadSampleEvent("guardduty", file);

export const REMOVE = Symbol("remove");

/**
 * A deep copy of a sample event with the field at `fieldPath` (dotted; numeric parts index
 * arrays) set to `value`, or removed when `value` is REMOVE.
 */
export function alteredGuardDutyEvent(
  file: string,
  fieldPath: string,
  value: unknown,
): Record<string, unknown> {
  const event = structuredClone(loadGuardDutyEvent(file));
  const keys = fieldPath.split(".");
  const last = keys.pop()!;
  let node: unknown = event;
  for (const key of keys) {
    node = (node as Record<string, unknown>)[key];
    if (typeof node !== "object" || node === null) throw new Error(`${fieldPath}: ${key} is not an object`);
  }
  const parent = node as Record<string, unknown>;
  if (value === REMOVE) delete parent[last];
  else parent[last] = value;
  return event;
}
