import { DEFAULT_LOCAL_PORT, LOCAL_ACCOUNT_ID, LOCAL_REGION } from "../ops/local-defaults.js";
import { memberAccounts } from "./core/account-ids.js";
import { createMemberAccounts } from "./core/accounts.js";
import { createClock } from "./core/clock.js";
import {
  type BusEvent,
  busPublisher,
  type LocalCloudContext,
  type LocalCloudPart,
  type LocalCloudPlugin,
} from "./core/context.js";
import { type MotoOptions, type MotoServer, startMoto } from "./core/moto.js";
import { sharedSequence } from "./events/journal.js";
import { CallLog } from "./gateway/calllog.js";
import { FaultInjector, validateFaultPlan } from "./gateway/faults.js";
import { Gateway } from "./gateway/server.js";
import { IAM_PART, type IamPart, iamPlugin } from "./iam/index.js";
import { type BuiltinOptions, builtinPlugins } from "./plugins.js";

export interface LocalCloudOptions {
  host?: string;
  /** Gateway port; 4566 by default, 0 for any free port (tests). */
  port?: number;
  /** Clock multiplier: waits are this many times shorter. */
  speed?: number;
  region?: string;
  moto?: MotoOptions;
  /** Parts of the runtime to load; all built-in ones by default. */
  plugins?: LocalCloudPlugin[];
  /** Options of the built-in parts (policy, boot time), when `plugins` is not given. */
  builtin?: BuiltinOptions;
  log?: (message: string) => void;
  /**
   * IAM enforcement (local/iam): every call made with the credentials of a Phoenix role is
   * evaluated against that role's policies, as AWS would. On by default; "off" only for debugging
   * (`phoenix local --iam off`). Loaded whatever `plugins` says, unless it names its own "iam" part.
   */
  iam?: "on" | "off";
  /**
   * Member accounts (12-digit ids) beside the local cloud's own: moto keeps each one's state apart,
   * and each gets `OrganizationAccountAccessRole` trusting the own account (local/core/accounts.ts).
   * The accounts of `builtin.policy` are added to these.
   */
  accounts?: string[];
}

export interface LocalCloud {
  endpoint: string;
  port: number;
  context: LocalCloudContext;
  parts: LocalCloudPart[];
  moto: MotoServer;
  stop(): Promise<void>;
}

export { DEFAULT_LOCAL_PORT, LOCAL_ACCOUNT_ID } from "../ops/local-defaults.js";

export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const host = options.host ?? "127.0.0.1";
  const region = options.region ?? LOCAL_REGION;
  const log = options.log ?? (() => {});
  // Checked before anything starts: a bad id is the caller's mistake, named.
  const members = memberAccounts(LOCAL_ACCOUNT_ID, options.accounts ?? []);
  // The accounts Phoenix's policy lists are local accounts too: the deployment puts the member
  // stack in each (local/deployment), as its deployer would in AWS.
  for (const listed of options.builtin?.policy?.accounts ?? [])
    if (listed.accountId !== LOCAL_ACCOUNT_ID && !members.includes(listed.accountId))
      members.push(listed.accountId);
  const moto = await startMoto({ host, ...options.moto });
  const clock = createClock(options.speed ?? 1);
  const faults = new FaultInjector();
  const callLog = new CallLog();
  // Built right after the context they share; parts look each other up once they start.
  let parts: LocalCloudPart[] = [];
  const internalClientConfig = {
    endpoint: moto.url,
    region,
    credentials: { accessKeyId: "phoenix-local", secretAccessKey: "phoenix-local" },
    maxAttempts: 3,
  };
  const context: LocalCloudContext = {
    region,
    accountId: LOCAL_ACCOUNT_ID,
    memberAccounts: members,
    clock,
    motoUrl: moto.url,
    internalClientConfig,
    endpoint: "",
    callLog,
    faults,
    putEvents: async (events: BusEvent[]) => publish(events),
    part: <P extends LocalCloudPart>(name: string) => parts.find((p) => p.name === name) as P | undefined,
    sequence: sharedSequence(),
    log,
  };
  const publish = busPublisher(context);

  const plugins = options.plugins ?? builtinPlugins(options.builtin);
  parts = plugins.map((plugin) => plugin(context));
  if (!parts.some((p) => p.name === IAM_PART)) {
    // First: its STS answers and its authorizer come before any other part's.
    parts.unshift(iamPlugin({ enforce: options.iam !== "off" })(context));
  }
  // Asked on every call: found once.
  const iam = parts.find((p) => p.name === IAM_PART) as Partial<IamPart> | undefined;
  let ready = false;
  const gateway = new Gateway({
    host,
    port: options.port ?? DEFAULT_LOCAL_PORT,
    motoUrl: moto.url,
    region,
    accountId: LOCAL_ACCOUNT_ID,
    accountOf: (request) => iam?.accountOf?.(request),
    handlers: parts.flatMap((p) => p.handlers ?? []),
    observers: parts.flatMap((p) => p.observers ?? []),
    authorizers: parts.flatMap((p) => p.authorizers ?? []),
    faults,
    callLog,
    control: {
      "/_phoenix/health": async () => ({
        status: ready ? 200 : 503,
        body: {
          status: ready ? "ok" : "starting",
          endpoint: context.endpoint,
          region,
          accountId: LOCAL_ACCOUNT_ID,
          memberAccounts: members,
          speed: clock.speed,
          /** The simulated time, which the cloud and Phoenix on it keep (ISO). */
          now: new Date(clock.now()).toISOString(),
          moto: moto.url,
          parts: Object.fromEntries(parts.map((p) => [p.name, p.health?.() ?? {}])),
        },
      }),
      "/_phoenix/faults": async (req, body) => {
        if (req.method === "PUT" || req.method === "POST")
          faults.configure(validateFaultPlan(JSON.parse(body.toString("utf8") || "{}")));
        return { status: 200, body: { plan: faults.current(), injected: faults.injected } };
      },
      "/_phoenix/calls": async (req) => {
        const since = Number(new URL(req.url ?? "/", "http://x").searchParams.get("since") ?? 0);
        return { status: 200, body: { calls: callLog.since(since) } };
      },
      ...Object.assign({}, ...parts.map((p) => p.control ?? {})),
    },
  });

  let address: { port: number; url: string };
  try {
    address = await gateway.listen();
  } catch (error) {
    await moto.stop();
    throw error;
  }
  context.endpoint = address.url;
  const started: LocalCloudPart[] = [];
  const stop = async () => {
    ready = false;
    for (const part of [...started].reverse()) await part.stop?.().catch(() => {});
    await gateway.close();
    await moto.stop();
  };
  try {
    await createMemberAccounts(context, members);
    for (const part of parts) {
      await part.start?.();
      started.push(part);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  ready = true;
  log(`local cloud ready on ${address.url} (moto on ${moto.url}, speed ×${clock.speed})`);
  return { endpoint: address.url, port: address.port, context, parts, moto, stop };
}
