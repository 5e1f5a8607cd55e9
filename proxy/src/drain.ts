/**
 * The drain: a one-way state machine serving → deregistering → settling → closing → releasing → done
 * (docs/design.md "The termination sequence"). One `transition()` logs and exports every move; `drain()` is idempotent
 * and hands the same promise to every trigger. Every phase gives up at the deadline: nothing waits unbounded.
 */
import type {Cluster, DeregistrationOutcome, PodState} from './cluster.js';
import {isTerminating} from './cluster.js';
import type {Config} from './config.js';
import {closingReserveMs, drainBudget, type DeadlineSource} from './deadline.js';
import type {Logger} from './log.js';
import type {FallbackReason, Metrics, Trigger} from './metrics.js';
import {PHASES, type Phase} from './phase.js';
import type {Release} from './release.js';
import {sleep} from './wait.js';

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

/** Upper bound on waiting for the credentials before the trigger's pod lookup (client-node's import: 1-3 s). */
export const CLUSTER_LOAD_WAIT_MS = 10_000;

export interface DrainDeps {
  config: Config;
  metrics: Metrics;
  log: Logger;
  target: DrainTarget;
  cluster: LoadingCluster | undefined;
  release: Release;
  /** Monotonic ms. */
  now: () => number;
  /** Wall clock ms, for /status timestamps. */
  wallNow?: () => number;
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
  const {config, metrics, log, target, cluster, now} = deps;
  const wallNow = deps.wallNow ?? Date.now;
  let phase: Phase = 'serving';
  let phaseStartedAt = now();
  let phaseStartedWall = wallNow();
  const phasesMs: Partial<Record<Phase, number>> = {};
  let running: Promise<DrainSummary> | undefined;
  let trigger: Trigger | undefined;
  let deadlineAtWall: number | undefined;
  let deadlineSource: DeadlineSource | undefined;
  let deletionConfirmed = false;
  // Until the pod lookup answers we do not know whether readiness must drop; keeping it avoids a 503 blip that
  // would make kubelet mark a deleting pod unready and break kube-proxy's terminating fallback.
  let readinessPending = false;
  let podTerminating: boolean | undefined;
  let deregistration: DeregistrationOutcome['kind'] | undefined;
  let fallbackReason: FallbackReason | undefined;
  let releaseResolve!: () => void;
  const releasedPromise = new Promise<void>((resolve) => (releaseResolve = resolve));
  let finishResolve!: (s: DrainSummary) => void;
  let finishReject!: (err: unknown) => void;
  const finishedPromise = new Promise<DrainSummary>((resolve, reject) => {
    finishResolve = resolve;
    finishReject = reject;
  });
  finishedPromise.catch(() => undefined); // observed by whoever calls finished()

  const transition = (to: Phase, ctx: Record<string, unknown> = {}): void => {
    if (PHASES.indexOf(to) <= PHASES.indexOf(phase)) throw new Error(`drain: illegal transition ${phase} -> ${to}`);
    const t = now();
    const tookMs = Math.round(t - phaseStartedAt);
    if (phase !== 'serving') {
      phasesMs[phase] = tookMs;
      metrics.phaseSeconds.set({phase}, tookMs / 1000);
    }
    log.info('phase', {from: phase, to, tookMs, ...ctx});
    phase = to;
    phaseStartedAt = t;
    phaseStartedWall = wallNow();
    metrics.setState(to);
  };

  const run = async (request: DrainRequest): Promise<DrainSummary> => {
    const t0 = Math.min(now(), request.triggeredAt ?? Infinity);
    trigger = request.trigger;
    transition('deregistering', {trigger: request.trigger});
    target.drainStarted?.();

    // 1. Deadline and whether the API confirms a deletion: one GET of the own pod (unless the caller had it).
    let pod = request.pod;
    if (!pod && cluster) {
      // A token drain takes a pod out of service on purpose: its readiness drops at once (docs/design.md), whatever
      // the lookup says.
      readinessPending = request.trigger !== 'token';
      // A trigger right after start-up may find the credentials still loading; that must not eat the lookup's bound
      // (a missed confirmation would drop readiness of a deleting pod at once and ignore its grace period).
      await cluster.whenLoaded?.(AbortSignal.timeout(CLUSTER_LOAD_WAIT_MS));
      const lookupTimeout = AbortSignal.timeout(deps.podLookupTimeoutMs ?? 2_000);
      const lookup = await cluster.getPod(lookupTimeout);
      if (lookup.ok) pod = lookup.pod;
      else log.warn('pod lookup failed', {reason: lookup.reason, error: lookup.error.message});
      readinessPending = false;
    }
    podTerminating = pod ? isTerminating(pod) : undefined;
    deletionConfirmed = pod?.deleting ?? false;
    const budget = drainBudget({
      drainTimeoutMs: config.drainTimeoutMs,
      exitMarginMs: config.exitMarginMs,
      gracePeriodSeconds: pod?.gracePeriodSeconds,
    });
    const deadline = t0 + budget.ms;
    deadlineSource = budget.source;
    deadlineAtWall = wallNow() + (deadline - now());
    const reserve = closingReserveMs(budget.ms);
    const deadlineController = new AbortController();
    const deadlineTimer = setTimeout(() => deadlineController.abort(), Math.max(0, deadline - now()));
    deadlineTimer.unref?.();
    log.info('drain started', {
      trigger: request.trigger,
      deadlineMs: budget.ms,
      deadlineSource: budget.source,
      deletionConfirmed,
      podTerminating,
    });

    // 2. deregistering: until no Service routes the pod (or the timed fallback when the API cannot tell).
    // Leave the closing reserve untouched: deregistration gives up early enough for closing to fit.
    const deregAbort = new AbortController();
    const deregTimer = setTimeout(() => deregAbort.abort(), Math.max(0, deadline - reserve - now()));
    deregTimer.unref?.();
    let outcome: DeregistrationOutcome;
    if (cluster) {
      outcome = await cluster.awaitDeregistration({signal: deregAbort.signal, fallbackDelayMs: config.fallbackDelayMs});
    } else {
      log.warn('no pod identity: timed fallback', {fallbackDelayMs: config.fallbackDelayMs});
      metrics.fallbacks.inc({reason: 'no_identity'});
      await sleep(config.fallbackDelayMs, deregAbort.signal);
      outcome = deregAbort.signal.aborted ? {kind: 'aborted'} : {kind: 'fallback', reason: 'no_identity'};
    }
    clearTimeout(deregTimer);
    deregistration = outcome.kind;
    if (outcome.kind === 'fallback') {
      fallbackReason = outcome.reason;
      void cluster?.recordEvent({
        type: 'Warning',
        reason: 'LameduckFallback',
        message: `Kubernetes API could not tell whether the pod is still routed (${outcome.reason}); served for the fallback delay of ${config.fallbackDelayMs} ms`,
      });
    }
    const timeToDeregistrationMs = Math.round(now() - t0);
    metrics.deregistrationSeconds.set(timeToDeregistrationMs / 1000);

    // 3. settling: settle, then serve until no new (non-probe) request has arrived for `quiet`. Both shrink so that
    // closing keeps its reserve before the deadline.
    transition('settling', {deregistration: outcome.kind, ...(fallbackReason ? {fallbackReason} : {})});
    const settleUntil = Math.min(now() + config.settleMs, deadline - reserve);
    await sleep(settleUntil - now(), deadlineController.signal);
    for (;;) {
      const limit = deadline - reserve;
      const t = now();
      if (t >= limit) break;
      const quietFor = t - target.lastTrafficAt();
      if (quietFor >= config.quietMs) break;
      await sleep(Math.min(config.quietMs - quietFor, limit - t), deadlineController.signal);
    }

    // 4. closing: readiness drops, listener closes, idle sockets close, in-flight finishes — or is cut at the deadline.
    transition('closing', target.stats());
    const closed = target.close().then(() => 'closed' as const);
    const timedOut = new Promise<'deadline'>((resolve) => {
      if (deadlineController.signal.aborted) return resolve('deadline');
      deadlineController.signal.addEventListener('abort', () => resolve('deadline'), {once: true});
    });
    let cut = {requests: 0, upgrades: 0, connections: 0};
    if ((await Promise.race([closed, timedOut])) === 'deadline') {
      cut = target.destroy();
      log.warn('deadline reached: cut what remained', {...cut, deadlineMs: budget.ms});
    }
    clearTimeout(deadlineTimer);

    // 5. releasing: answer /prestop waiters (kubelet then signals the app) and run the configured app exit action.
    transition('releasing');
    releaseResolve();
    // The Event is sent alongside the release action, and both must fit in the exit margin: kubelet's SIGKILL
    // comes at the grace period, and a killed sidecar loses its summary line and Event.
    const recordBy = deadline + config.exitMarginMs - 500;
    const releasing = deps.release.run();

    // 6. done: the summary line and the Event are the durable record (the pod may never be scraped again).
    const releaseResult = await releasing;
    transition('done');
    const drainMs = Math.round(now() - t0);
    metrics.drainSeconds.set(drainMs / 1000);
    const finalStats = target.stats();
    const drainedRequests = finalStats.drained;
    const h2 = finalStats.h2 && (finalStats.h2.goaways > 0 || finalStats.h2.drained > 0 || finalStats.h2.cut > 0) ? {drained: finalStats.h2.drained, cut: finalStats.h2.cut, goaways: finalStats.h2.goaways} : undefined;
    const summary: DrainSummary = {
      trigger: request.trigger,
      deadlineMs: budget.ms,
      deadlineSource: budget.source,
      deregistration: outcome.kind,
      ...(fallbackReason ? {fallbackReason} : {}),
      podTerminating,
      deletionConfirmed,
      timeToDeregistrationMs,
      drainMs,
      phasesMs: {...phasesMs},
      drainedRequests,
      cut,
      ...(h2 ? {h2} : {}),
      release: releaseResult,
    };
    log.info('drain summary', {...summary});
    if (cluster) {
      const cutTotal = cut.requests + cut.upgrades + cut.connections;
      await Promise.race([
        cluster.recordEvent({
          type: 'Normal',
          reason: 'LameduckDrained',
          message:
            `Drained: ${drainedRequests} requests served after the trigger (${request.trigger}), ` +
            `deregistered after ${timeToDeregistrationMs} ms (${outcome.kind}), drain took ${drainMs} ms, ` +
            `${cutTotal} cut at the deadline` +
            (h2 ? `; HTTP/2: ${h2.drained} streams drained, ${h2.cut} cut, ${h2.goaways} GOAWAYs sent` : ''),
        }),
        sleep(Math.max(0, Math.min(2_000, recordBy - now()))),
      ]);
    }
    return summary;
  };

  return {
    state: () => phase,
    drain(request) {
      metrics.drainTriggers.inc({trigger: request.trigger});
      if (running) {
        log.info('drain already running', {trigger: request.trigger, state: phase});
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
      if (phase === 'serving') return true;
      if (phase === 'deregistering' || phase === 'settling') return readinessPending || deletionConfirmed;
      return false;
    },
    podTerminating: () => podTerminating,
    status() {
      return {
        state: phase,
        since: new Date(phaseStartedWall).toISOString(),
        ...(trigger ? {trigger} : {}),
        ...(deadlineAtWall !== undefined ? {deadline: new Date(deadlineAtWall).toISOString(), deadlineSource} : {}),
        deletionConfirmed,
        phasesMs: {...phasesMs, ...(phase !== 'serving' && phase !== 'done' ? {[phase]: Math.round(now() - phaseStartedAt)} : {})},
        ...(deregistration ? {deregistration} : {}),
        ...(fallbackReason ? {fallbackReason} : {}),
      };
    },
  };
}
