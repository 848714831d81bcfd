import { busPublisher, type LocalCloudContext, type LocalCloudPart } from "../core/context.js";
import { mayLaunch, unlaunchableImage } from "../core/launch-permission.js";
import { forwardToMoto } from "../gateway/forward.js";
import { type AwsRequest, queryList } from "../gateway/request.js";
import type { ControlRoute, ResponseObserver, ServiceHandler } from "../gateway/server.js";
import { alarmStates } from "./alarms.js";
import { SimulatedHealth } from "./health.js";
import { LaunchProfiles } from "./launch-profiles.js";
import { LifecycleManager } from "./lifecycle.js";
import { lifecycleHandler } from "./lifecycle-wire.js";
import { MotoFleet } from "./moto-fleet.js";
import { EventOutbox } from "./outbox.js";
import { healthOverlayHandler } from "./overlay.js";
import { InstanceRefreshApi } from "./refresh-api.js";
import { RefreshEngine } from "./refresh-engine.js";
import { RefreshBook } from "./refresh-model.js";
import { WarmPoolRefresher } from "./refresh-warm.js";
import { InstanceTracker } from "./tracker.js";
import { WarmPools } from "./warm-pool.js";
import { WarmPoolFleet } from "./warm-pool-fleet.js";
import { warmPoolHandler } from "./warm-pool-wire.js";
import { instanceRefreshHandler } from "./wire.js";

export { UNHEALTHY_IMAGE_TAG } from "./health.js";

/**
 * Auto Scaling in the local cloud beyond moto: instance refresh (StartInstanceRefresh,
 * DescribeInstanceRefreshes, CancelInstanceRefresh, RollbackInstanceRefresh; mixed instances
 * policies, CloudWatch alarms), lifecycle hooks and their actions (lifecycle*.ts), simulated
 * instance boot and health, shown in DescribeAutoScalingGroups/DescribeAutoScalingInstances, the
 * launch template's instance profile on the instances a group launches, and warm pools
 * (PutWarmPool, DescribeWarmPool, DeleteWarmPool; warm-pool*.ts), which refreshes replace too.
 */

export interface AutoScalingPluginOptions {
  /** Simulated seconds from the first sight of an instance until it is booted (default 30). */
  bootSeconds?: number;
  /**
   * Simulated seconds a replacement has to become InService and Healthy before the refresh fails;
   * by default max(HealthCheckGracePeriod, 2 × bootSeconds).
   */
  healthTimeoutSeconds?: number;
}

export interface BootedSelector {
  instanceIds?: string[];
  autoScalingGroupNames?: string[];
}

export interface AutoScalingPart extends LocalCloudPart {
  /** Marks instances as booted already (seeds); all Auto Scaling instances when none are selected. */
  markBooted(selector?: BootedSelector): Promise<string[]>;
}

export const DEFAULT_BOOT_SECONDS = 30;
export const BOOTED_ROUTE = "/_phoenix/instances/booted";
export const HEALTH_ROUTE = "/_phoenix/instances/health";

// Auto Scaling calls after which moto may have launched instances: their boot starts now.
const LAUNCHING_ACTIONS = new Set([
  "CreateAutoScalingGroup",
  "UpdateAutoScalingGroup",
  "SetDesiredCapacity",
  "ExecutePolicy",
  "AttachInstances",
  "DetachInstances",
  "TerminateInstanceInAutoScalingGroup",
  "ExitStandby",
  "EnterStandby",
]);

// EC2 calls that change image tags (RegisterImage with tag specifications among them).
const IMAGE_TAGGING_ACTIONS = new Set(["CreateTags", "DeleteTags", "RegisterImage"]);

export function autoScalingPlugin(
  options: AutoScalingPluginOptions = {},
): (context: LocalCloudContext) => AutoScalingPart {
  const bootSeconds = options.bootSeconds ?? DEFAULT_BOOT_SECONDS;
  if (!Number.isFinite(bootSeconds) || bootSeconds < 0)
    throw new Error(`bootSeconds must be ≥ 0, got ${bootSeconds}`);
  const healthTimeout = options.healthTimeoutSeconds;
  if (healthTimeout !== undefined && !(healthTimeout > 0)) {
    throw new Error(`healthTimeoutSeconds must be > 0, got ${healthTimeout}`);
  }

  return (context) => {
    // AWS keeps Auto Scaling per account and region: so does the local model, one runtime (engine,
    // lifecycle hooks, warm pools, boot clock) per place a call acts in, made at its first call.
    const places = new Map<string, PlaceRuntime>();
    const at = (accountId: string, region: string): PlaceRuntime => {
      const key = `${accountId}/${region}`;
      let place = places.get(key);
      if (place === undefined) {
        const elsewhere = accountId !== context.accountId || region !== context.region;
        // Its groups may launch images of any local account (shared with it): each is read where it was made.
        const imageAccounts = [context.accountId, ...context.memberAccounts];
        place = placeRuntime(placeContext(context, accountId, region), {
          elsewhere,
          imageAccounts,
          bootSeconds,
          healthTimeout,
        });
        places.set(key, place);
      }
      return place;
    };
    const home = at(context.accountId, context.region);
    const placeOf = (request: AwsRequest): PlaceRuntime | undefined =>
      request.service === "autoscaling" || request.service === "ec2"
        ? at(request.account ?? context.accountId, request.region)
        : undefined;
    // Each handler of the part serves a call with that handler of the call's place.
    const handlers: ServiceHandler[] = home.handlers.map((handler, index) => ({
      name: handler.name,
      everyAccount: true,
      handles: (request) => placeOf(request)?.handlers[index]?.handles(request) ?? false,
      handle: (request) => placeOf(request)!.handlers[index]!.handle(request),
    }));
    // Image tags decide simulated health, and an image may be shared with other accounts.
    const noticeImageTags: ResponseObserver = Object.assign(
      (request: AwsRequest) => {
        if (request.service === "ec2" && IMAGE_TAGGING_ACTIONS.has(request.action))
          for (const place of places.values()) place.tracker.forgetImageTags();
      },
      { everyAccount: true },
    );

    const markBooted = async (selector: BootedSelector = {}): Promise<string[]> => {
      const booted: string[] = [];
      for (const place of places.values()) booted.push(...(await place.markBooted(selector)));
      return booted;
    };

    const bootedRoute: ControlRoute = async (req, body) => {
      if (req.method !== "POST" && req.method !== "PUT") {
        return {
          status: 405,
          body: { error: `use POST ${BOOTED_ROUTE} with {"instanceIds"?, "autoScalingGroupNames"?}` },
        };
      }
      const selector = parseSelector(body);
      return { status: 200, body: { booted: await markBooted(selector) } };
    };

    const healthRoute: ControlRoute = async () => ({
      status: 200,
      body: {
        bootSeconds,
        instances: [...places.values()].flatMap((place) =>
          place.health.all().map((i) => ({
            ...i,
            ...(place.elsewhere ? { accountId: place.accountId, region: place.region } : {}),
            firstSeenAt: new Date(i.firstSeenAt).toISOString(),
            bootedAt: new Date(i.bootedAt).toISOString(),
            booted: context.clock.now() >= i.bootedAt,
          })),
        ),
      },
    });

    const sum = (count: (place: PlaceRuntime) => number) =>
      [...places.values()].reduce((total, place) => total + count(place), 0);
    return {
      name: "autoscaling",
      handlers,
      observers: [noticeImageTags],
      control: { [BOOTED_ROUTE]: bootedRoute, [HEALTH_ROUTE]: healthRoute },
      stop: async () => {
        await Promise.all([...places.values()].map((place) => place.stop()));
      },
      health: () => ({
        bootSeconds,
        trackedInstances: sum((place) => place.health.all().length),
        activeRefreshes: sum((place) => place.engine.activeCount()),
        refreshes: sum((place) => place.book.all().length),
        lifecycleWaits: sum((place) => place.lifecycle.actions.all().filter((w) => !w.outcome).length),
        places: [...places.values()].map((place) => `${place.accountId}/${place.region}`),
      }),
      markBooted,
    };
  };
}

/** One account and region's Auto Scaling: what the local model keeps, and the calls it serves. */
interface PlaceRuntime {
  accountId: string;
  region: string;
  /** Not the local cloud's own account and region. */
  elsewhere: boolean;
  handlers: ServiceHandler[];
  health: SimulatedHealth;
  tracker: InstanceTracker;
  engine: RefreshEngine;
  book: RefreshBook;
  lifecycle: LifecycleManager;
  markBooted(selector: BootedSelector): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * The context as one place's runtime sees it: its account and region, its clients signed for that
 * region and sent to that account's moto state, its events on that account's bus in that region
 * (as AWS puts a member's Auto Scaling events on the member's bus, not Phoenix's).
 */
function placeContext(context: LocalCloudContext, accountId: string, region: string): LocalCloudContext {
  if (accountId === context.accountId && region === context.region) return context;
  const internalClientConfig = { ...context.internalClientConfig, region };
  const publish = busPublisher({ internalClientConfig, clock: context.clock }, accountId);
  // The rest (the clock, the endpoint once it is known, other parts) is the cloud's own, read live.
  return Object.create(context, {
    accountId: { value: accountId },
    region: { value: region },
    internalClientConfig: { value: internalClientConfig },
    putEvents: { value: publish },
  }) as LocalCloudContext;
}

function placeRuntime(
  context: LocalCloudContext,
  place: {
    elsewhere: boolean;
    imageAccounts: string[];
    bootSeconds: number;
    healthTimeout: number | undefined;
  },
): PlaceRuntime {
  const { elsewhere, bootSeconds, healthTimeout } = place;
  const fleet = new MotoFleet(context, place.imageAccounts);
  const outbox = new EventOutbox(
    (events) => context.putEvents(events),
    () => context.clock.now(),
    (message) => context.log(message),
  );
  const lifecycle = new LifecycleManager({ context, fleet, events: outbox });
  const health = new SimulatedHealth(context.clock, bootSeconds * 1000, lifecycle);
  const profiles = new LaunchProfiles(fleet, (message) => context.log(message));
  const tracker = new InstanceTracker(fleet, health, context.clock, profiles, lifecycle);
  lifecycle.resync = async (name) => (await tracker.sync([name]))[0];
  const book = new RefreshBook(() => context.clock.now());
  // A warm instance initializes as long as any instance boots, and shuts down as long.
  const pools = new WarmPools({
    context,
    fleet,
    ec2: new WarmPoolFleet(context),
    tracker,
    profiles,
    initMs: bootSeconds * 1000,
    terminateMs: bootSeconds * 1000,
  });
  const warm = new WarmPoolRefresher({ context, pools, resolve: (spec) => tracker.resolve(spec) });
  const alarms = (names: string[]) => alarmStates(context.motoUrl, context.accountId, context.region, names);
  const engine = new RefreshEngine({
    context,
    ...(place.imageAccounts.length > 1
      ? { launchRefusal: launchRefusal(context, fleet, place.imageAccounts) }
      : {}),
    events: outbox,
    book,
    fleet,
    tracker,
    health,
    lifecycle,
    alarms,
    warm,
    timing: {
      bootSeconds,
      ...(healthTimeout !== undefined ? { healthTimeoutSeconds: healthTimeout } : {}),
    },
  });
  const api = new InstanceRefreshApi(book, engine, fleet, alarms, warm);
  pools.shownDesired = (name) => engine.presentGroup(name)?.desiredCapacity;

  const markBooted = async (selector: BootedSelector): Promise<string[]> => {
    const groups = await tracker.sync(selector.autoScalingGroupNames ?? []);
    const ids = selector.instanceIds ?? groups.flatMap((g) => g.instances.map((i) => i.instanceId));
    // Ids of another place's instances are not tracked here: they are left to it.
    return health.markBooted(ids);
  };

  // After a call that may have launched instances, moto has them already: they are tracked
  // (boot clock, launch template version, instance profile) before the caller hears back, so
  // what it describes next is what AWS would show.
  const trackLaunches: ServiceHandler = {
    name: "autoscaling-launches",
    handles: (request) => launchedGroups(request, health) !== undefined,
    async handle(request) {
      const groups = launchedGroups(request, health) ?? [];
      if (request.action === "AttachInstances") {
        profiles.noteAttached(queryList(request.params, "InstanceIds"));
      }
      const response = await forwardToMoto(context.motoUrl, request);
      if (response.status < 300) {
        await tracker
          .sync(groups)
          .catch((error: Error) =>
            context.log(`autoscaling: could not track new instances: ${error.message}`),
          );
      }
      return response;
    },
  };

  const lifecycleAndLaunches = lifecycleHandler(lifecycle, fleet, trackLaunches, context);

  return {
    accountId: context.accountId,
    region: context.region,
    elsewhere,
    handlers: [
      instanceRefreshHandler(api),
      warmPoolHandler(pools, lifecycleAndLaunches),
      lifecycleAndLaunches,
      trackLaunches,
      healthOverlayHandler(context.motoUrl, {
        health,
        tracker,
        presentGroup: (name) => engine.presentGroup(name),
        held: (name) => lifecycle.heldInstances(name),
        warmPool: (name) => {
          const { config, instances } = pools.describe(name);
          return config ? { configuration: config, size: instances.length } : undefined;
        },
      }),
    ],
    health,
    tracker,
    engine,
    book,
    lifecycle,
    markBooted,
    stop: async () => {
      await engine.stop();
      await pools.stop();
      await lifecycle.stop();
      // Deliver what the refreshes emitted before moto goes away, but never hang a shutdown on it.
      await Promise.race([outbox.flush(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    },
  };
}

/**
 * With member accounts, the refresh engine's launches are checked as EC2 checks RunInstances: the
 * image the group launches must be its account's own, public, or shared with it. Without members
 * every image is the account's own (moto's public ones included), as before.
 */
function launchRefusal(
  context: LocalCloudContext,
  fleet: MotoFleet,
  accounts: readonly string[],
): (groupName: string) => Promise<string | undefined> {
  const ec2In = (account: string) => fleet.ec2In(account);
  return async (groupName) => {
    const [group] = await fleet.describeGroups([groupName]);
    const imageId = group?.launchTemplate ? await fleet.launchTemplateImage(group.launchTemplate) : undefined;
    if (imageId === undefined || !imageId.startsWith("ami-")) return undefined;
    if (await mayLaunch(accounts, ec2In, context.accountId, imageId)) return undefined;
    return `Launching a new EC2 instance failed. Status Reason: ${unlaunchableImage(imageId)} or is not shared with account ${context.accountId}. Launching EC2 instance failed.`;
  };
}

/** Asks a running local cloud (e.g. another process) to treat instances as booted. */
export async function markInstancesBooted(
  endpoint: string,
  selector: BootedSelector = {},
): Promise<string[]> {
  const response = await fetch(`${endpoint}${BOOTED_ROUTE}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(selector),
  });
  if (!response.ok) throw new Error(`${BOOTED_ROUTE} answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { booted: string[] }).booted;
}

/** The groups whose instances a served call may have changed, [] for all, undefined for none. */
function launchedGroups(request: AwsRequest, health: SimulatedHealth): string[] | undefined {
  if (request.service === "ec2" && request.action === "TerminateInstances") return [];
  if (request.service !== "autoscaling" || request.protocol !== "query") return undefined;
  if (!LAUNCHING_ACTIONS.has(request.action)) return undefined;
  const group = request.params.get("AutoScalingGroupName");
  if (group) return [group];
  const instanceId = request.params.get("InstanceId");
  const known = instanceId ? health.get(instanceId)?.groupName : undefined;
  return known ? [known] : [];
}

function parseSelector(body: Buffer): BootedSelector {
  const text = body.toString("utf8").trim();
  const input: unknown = text ? JSON.parse(text) : {};
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new Error('expected {"instanceIds"?: string[], "autoScalingGroupNames"?: string[]}');
  }
  const { instanceIds, autoScalingGroupNames } = input as Record<string, unknown>;
  const strings = (value: unknown, name: string): string[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
      throw new Error(`${name} must be an array of strings`);
    return value as string[];
  };
  const ids = strings(instanceIds, "instanceIds");
  const groups = strings(autoScalingGroupNames, "autoScalingGroupNames");
  return { ...(ids ? { instanceIds: ids } : {}), ...(groups ? { autoScalingGroupNames: groups } : {}) };
}
