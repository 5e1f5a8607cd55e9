/**
 * The state of one `awaitDeregistration` call (endpoint-watch.ts) in one explicit object, and the steps that read
 * and change it: judging the verdict, fetching Services, the failure policy (retry with backoff, or the timed
 * fallback) and the closing log line.
 */
import type {DeregistrationOptions, DeregistrationOutcome} from '../cluster.js';
import {sleep} from '../wait.js';
import {throttleDelay, type Backoff} from './backoff.js';
import type {EndpointWatchDeps} from './endpoint-watch.js';
import {KubeApiError} from './kube-api-error.js';
import {routingVerdict, type RoutingVerdict} from './routing.js';
import type {RoutingHold} from './routing-hold.js';
import type {ServiceSpecs} from './service-specs.js';
import type {SliceLister} from './slice-lister.js';
import type {WireEndpointSlice} from './wire.js';

/** The watch's settings (deps with defaults) and the latest verdict, shared by every drain it runs. */
export interface WatchSettings {
  readonly deps: EndpointWatchDeps;
  readonly now: () => number;
  readonly random: () => number;
  readonly startJitterMs: number;
  readonly relistIntervalMs: number;
  readonly requestTimeoutMs: number;
  readonly slicesPath: string;
  latest: RoutingVerdict | undefined;
}

/** One awaitDeregistration call: its state, passed to each step rather than closed over. */
export interface DeregistrationRun {
  readonly w: WatchSettings;
  readonly options: DeregistrationOptions;
  readonly t0: number;
  readonly fallbackAt: number;
  /** Aborted by the caller's signal, the Cluster's close, or the end of the run. */
  readonly signal: AbortSignal;
  readonly backoff: Backoff;
  readonly slices: Map<string, WireEndpointSlice>;
  readonly specs: ServiceSpecs;
  readonly lister: SliceLister;
  readonly hold: RoutingHold;
  recheckInMs: number | undefined;
  resourceVersion: string | undefined;
  listed: boolean;
  consecutiveFailures: number;
  /** Start of the current failure streak. Once a list succeeded, an outage is judged from here, not the trigger. */
  failingSince: number;
}

/** A failed list step: aborted, an outcome when it is time to fall back, else a retry after the delay. */
export async function retryOrGiveUp(r: DeregistrationRun, error: unknown): Promise<DeregistrationOutcome | 'retry'> {
  if (r.signal.aborted) return {kind: 'aborted'};
  return (await failed(r, error)) ?? 'retry';
}

export function finish(r: DeregistrationRun, outcome: DeregistrationOutcome): DeregistrationOutcome {
  const {metrics, log} = r.w.deps;
  const ms = Math.round(r.w.now() - r.t0);
  if (outcome.kind === 'deregistered') log.info('deregistered: no service routes the pod', {ms, ...(outcome.dnsSettleMs ? {dnsSettleMs: outcome.dnsSettleMs} : {})});
  else if (outcome.kind === 'fallback') {
    metrics.fallbacks.inc({reason: outcome.reason});
    log.warn('kubernetes api could not tell: timed fallback used', {reason: outcome.reason, ms, fallbackDelayMs: r.options.fallbackDelayMs});
  } else log.info('deregistration wait ended at the deadline', {ms, routedBy: r.w.latest?.routedBy});
  return outcome;
}

/** A failed list/get/watch: resolves with an outcome when it is time to fall back, else after the retry delay. */
export async function failed(r: DeregistrationRun, error: unknown): Promise<DeregistrationOutcome | undefined> {
  const {log} = r.w.deps;
  const {now, random} = r.w;
  const {options} = r;
  const err = error instanceof KubeApiError ? error : new KubeApiError(String(error), {cause: error});
  if (err.reason === 'forbidden' || err.reason === 'unauthorized') {
    const waitMs = Math.max(0, r.fallbackAt - now());
    log.warn('kubernetes api refused the endpoint watch: serving for the fallback delay', {
      reason: err.reason,
      error: err,
      fallbackDelayMs: options.fallbackDelayMs,
      waitMs: Math.round(waitMs),
    });
    await sleep(waitMs, r.signal);
    return r.signal.aborted ? {kind: 'aborted'} : {kind: 'fallback', reason: err.reason};
  }
  if (r.consecutiveFailures++ === 0) r.failingSince = now();
  // Before the first list, the fallback delay runs from the trigger. After it, the pod was seen routed: a short
  // outage (an API server restart) must not end the drain while kube-proxy still sends traffic, so the delay
  // runs from the start of the outage. Either way, not on a single blip.
  const giveUpAt = r.listed ? r.failingSince + options.fallbackDelayMs : r.fallbackAt;
  if (now() >= giveUpAt && r.consecutiveFailures >= 2) return {kind: 'fallback', reason: 'unreachable'};
  let delay = err.throttled ? throttleDelay(err.retryAfterMs ?? 1_000, random) : r.backoff.next();
  if (now() < giveUpAt) delay = Math.min(delay, giveUpAt - now());
  const ctx = {error: err, status: err.status, retryInMs: Math.round(delay), failures: r.consecutiveFailures};
  if (r.consecutiveFailures === 1) log.warn('kubernetes api request failed: retrying', ctx);
  else log.debug('kubernetes api request failed: retrying', ctx);
  await sleep(delay, r.signal);
  return undefined;
}

/** GETs the Services that have the pod in a slice: all of them after a list, only unknown ones otherwise. */
export function fetchServices(r: DeregistrationRun, all: boolean): Promise<void> {
  const {deps} = r.w;
  const names = routingVerdict({slices: r.slices.values(), services: r.specs.known, pod: deps.pod, ignoreServices: []}).services;
  return r.specs.fetch(names.filter((n) => !deps.ignoreServices.includes(n)), all, r.signal);
}

/** Recomputes the verdict from the whole current state; true when the hold is over. */
export function evaluate(r: DeregistrationRun): boolean {
  const {deps} = r.w;
  const verdict = routingVerdict({slices: r.slices.values(), services: r.specs.known, pod: deps.pod, ignoreServices: deps.ignoreServices});
  r.w.latest = verdict;
  const judgement = r.hold.judge(verdict);
  r.recheckInMs = judgement.recheckInMs;
  return judgement.done;
}

export function deregistered(r: DeregistrationRun): DeregistrationOutcome {
  const dnsSettleMs = r.hold.dnsSettleLeftMs();
  return dnsSettleMs > 0 ? {kind: 'deregistered', dnsSettleMs} : {kind: 'deregistered'};
}
