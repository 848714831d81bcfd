import { AsyncLocalStorage } from "node:async_hooks";
import { StateMachine } from "aws-local-stepfunctions";

/**
 * The machine's `TimeoutSeconds`, measured as Step Functions measures it: the time since the
 * execution started. Locally that time has two clocks. Waits (Wait states, Retry intervals) run
 * on the simulated clock, `speed` times faster than real time; everything else (a handler, its
 * AWS calls) runs on the real clock, as long as it takes. Neither clock alone is the execution's
 * age: dividing TimeoutSeconds by the speed counted work as if it too were `speed` times faster,
 * and a 200-group rollout that would finish in hours on AWS hit its 48-hour limit after 864 real
 * seconds of work. So the age counts each wait at its simulated length and all other time at its
 * real length, and the execution times out when that age passes TimeoutSeconds.
 *
 * Map iterations and Parallel branches run at once, so the age is the longest path through them,
 * not the sum of their waits (40 groups each waiting 30 s have waited 30 s, not 20 minutes). Each
 * line of control (the execution, a Map iteration, a Parallel branch) is a Strand with its own
 * age: it starts at its parent's age, or, for a Map iteration queued behind MaxConcurrency, at the
 * age of the iteration whose slot it takes (it could not have started earlier); the parent goes
 * on, once its branches have joined, from the oldest of them. The execution times out as soon as
 * any strand is older than TimeoutSeconds.
 *
 * The engine runs every nested machine (an iteration, a branch) through `StateMachine.run`; the
 * one hook here wraps it so that the nested run, and everything it awaits, sees its own strand
 * through AsyncLocalStorage. Outside an ExecutionTime (a test driving the engine directly) the
 * wrapper changes nothing.
 *
 * What this cannot see, and so counts at its real length: the Retry interval of a Map or
 * Parallel state (only a Task's retry shows here, as the gap between a failed attempt and the
 * next), the interval after a Task attempt the engine timed out (its handler never failed), and
 * the waits of a `states:startExecution.sync` child (the parent only polls it).
 */

type EngineRun = StateMachine["run"];
type EngineExecution = ReturnType<EngineRun>;

const strands = new AsyncLocalStorage<Strand>();
const engineRun: EngineRun = StateMachine.prototype.run;

StateMachine.prototype.run = function runInStrand(
  this: StateMachine,
  ...args: Parameters<EngineRun>
): EngineExecution {
  const parent = strands.getStore();
  if (!parent) return engineRun.apply(this, args);
  // All iterations of one Map state share their iterator machine: it identifies the fork.
  const child = parent.fork(this);
  const execution = strands.run(child, () => engineRun.apply(this, args));
  execution.result.then(
    () => child.end(),
    () => child.end(),
  );
  return execution;
};

// setTimeout's limit (~24.8 days): a later deadline is re-armed when this one fires.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One execution's age, and its timeout. */
export class ExecutionTime {
  readonly speed: number;
  /** Real ms (performance.now) when the execution started. */
  readonly realStart: number;
  private readonly limitMs: number;
  /** The execution's own line of control (its top-level states). */
  readonly root: Strand;
  private readonly live = new Set<Strand>();
  /** Age of the oldest strand that has ended. */
  private endedAge = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private finished = false;

  /**
   * @param timeoutSeconds the machine's TimeoutSeconds (simulated seconds); none: no timeout.
   * @param onTimeout called once, when the execution's age passes it.
   */
  constructor(
    speed: number,
    timeoutSeconds: number | undefined,
    private readonly onTimeout: () => void,
  ) {
    this.speed = speed;
    this.realStart = performance.now();
    this.limitMs = timeoutSeconds === undefined ? Number.POSITIVE_INFINITY : timeoutSeconds * 1000;
    this.root = new Strand(this, undefined, 0);
    this.live.add(this.root);
    this.schedule();
  }

  /** Runs the execution's engine with the execution as its root strand. */
  start(engine: StateMachine, ...args: Parameters<EngineRun>): EngineExecution {
    return strands.run(this.root, () => engineRun.apply(engine, args));
  }

  /** The strand of whatever calls this (a task handler), if it runs inside an execution. */
  static current(): Strand | undefined {
    const strand = strands.getStore();
    return strand && !strand.time.finished ? strand : undefined;
  }

  /** The execution's age in simulated ms: its oldest strand's. */
  age(now = performance.now()): number {
    let oldest = this.endedAge;
    for (const strand of this.live) oldest = Math.max(oldest, strand.age(now));
    return oldest;
  }

  /** The execution has ended: no more timeout. */
  finish(): void {
    this.finished = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** @internal */ added(strand: Strand): void {
    this.live.add(strand);
  }

  /** @internal */ ended(strand: Strand, age: number): void {
    this.live.delete(strand);
    this.endedAge = Math.max(this.endedAge, age);
  }

  /**
   * Arms the timer for the earliest real moment some strand could pass the limit, assuming any
   * strand now waiting keeps ageing at the simulated rate. A strand that stops waiting ages more
   * slowly, so the timer may fire early: it then checks and re-arms.
   */
  /** @internal */ schedule(): void {
    if (this.finished || this.limitMs === Number.POSITIVE_INFINITY) return;
    const now = performance.now();
    let soonest = Number.POSITIVE_INFINITY;
    for (const strand of this.live) {
      soonest = Math.min(soonest, (this.limitMs - strand.age(now)) / strand.rate());
    }
    if (this.endedAge >= this.limitMs) soonest = 0;
    const at = now + Math.max(0, soonest);
    if (at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.check(), Math.min(MAX_TIMER_MS, Math.max(0, at - now)));
    // The timer must not keep the process alive on its own: the engine's work does that.
    this.timer.unref();
  }

  private check(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.finished) return;
    if (this.age() >= this.limitMs) {
      this.finish();
      this.onTimeout();
      return;
    }
    this.schedule();
  }
}

/**
 * One line of control in an execution. Its age is `real ms since the execution started + credit`,
 * plus, while it waits, the simulated time of the wait so far beyond its real time; `credit` holds
 * what its finished waits added beyond their real time.
 */
export class Strand {
  private credit: number;
  private wait: { since: number; simulatedMs: number } | undefined;
  /** A task attempt failed: until the strand's next step, the engine may be in a Retry interval. */
  private failure: { state: string; since: number } | undefined;
  private fork_: object | undefined;
  /** Ages of the children of the current fork that ended, in the order they did. */
  private released: number[] = [];
  private joinAge = Number.NEGATIVE_INFINITY;

  constructor(
    readonly time: ExecutionTime,
    private readonly parent: Strand | undefined,
    credit: number,
  ) {
    this.credit = credit;
  }

  age(now: number): number {
    let age = now - this.time.realStart + this.credit;
    if (this.wait) {
      const real = now - this.wait.since;
      age += Math.min(this.wait.simulatedMs, real * this.time.speed) - real;
    } else if (this.failure) {
      age += (now - this.failure.since) * (this.time.speed - 1);
    }
    return age;
  }

  /** How many simulated ms it ages per real ms, at most, from now. */
  rate(): number {
    return this.wait || this.failure ? this.time.speed : 1;
  }

  /** A Task's handler starts. If the same Task just failed, the gap was its Retry interval. */
  taskStarted(state: string): void {
    const now = performance.now();
    this.join(now);
    if (this.failure?.state === state) this.credit += (now - this.failure.since) * (this.time.speed - 1);
    this.failure = undefined;
    this.time.schedule();
  }

  /** A Task's handler failed: the engine retries it after a (simulated) interval, or moves on. */
  taskFailed(state: string): void {
    this.failure = { state, since: performance.now() };
    this.time.schedule();
  }

  /** A Wait of `simulatedMs` starts (on the simulated clock). */
  waitStarted(simulatedMs: number): void {
    const now = performance.now();
    this.join(now);
    this.failure = undefined;
    this.wait = { since: now, simulatedMs: Math.max(0, simulatedMs) };
    this.time.schedule();
  }

  /** The Wait ended: it took its simulated length, whatever the real timer's lateness. */
  waitEnded(): void {
    if (!this.wait) return;
    const now = performance.now();
    const real = now - this.wait.since;
    this.credit += Math.min(this.wait.simulatedMs, real * this.time.speed) - real;
    this.wait = undefined;
  }

  /** A nested machine starts: a Map iteration or a Parallel branch of `fork`. */
  fork(fork: object): Strand {
    const now = performance.now();
    // Forking is a step of its own: a failure before it was caught, not retried.
    this.failure = undefined;
    if (fork !== this.fork_) {
      this.join(now);
      this.fork_ = fork;
    }
    // A queued Map iteration starts where the iteration it replaces ended.
    const startAge = Math.max(this.age(now), this.released.shift() ?? Number.NEGATIVE_INFINITY);
    const child = new Strand(this.time, this, startAge - (now - this.time.realStart));
    this.time.added(child);
    this.time.schedule();
    return child;
  }

  end(): void {
    const age = this.age(performance.now());
    this.wait = undefined;
    this.failure = undefined;
    this.time.ended(this, age);
    this.parent?.childEnded(age);
  }

  private childEnded(age: number): void {
    this.released.push(age);
    this.joinAge = Math.max(this.joinAge, age);
  }

  /** The strand takes a step after its branches: it goes on from the oldest of them. */
  private join(now: number): void {
    if (this.joinAge === Number.NEGATIVE_INFINITY) return;
    this.credit = Math.max(this.credit, this.joinAge - (now - this.time.realStart));
    this.joinAge = Number.NEGATIVE_INFINITY;
    this.released = [];
    this.fork_ = undefined;
  }
}
