import type { BusEvent, LocalCloudPlugin } from "../context.js";
import { type EventBusOptions, LocalEventBus } from "./bus.js";
import { createEmitters, type EmitterOptions } from "./emitters.js";
import { Journal, sharedSequence } from "./journal.js";

export type { EventBusOptions, EventHandlers, InvocationOf } from "./bus.js";
export type { EmitterOptions } from "./emitters.js";

export interface EventsPluginOptions extends EventBusOptions, EmitterOptions {}

export interface EmittedEntry {
  at: string;
  source: string;
  detailType: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/**
 * Events in the local cloud: Phoenix's rules on moto's default bus delivering to the local
 * handlers, and the EC2 events AWS would emit. Control route `/_phoenix/events` lists recent
 * deliveries and emitted events (`?since=<seq>&limit=<n>`).
 */
export function eventsPlugin(options: EventsPluginOptions = {}): LocalCloudPlugin {
  return (context) => {
    // One numbering for deliveries and emitted events, so one `since` pages through both.
    const sequence = sharedSequence();
    const bus = new LocalEventBus(context, options, sequence);
    const emitted = new Journal<EmittedEntry>(options.journalSize ?? 200, sequence);
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
          return {
            status: 200,
            body: { deliveries: bus.deliveries.since(since, limit), emitted: emitted.since(since, limit) },
          };
        },
      },
      start: async () => {
        await bus.start();
        await emitters.start();
      },
      stop: async () => {
        await emitters.stop();
        await bus.stop();
      },
      health: () => ({ ...bus.health(), emitted: emitted.total }),
    };
  };
}
