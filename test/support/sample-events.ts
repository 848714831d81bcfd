import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The shared sample events (`../shared/events/<folder>/<file>.json`) live beside the repository,
 * wherever it is checked out (CI checks out `../shared` beside it): found from the repository
 * root, never by an absolute path.
 */
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const SAMPLE_EVENTS_DIR = path.resolve(repoRoot, "../shared/events");

/** The folder of one kind of sample (`guardduty`, `ami`…); a clear error when it is missing. */
export function sampleEventsFolder(folder: string): string {
  const dir = path.join(SAMPLE_EVENTS_DIR, folder);
  if (!existsSync(dir)) {
    throw new Error(
      `shared sample events not found: expected the folder ${dir} (../shared/events/${folder}, ` +
        "a checkout of the shared repository beside this one)",
    );
  }
  return dir;
}

/** The path of one sample event file (it must exist). */
export function sampleEventPath(folder: string, file: string): string {
  const at = path.join(sampleEventsFolder(folder), file);
  if (!existsSync(at)) throw new Error(`shared sample event not found: expected ${at}`);
  return at;
}

/** The sample files of a folder (`*.json`), sorted. */
export function sampleEventFiles(folder: string): string[] {
  return readdirSync(sampleEventsFolder(folder))
    .filter((name) => name.endsWith(".json"))
    .sort();
}

/** One sample event, parsed (a fresh copy each call). */
export function sampleEvent(folder: string, file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(sampleEventPath(folder, file), "utf8")) as Record<string, unknown>;
}

/** Every sample event of a folder, parsed, by file name. */
export function sampleEvents(folder: string): Record<string, Record<string, unknown>> {
  return Object.fromEntries(sampleEventFiles(folder).map((file) => [file, sampleEvent(folder, file)]));
}

/** A GuardDuty sample finding, as EventBridge delivers it. */
export const loadGuardDutyEvent = (file: string) => sampleEvent("guardduty", file);

export const REMOVE = Symbol("remove");

/**
 * A deep copy of a GuardDuty sample with the field at `fieldPath` (dotted; numeric parts index
 * arrays) set to `value`, or removed when `value` is REMOVE.
 */
export function alteredGuardDutyEvent(
  file: string,
  fieldPath: string,
  value: unknown,
): Record<string, unknown> {
  const event = loadGuardDutyEvent(file);
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

/**
 * One of Phoenix's own sample events (test/fixtures/events/<folder>/<file>, built from the public
 * formats where no published sample exists; see test/fixtures/events/SOURCES.md), with the
 * placeholder instance id replaced by `instanceId` when given.
 */
export const PLACEHOLDER_INSTANCE_ID = "i-0123456789abcdef0";
export function ownSampleEvent(folder: string, file: string, instanceId?: string): Record<string, unknown> {
  const text = readFileSync(path.join(repoRoot, "test/fixtures/events", folder, file), "utf8");
  return JSON.parse(instanceId ? text.replaceAll(PLACEHOLDER_INSTANCE_ID, instanceId) : text) as Record<
    string,
    unknown
  >;
}
