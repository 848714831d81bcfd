import type { BusEvent, LocalCloudPlugin } from "../core/context.js";
import { createEmitters, type EmitterOptions } from "./emitters.js";
import { Journal } from "./journal.js";

export type { EmitterOptions } from "./emitters.js";

export interface EventsPluginOptions extends EmitterOptions {
  /** How many recent emitted events `/_phoenix/events` keeps. */
  journalSize?: number;
}

export interface EmittedEntry {
  at: string;
  source: string;
  detailType: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** What a part that delivers events (the deployment) offers `/_phoenix/events`. */
interface DeliveryJournal {
  deliveries?: Journal<{ at: string }>;
}

/**
 * The events AWS services emit, produced by the local cloud (EC2 AMI and instance state changes;
 * the Auto Scaling ones come from the refresh engine), put on the local default bus. Delivery to
 * Phoenix is the deployment's (its rules and targets, local/deployment). Control route
 * `/_phoenix/events` lists recent emitted events and the deployment's deliveries
 * (`?since=<seq>&limit=<n>`: one numbering for both).
 */
export function eventsPlugin(options: EventsPluginOptions = {}): LocalCloudPlugin {
  return (context) => {
    const emitted = new Journal<EmittedEntry>(options.journalSize ?? 200, context.sequence);
    const emit = async (events: BusEvent[]) => {
      await context.putEvents(events);
      const at = new Date().toISOString();
      for (const e of events) {
        emitted.add({
          at,
          source: e.source,
          detailType: e.detailType,
          resources: e.resources ?? [],
          detail: e.detail,
        });
      }
    };
    const emitters = createEmitters(context, emit, options);
    return {
      name: "events",
      observers: emitters.observers,
      control: {
        "/_phoenix/events": async (req) => {
          const query = new URL(req.url ?? "/", "http://local").searchParams;
          const since = Number(query.get("since") ?? 0) || 0;
          const limit = Math.max(1, Math.min(1000, Number(query.get("limit") ?? 100) || 100));
          const deliveries = context.part<DeliveryJournal & import("../core/context.js").LocalCloudPart>(
            "deployment",
          )?.deliveries;
          return {
            status: 200,
            body: { deliveries: deliveries?.since(since, limit) ?? [], emitted: emitted.since(since, limit) },
          };
        },
      },
      start: async () => {
        await emitters.start();
      },
      stop: async () => {
        await emitters.stop();
      },
      health: () => ({ emitted: emitted.total }),
    };
  };
}
