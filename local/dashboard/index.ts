import { type Connection, connect } from "../../ops/connect.js";
import { resolveTarget } from "../../ops/target.js";
import { defaultPolicy, type Policy } from "../../src/policy/index.js";
import type { LocalCloudContext, LocalCloudPlugin } from "../core/context.js";
import { type LocalNotification, NOTIFICATIONS_PATH } from "../core/notifications.js";
import { dashboardPage } from "./page.js";
import { type DashboardState, dashboardState, ImageColours } from "./state.js";
import { renderSections, waitingSections } from "./view.js";

export const DASHBOARD_PATH = "/_phoenix/dashboard";
export const DASHBOARD_STATE_PATH = "/_phoenix/dashboard/state";
export const DASHBOARD_VIEW_PATH = "/_phoenix/dashboard/view";

export interface DashboardOptions {
  stage?: string;
  /** The policy Phoenix is deployed with: its member accounts are shown too. */
  policy?: Policy;
  /** How often the page polls (ms). */
  pollMs?: number;
}

/**
 * The local dashboard, served by the gateway: a page drawn with the current state, the sections
 * it polls (rendered here), and the JSON they are drawn from. It reads Phoenix the way the CLI
 * does (the same connection, through the gateway, by the stage's resource names), so what it
 * shows is what `phoenix status`, `phoenix holds` and `phoenix audit` would say.
 */
export function dashboardPlugin(options: DashboardOptions = {}): LocalCloudPlugin {
  return (context: LocalCloudContext) => {
    let connection: Promise<Connection> | undefined;
    const colours = new ImageColours();
    // Connected on first use: Phoenix is deployed after the gateway listens.
    const connected = () => {
      connection ??= connect(
        resolveTarget(
          { stage: options.stage ?? "local" },
          { AWS_ENDPOINT_URL: context.endpoint, AWS_REGION: context.region },
        ),
        options.policy ?? defaultPolicy(),
      ).catch((error: unknown) => {
        connection = undefined;
        throw error;
      });
      return connection;
    };
    const read = async (): Promise<DashboardState> =>
      dashboardState(await connected(), {
        workflows: 8,
        audit: 60,
        colours,
        now: () => new Date(context.clock.now()),
        speed: context.clock.speed,
        endpoint: context.endpoint,
        notifications: async () => {
          const response = await fetch(`${context.endpoint}${NOTIFICATIONS_PATH}`);
          const body = (await response.json()) as { notifications?: LocalNotification[] };
          return (body.notifications ?? []).filter((n) => /:phoenix-[^:]*notifications$/.test(n.topicArn));
        },
      });
    const sections = async () => {
      try {
        return { ok: true, sections: renderSections(await read()) };
      } catch (error) {
        return {
          ok: false,
          sections: waitingSections(`Phoenix cannot be read yet: ${(error as Error).message}`),
        };
      }
    };
    const pollMs = options.pollMs ?? 1000;
    return {
      name: "dashboard",
      control: {
        [DASHBOARD_PATH]: async () => ({
          status: 200,
          contentType: "text/html; charset=utf-8",
          body: dashboardPage(DASHBOARD_VIEW_PATH, pollMs, (await sections()).sections),
        }),
        [DASHBOARD_VIEW_PATH]: async () => {
          const view = await sections();
          return {
            status: view.ok ? 200 : 503,
            body: { at: new Date(context.clock.now()).toISOString(), ...view },
          };
        },
        [DASHBOARD_STATE_PATH]: async () => {
          try {
            return { status: 200, body: await read() };
          } catch (error) {
            return { status: 503, body: { error: (error as Error).message } };
          }
        },
      },
      health: () => ({ path: DASHBOARD_PATH }),
    };
  };
}
