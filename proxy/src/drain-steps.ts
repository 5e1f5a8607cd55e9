/**
 * The drain's steps (docs/design.md "Phases"), one function each, over an explicit state record and one deadline.
 * drain.ts runs them in order and moves the phase between them; each step reads the time and waits only through the
 * injected clock, and gives up at the deadline (docs/design.md "Deadline").
 */
import type {DeregistrationOutcome, PodState} from './cluster.js';
import {isTerminating} from './cluster.js';
import {clockSleep, clockTimeout, type Clock} from './clock.js';
import {closingReserveMs, drainBudget, type DeadlineSource} from './deadline.js';
import {recordKubeletTermination} from './kubelet-termination.js';
import type {DrainDeps, DrainRequest, DrainSummary} from './drain.js';
import type {FallbackReason, Trigger} from './metrics.js';
import type {Phase} from './phase.js';

/** Upper bound on waiting for the credentials before the trigger's pod lookup (client-node's import: 1-3 s). */
export const CLUSTER_LOAD_WAIT_MS = 10_000;
/** Time allowed for the pod GET at the trigger. */
export const POD_LOOKUP_TIMEOUT_MS = 2_000;
/** The Drained Event waits at most this long (and never past the exit margin). */
const DRAINED_EVENT_WAIT_MS = 2_000;

/** Everything /status, /readyz and the summary read; written only by the steps and `transition()`. */
export interface DrainState {
  phase: Phase;
  phaseStartedAt: number;
  phaseStartedWall: number;
  phasesMs: Partial<Record<Phase, number>>;
  trigger?: Trigger;
  deadlineAtWall?: number;
  deadlineSource?: DeadlineSource;
  deletionConfirmed: boolean;
  /**
   * Until the pod lookup answers we do not know whether readiness must drop; keeping it avoids a 503 blip that
   * would make kubelet mark a deleting pod unready and break kube-proxy's terminating fallback.
   */
  readinessPending: boolean;
  podTerminating: boolean | undefined;
  deregistration?: DeregistrationOutcome['kind'];
  fallbackReason?: FallbackReason;
  /** Settle stretched for a headless Service's DNS caches (LAMEDUCK_DNS_SETTLE, docs/kubernetes.md). */
  dnsSettleMs?: number;
  timeToDeregistrationMs?: number;
}

export function initialState(clock: Clock): DrainState {
  return {
    phase: 'serving',
    phaseStartedAt: clock.now(),
    phaseStartedWall: clock.wallNow(),
    phasesMs: {},
    deletionConfirmed: false,
    readinessPending: false,
    podTerminating: undefined,
  };
}

/** The one deadline of a drain: every step shrinks its waits into it. */
export interface DrainDeadline {
  /** When the trigger arrived (clock ms): the budget runs from it. */
  readonly t0: number;
  /** t0 + budget. */
  readonly at: number;
  readonly ms: number;
  readonly source: DeadlineSource;
  /** Time kept for `closing` + `releasing`: deregistration and settling give up this long before `at`. */
  readonly reserve: number;
  /** Fires at `at`. */
  readonly signal: AbortSignal;
  cancel(): void;
}

export interface StepContext {
  readonly deps: DrainDeps;
  readonly clock: Clock;
  readonly state: DrainState;
}

/** Step 1: one GET of the own pod (unless the caller had it): does the API confirm a deletion, which grace period? */
export async function lookUpPod({deps, clock, state}: StepContext, request: DrainRequest): Promise<PodState | undefined> {
  const {cluster, log} = deps;
  if (request.pod || !cluster) return request.pod;
  // A token drain takes a pod out of service on purpose: its readiness drops at once (docs/design.md), whatever
  // the lookup says.
  state.readinessPending = request.trigger !== 'token';
  // A trigger right after start-up may find the credentials still loading; that must not eat the lookup's bound
  // (a missed confirmation would drop readiness of a deleting pod at once and ignore its grace period).
  const loadWait = clockTimeout(clock, CLUSTER_LOAD_WAIT_MS);
  await cluster.whenLoaded?.(loadWait.signal);
  loadWait.cancel();
  const lookupTimeout = clockTimeout(clock, deps.podLookupTimeoutMs ?? POD_LOOKUP_TIMEOUT_MS);
  const lookup = await cluster.getPod(lookupTimeout.signal);
  lookupTimeout.cancel();
  state.readinessPending = false;
  if (lookup.ok) return lookup.pod;
  log.warn('pod lookup failed', {reason: lookup.reason, error: lookup.error.message});
  return undefined;
}

/** Step 2: the deadline, from the configuration or the pod's grace period, running from the trigger's arrival. */
export function startDeadline({deps, clock, state}: StepContext, t0: number, pod: PodState | undefined): DrainDeadline {
  const {config} = deps;
  state.podTerminating = pod ? isTerminating(pod) : undefined;
  state.deletionConfirmed = pod?.deleting ?? false;
  const budget = drainBudget({
    drainTimeoutMs: config.drainTimeoutMs,
    exitMarginMs: config.exitMarginMs,
    gracePeriodSeconds: pod?.gracePeriodSeconds,
  });
  const at = t0 + budget.ms;
  state.deadlineSource = budget.source;
  state.deadlineAtWall = clock.wallNow() + (at - clock.now());
  const timeout = clockTimeout(clock, at - clock.now());
  deps.log.info('drain started', {
    trigger: state.trigger,
    deadlineMs: budget.ms,
    deadlineSource: budget.source,
    deletionConfirmed: state.deletionConfirmed,
    podTerminating: state.podTerminating,
  });
  // Kubelet's own termination (or a signal the API does not explain yet): SIGKILL may come after 1 s, long before
  // `done`; write the record now.
  const unexplained = state.trigger === 'signal' && pod !== undefined && !state.podTerminating;
  if (pod?.kubeletTermination || unexplained) {
    recordKubeletTermination(
      {log: deps.log, cluster: deps.cluster},
      {cause: unexplained ? 'unexplained' : 'kubelet', trigger: state.trigger!, deadlineMs: budget.ms, stats: deps.target.stats()},
    );
  }
  return {t0, at, ms: budget.ms, source: budget.source, reserve: closingReserveMs(budget.ms), signal: timeout.signal, cancel: timeout.cancel};
}

/**
 * Step 3 (`deregistering`): until no Service routes the pod, or the timed fallback when the API cannot tell. Gives
 * up early enough to leave the closing reserve untouched.
 */
export async function deregister({deps, clock, state}: StepContext, d: DrainDeadline): Promise<DeregistrationOutcome> {
  const {cluster, config, log, metrics} = deps;
  const stop = clockTimeout(clock, d.at - d.reserve - clock.now());
  let outcome: DeregistrationOutcome;
  if (cluster) {
    outcome = await cluster.awaitDeregistration({signal: stop.signal, fallbackDelayMs: config.fallbackDelayMs});
  } else {
    log.warn('no pod identity: timed fallback', {fallbackDelayMs: config.fallbackDelayMs});
    metrics.fallbacks.inc({reason: 'no_identity'});
    await clockSleep(clock, config.fallbackDelayMs, stop.signal);
    outcome = stop.signal.aborted ? {kind: 'aborted'} : {kind: 'fallback', reason: 'no_identity'};
  }
  stop.cancel();
  state.deregistration = outcome.kind;
  // A headless Service had the pod: its clients may still dial the cached address (DNS settle).
  if (outcome.kind === 'deregistered' && outcome.dnsSettleMs !== undefined && outcome.dnsSettleMs > config.settleMs) {
    state.dnsSettleMs = outcome.dnsSettleMs;
  }
  if (outcome.kind === 'fallback') {
    state.fallbackReason = outcome.reason;
    void cluster?.recordEvent({
      type: 'Warning',
      reason: 'LameduckFallback',
      message: `Kubernetes API could not tell whether the pod is still routed (${outcome.reason}); served for the fallback delay of ${config.fallbackDelayMs} ms`,
    });
  }
  state.timeToDeregistrationMs = Math.round(clock.now() - d.t0);
  metrics.deregistrationSeconds.set(state.timeToDeregistrationMs / 1000);
  return outcome;
}

/**
 * Step 4 (`settling`): settle, then serve until no new (non-probe) request has arrived for `quiet`. Both shrink so
 * that closing keeps its reserve before the deadline.
 */
export async function settle({deps, clock, state}: StepContext, d: DrainDeadline): Promise<void> {
  const {config, target} = deps;
  const limit = d.at - d.reserve;
  const settleUntil = Math.min(clock.now() + (state.dnsSettleMs ?? config.settleMs), limit);
  await clockSleep(clock, settleUntil - clock.now(), d.signal);
  for (;;) {
    const t = clock.now();
    if (t >= limit) return;
    const quietFor = t - target.lastTrafficAt();
    if (quietFor >= config.quietMs) return;
    await clockSleep(clock, Math.min(config.quietMs - quietFor, limit - t), d.signal);
  }
}

/** Step 5 (`closing`): the listener closes, idle sockets close, in-flight work finishes — or is cut at the deadline. */
export async function closeTarget({deps}: StepContext, d: DrainDeadline): Promise<DrainSummary['cut']> {
  const {target, log} = deps;
  const closed = target.close().then(() => 'closed' as const);
  const timedOut = new Promise<'deadline'>((resolve) => {
    if (d.signal.aborted) return resolve('deadline');
    d.signal.addEventListener('abort', () => resolve('deadline'), {once: true});
  });
  if ((await Promise.race([closed, timedOut])) === 'closed') return {requests: 0, upgrades: 0, connections: 0};
  const cut = target.destroy();
  log.warn('deadline reached: cut what remained', {...cut, deadlineMs: d.ms});
  return cut;
}

/**
 * Step 7 (`done`): the summary line and the Event are the durable record (the pod may never be scraped again). The
 * Event must fit in the exit margin: kubelet's SIGKILL comes at the grace period, and a killed sidecar loses it.
 */
export async function recordDrained({deps, clock}: StepContext, d: DrainDeadline, summary: DrainSummary): Promise<void> {
  const {cluster, config, log, metrics} = deps;
  metrics.drainSeconds.set(summary.drainMs / 1000);
  log.info('drain summary', {...summary});
  if (!cluster) return;
  const recordBy = d.at + config.exitMarginMs - 500;
  const {cut} = summary;
  const cutTotal = cut.requests + cut.upgrades + cut.connections;
  await Promise.race([
    cluster.recordEvent({
      type: 'Normal',
      reason: 'LameduckDrained',
      message:
        `Drained: ${summary.drainedRequests} requests served after the trigger (${summary.trigger}), ` +
        `deregistered after ${summary.timeToDeregistrationMs} ms (${summary.deregistration}), drain took ${summary.drainMs} ms, ` +
        `${cutTotal} cut at the deadline` +
        (summary.h2 ? `; HTTP/2: ${summary.h2.drained} streams drained, ${summary.h2.cut} cut, ${summary.h2.goaways} GOAWAYs sent` : ''),
    }),
    clockSleep(clock, Math.max(0, Math.min(DRAINED_EVENT_WAIT_MS, recordBy - clock.now()))),
  ]);
}
