/**
 * The drain: a one-way state machine serving → deregistering → settling → closing → releasing → done
 * (docs/design.md "The termination sequence"). One `transition()` logs and exports every move; `drain()` is idempotent
 * and hands the same promise to every trigger. The steps live in drain-steps.ts; every one gives up at the deadline:
 * nothing waits unbounded. Time comes from an injected Clock (the system clock by default).
 */
import type {Cluster, DeregistrationOutcome, PodState} from './cluster.js';
import {systemClock, type Clock} from './clock.js';
import type {Config} from './config.js';
import type {DeadlineSource} from './deadline.js';
import {
  closeTarget,
  deregister,
  initialState,
  lookUpPod,
  recordDrained,
  settle,
  startDeadline,
  type DrainDeadline,
  type StepContext,
} from './drain-steps.js';
import type {Logger} from './log.js';
import type {FallbackReason, Metrics, Trigger} from './metrics.js';
import {PHASES, type Phase} from './phase.js';
import type {Release} from './release.js';

export {CLUSTER_LOAD_WAIT_MS} from './drain-steps.js';

/** What the drain needs from the data plane (the forwarder implements it). */
export interface DrainTarget {
  lastTrafficAt(): number;
  /** At `deregistering`: connections that cannot carry `Connection: close` (HTTP/2) are told to go now (GOAWAY). */
  drainStarted?(): void;
  close(): Promise<void>;
  destroy(): {requests: number; upgrades: number; connections: number};
  stats(): {inFlight: number; upgraded: number; openConnections: number; drained: number; h2?: H2DrainStats};
}

/** The HTTP/2 part of a drain: streams served after the trigger, streams cut, graceful GOAWAYs sent. */
export interface H2DrainStats {
  drained: number;
  cut: number;
  goaways: number;
}

/**
 * A Cluster whose first use may wait for a one-time start-up step (kube/: reading the credentials, and importing
 * client-node when a kubeconfig needs its auth plugins). That wait is start-up cost, not API time, so callers let it
 * pass before they start a short time bound on an API call.
 */
export type LoadingCluster = Cluster & {whenLoaded?(signal: AbortSignal): Promise<void>};

export interface DrainDeps {
  config: Config;
  metrics: Metrics;
  log: Logger;
  target: DrainTarget;
  cluster: LoadingCluster | undefined;
  release: Release;
  /** Monotonic time, wall time and timers (default: the system clock). */
  clock?: Clock;
  /** Time allowed for the pod GET at the trigger. */
  podLookupTimeoutMs?: number;
}

export interface DrainRequest {
  trigger: Trigger;
  /** Pod state the caller already read (e.g. /prestop checked it); saves a GET. */
  pod?: PodState;
  /** now() when the trigger arrived, if earlier than the call (/prestop re-checks first): the deadline runs from it. */
  triggeredAt?: number;
}

export interface DrainSummary {
  trigger: Trigger;
  deadlineMs: number;
  deadlineSource: DeadlineSource;
  deregistration: DeregistrationOutcome['kind'];
  fallbackReason?: FallbackReason;
  /** Settle was stretched to this for a headless Service's DNS caches (LAMEDUCK_DNS_SETTLE). */
  dnsSettleMs?: number;
  podTerminating: boolean | undefined;
  deletionConfirmed: boolean;
  timeToDeregistrationMs: number;
  drainMs: number;
  phasesMs: Partial<Record<Phase, number>>;
  drainedRequests: number;
  cut: {requests: number; upgrades: number; connections: number};
  /** Present when HTTP/2 clients were served: streams drained and cut (included in the counts above), GOAWAYs sent. */
  h2?: H2DrainStats;
  release: {action: string; ok: boolean; detail?: string};
}

export interface DrainStatus {
  state: Phase;
  since: string;
  trigger?: Trigger;
  deadline?: string;
  deadlineSource?: DeadlineSource;
  deletionConfirmed: boolean;
  phasesMs: Partial<Record<Phase, number>>;
  deregistration?: DeregistrationOutcome['kind'];
  fallbackReason?: FallbackReason;
  dnsSettleMs?: number;
}

export interface Drain {
  state(): Phase;
  /** Starts the drain, or joins the running one; every caller gets the same promise. */
  drain(request: DrainRequest): Promise<DrainSummary>;
  /** Counts a trigger that arrived after the drain started (a no-op otherwise). */
  started(): boolean;
  /** Resolves with the summary when a drain, started by any trigger, is done; rejects if it failed. */
  finished(): Promise<DrainSummary>;
  /** Resolves when the app may go (at `releasing`): /prestop waiters await this. */
  released(): Promise<void>;
  /** Whether /readyz may still answer 200 in the current phase (docs/design.md: only for a confirmed deletion). */
  readinessAllowed(): boolean;
  /** Whether the pod was seen terminating at the trigger (undefined: unknown, e.g. standalone). */
  podTerminating(): boolean | undefined;
  status(): DrainStatus;
}

export function createDrain(deps: DrainDeps): Drain {
  const {metrics, log, target} = deps;
  const clock = deps.clock ?? systemClock;
  const state = initialState(clock);
  const ctx: StepContext = {deps, clock, state};
  let running: Promise<DrainSummary> | undefined;
  let releaseResolve!: () => void;
  const releasedPromise = new Promise<void>((resolve) => (releaseResolve = resolve));
  let finishResolve!: (s: DrainSummary) => void;
  let finishReject!: (err: unknown) => void;
  const finishedPromise = new Promise<DrainSummary>((resolve, reject) => {
    finishResolve = resolve;
    finishReject = reject;
  });
  finishedPromise.catch(() => undefined); // observed by whoever calls finished()

  const transition = (to: Phase, fields: Record<string, unknown> = {}): void => {
    const from = state.phase;
    if (PHASES.indexOf(to) <= PHASES.indexOf(from)) throw new Error(`drain: illegal transition ${from} -> ${to}`);
    const t = clock.now();
    const tookMs = Math.round(t - state.phaseStartedAt);
    if (from !== 'serving') {
      state.phasesMs[from] = tookMs;
      metrics.phaseSeconds.set({phase: from}, tookMs / 1000);
    }
    log.info('phase', {from, to, tookMs, ...fields});
    state.phase = to;
    state.phaseStartedAt = t;
    state.phaseStartedWall = clock.wallNow();
    metrics.setState(to);
  };

  const run = async (request: DrainRequest): Promise<DrainSummary> => {
    const t0 = Math.min(clock.now(), request.triggeredAt ?? Infinity);
    state.trigger = request.trigger;
    transition('deregistering', {trigger: request.trigger});
    target.drainStarted?.();
    const deadline = startDeadline(ctx, t0, await lookUpPod(ctx, request));
    try {
      const outcome = await deregister(ctx, deadline);
      transition('settling', {
        deregistration: outcome.kind,
        ...(state.fallbackReason ? {fallbackReason: state.fallbackReason} : {}),
        ...(state.dnsSettleMs ? {dnsSettleMs: state.dnsSettleMs} : {}),
      });
      await settle(ctx, deadline);
      transition('closing', target.stats());
      const cut = await closeTarget(ctx, deadline);
      deadline.cancel();
      // releasing: answer /prestop waiters (kubelet then signals the app) and run the configured app exit action.
      transition('releasing');
      releaseResolve();
      const releaseResult = await deps.release.run();
      transition('done');
      const summary = summarize(deadline, outcome, cut, releaseResult);
      await recordDrained(ctx, deadline, summary);
      return summary;
    } finally {
      deadline.cancel();
    }
  };

  const summarize = (
    d: DrainDeadline,
    outcome: DeregistrationOutcome,
    cut: DrainSummary['cut'],
    release: DrainSummary['release'],
  ): DrainSummary => {
    const stats = target.stats();
    const h2 = stats.h2 && (stats.h2.goaways > 0 || stats.h2.drained > 0 || stats.h2.cut > 0) ? {drained: stats.h2.drained, cut: stats.h2.cut, goaways: stats.h2.goaways} : undefined;
    return {
      trigger: state.trigger!,
      deadlineMs: d.ms,
      deadlineSource: d.source,
      deregistration: outcome.kind,
      ...(state.fallbackReason ? {fallbackReason: state.fallbackReason} : {}),
      ...(state.dnsSettleMs ? {dnsSettleMs: state.dnsSettleMs} : {}),
      podTerminating: state.podTerminating,
      deletionConfirmed: state.deletionConfirmed,
      timeToDeregistrationMs: state.timeToDeregistrationMs ?? 0,
      drainMs: Math.round(clock.now() - d.t0),
      phasesMs: {...state.phasesMs},
      drainedRequests: stats.drained,
      cut,
      ...(h2 ? {h2} : {}),
      release,
    };
  };

  return {
    state: () => state.phase,
    drain(request) {
      metrics.drainTriggers.inc({trigger: request.trigger});
      if (running) {
        log.info('drain already running', {trigger: request.trigger, state: state.phase});
        return running;
      }
      running = run(request);
      running.then(finishResolve, (err: unknown) => {
        log.error('drain failed', {error: err});
        // Never leave the app held: release the /prestop waiters even when the drain itself broke.
        releaseResolve();
        finishReject(err);
      });
      return running;
    },
    started: () => running !== undefined,
    finished: () => finishedPromise,
    released: () => releasedPromise,
    readinessAllowed() {
      if (state.phase === 'serving') return true;
      if (state.phase === 'deregistering' || state.phase === 'settling') return state.readinessPending || state.deletionConfirmed;
      return false;
    },
    podTerminating: () => state.podTerminating,
    status() {
      const {phase} = state;
      const current = phase !== 'serving' && phase !== 'done' ? {[phase]: Math.round(clock.now() - state.phaseStartedAt)} : {};
      return {
        state: phase,
        since: new Date(state.phaseStartedWall).toISOString(),
        ...(state.trigger ? {trigger: state.trigger} : {}),
        ...(state.deadlineAtWall !== undefined
          ? {deadline: new Date(state.deadlineAtWall).toISOString(), deadlineSource: state.deadlineSource}
          : {}),
        deletionConfirmed: state.deletionConfirmed,
        phasesMs: {...state.phasesMs, ...current},
        ...(state.deregistration ? {deregistration: state.deregistration} : {}),
        ...(state.fallbackReason ? {fallbackReason: state.fallbackReason} : {}),
        ...(state.dnsSettleMs ? {dnsSettleMs: state.dnsSettleMs} : {}),
      };
    },
  };
}
