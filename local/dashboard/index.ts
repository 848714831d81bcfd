import { type Connection, connect } from "../../cli/aws/connect.js";
import { resolveTarget } from "../../cli/aws/target.js";
import { defaultPolicy } from "../../src/policy/index.js";
import type { LocalCloudContext, LocalCloudPlugin } from "../context.js";
import { dashboardPage } from "./page.js";
import { dashboardState } from "./state.js";

export const DASHBOARD_PATH = "/_phoenix/dashboard";
export const DASHBOARD_STATE_PATH = "/_phoenix/dashboard/state";

export interface DashboardOptions {
  stage?: string;
  /** How often the page polls (ms). */
  pollMs?: number;
}

/**
 * The local dashboard, served by the gateway: a page and the JSON it polls. It reads Phoenix the
 * way the CLI does (the same connection, through the gateway, by the stage's resource names), so
 * what it shows is what `phoenix status` and `phoenix audit` would say.
 */
export function dashboardPlugin(options: DashboardOptions = {}): LocalCloudPlugin {
  return (context: LocalCloudContext) => {
    let connection: Promise<Connection> | undefined;
    // Connected on first use: Phoenix is deployed after the gateway listens.
    const connected = () => {
      connection ??= connect(
        resolveTarget(
          { stage: options.stage ?? "local" },
          { AWS_ENDPOINT_URL: context.endpoint, AWS_REGION: context.region },
        ),
        defaultPolicy(),
      ).catch((error: unknown) => {
        connection = undefined;
        throw error;
      });
      return connection;
    };
    return {
      name: "dashboard",
      control: {
        [DASHBOARD_PATH]: async () => ({
          status: 200,
          contentType: "text/html; charset=utf-8",
          body: dashboardPage(DASHBOARD_STATE_PATH, options.pollMs ?? 1000),
        }),
        [DASHBOARD_STATE_PATH]: async () => {
          try {
            return {
              status: 200,
              body: await dashboardState(await connected(), { workflows: 8, audit: 60 }),
            };
          } catch (error) {
            return { status: 503, body: { error: (error as Error).message } };
          }
        },
      },
      health: () => ({ path: DASHBOARD_PATH }),
    };
  };
}
