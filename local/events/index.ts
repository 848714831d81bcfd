import type { EventTargetName } from "../../src/events/targets.js";
import type { BusEvent, LocalCloudPlugin } from "../context.js";
import { type EventBusOptions, LocalEventBus } from "./bus.js";
import { createEmitters, type EmitterOptions } from "./emitters.js";
import { Journal, sharedSequence } from "./journal.js";
import { messageMoveHandler } from "./redrive.js";

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
 * deliveries and emitted events (`?since=<seq>&limit=<n>`); `POST /_phoenix/events/redrive`
 * with `{"target":"on-image"}` replays what waits in a target's dead-letter queue, as SQS's
 * `start-message-move-task` on the DLQ does (also served: see redrive.ts).
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
      handlers: [messageMoveHandler(bus)],
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
        "/_phoenix/events/redrive": async (req, body) => {
          if (req.method !== "POST") return { status: 405, body: { error: 'POST {"target": "<target>"}' } };
          let target: unknown;
          try {
            target = (JSON.parse(body.toString("utf8") || "{}") as { target?: unknown }).target;
          } catch {
            return { status: 400, body: { error: "the body is not JSON" } };
          }
          if (typeof target !== "string" || !bus.queues.has(target as EventTargetName)) {
            return {
              status: 400,
              body: { error: `target must be one of ${[...bus.queues.keys()].join(", ")}` },
            };
          }
          return { status: 200, body: { target, redriven: await bus.redrive(target as EventTargetName) } };
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
