/**
 * `awaitDeregistration`: list and watch every EndpointSlice of the namespace until no Service routes the pod any
 * more (kube/routing.ts), level-based: the verdict is recomputed from the whole current state after every event and
 * every re-list, never before the initial list has arrived (docs/design.md "Kubernetes API use").
 *
 * The watch is treated as fragile, as client-go's reflector does
 * (https://github.com/kubernetes/client-go/blob/master/tools/cache/reflector.go):
 * - 410 Expired (our resourceVersion was compacted) -> re-list at once;
 * - any other error or close -> re-list and re-watch after a capped, jittered exponential backoff;
 * - a periodic re-list as a safety net against a watch that stays open but delivers nothing.
 * Lists never go back in time (slice-lister.ts): a consistent first read after a 0-250 ms jitter (so the fifty pods
 * of a rollout do not arrive in the same millisecond), then re-lists not older than the newest state seen.
 * Verdicts are judged by routing-hold.ts (DNS settle for headless Services, the sole-endpoint grace). The state of
 * one call and the failure policy live in deregistration-run.ts.
 *
 * When the API cannot tell: 403 or 401 (after a token re-read) -> the timed fallback, resolved `fallbackDelayMs` after
 * the call; unreachable (network, timeouts, 5xx, persistent 429) -> keep retrying, and fall back once it is still
 * failing when `fallbackDelayMs` has passed. The caller's signal (the drain deadline) ends everything: `aborted`.
 */
import type {DeregistrationOptions, DeregistrationOutcome} from '../cluster.js';
import type {Logger} from '../log.js';
import type {FallbackReason, Metrics} from '../metrics.js';
import {sleep} from '../wait.js';
import {createBackoff} from './backoff.js';
import type {KubeClient} from './client.js';
import {deregistered, evaluate, failed, fetchServices, finish, retryOrGiveUp, type DeregistrationRun, type WatchSettings} from './deregistration-run.js';
import {KubeApiError} from './kube-api-error.js';
import type {RoutingPod, RoutingVerdict} from './routing.js';
import {createRoutingHold, DEFAULT_DNS_SETTLE_MS} from './routing-hold.js';
import {createServiceSpecs} from './service-specs.js';
import {createSliceLister, type SliceList} from './slice-lister.js';
import type {WireEndpointSlice, WireStatus} from './wire.js';

export interface EndpointWatchDeps {
  readonly client: KubeClient;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly namespace: string;
  readonly pod: RoutingPod;
  readonly ignoreServices: readonly string[];
  /** Least settle after a headless Service stopped publishing the pod (default 35 s, routing-hold.ts). */
  readonly dnsSettleMs?: number;
  /** How long a terminating-fallback hold lasts when the Service has no other endpoint at all (default 5 s). */
  readonly soleGraceMs?: number;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
  readonly random?: () => number;
  /** Upper bound of the random delay before the first list (default 250 ms). */
  readonly startJitterMs?: number;
  /** Periodic re-list while the watch is open (default 3 s). */
  readonly relistIntervalMs?: number;
  /** Backoff after errors (default 100 ms doubling to 2 s). */
  readonly backoff?: {readonly initialMs: number; readonly maxMs: number};
  /** Per request (default 5 s). */
  readonly requestTimeoutMs?: number;
  /** Fires when the Cluster is closed. */
  readonly closeSignal?: AbortSignal;
}

export interface EndpointWatch {
  awaitDeregistration(options: DeregistrationOptions): Promise<DeregistrationOutcome>;
  /** The latest verdict of the running or last drain (for /status and tests). */
  lastVerdict(): RoutingVerdict | undefined;
}

/** Below this a watch that closed without delivering anything counts as failing (backoff), not as a normal end. */
const SHORT_WATCH_MS = 1_000;

/** How one watch cycle ended. */
interface WatchCycle {
  /** Deregistered during the watch. */
  readonly outcome?: DeregistrationOutcome;
  readonly end: 'relist' | 'closed' | 'expired' | 'error';
  readonly delivered: boolean;
  readonly watchStarted: number;
  readonly watchError: unknown;
}

export function createEndpointWatch(deps: EndpointWatchDeps): EndpointWatch {
  const {metrics, log, namespace} = deps;
  const w: WatchSettings = {
    deps,
    now: deps.now ?? (() => performance.now()),
    random: deps.random ?? Math.random,
    startJitterMs: deps.startJitterMs ?? 250,
    relistIntervalMs: deps.relistIntervalMs ?? 3_000,
    requestTimeoutMs: deps.requestTimeoutMs ?? 5_000,
    slicesPath: `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices`,
    latest: undefined,
  };

  return {
    awaitDeregistration: async (options) => {
      try {
        return await awaitDeregistration(w, options);
      } catch (error) {
        // Never throws (Cluster contract): an unexpected bug must not strand the drain; it falls back instead.
        log.error('endpoint watch failed unexpectedly: timed fallback', {error});
        metrics.fallbacks.inc({reason: 'unreachable'});
        await sleep(options.fallbackDelayMs, options.signal);
        return options.signal.aborted ? {kind: 'aborted'} : {kind: 'fallback', reason: 'unreachable' as FallbackReason};
      }
    },
    lastVerdict: () => w.latest,
  };
}

async function awaitDeregistration(w: WatchSettings, options: DeregistrationOptions): Promise<DeregistrationOutcome> {
  const {deps, now, random} = w;
  const {client, log, namespace} = deps;
  const t0 = now();
  const run = new AbortController();
  const onAbort = (): void => run.abort();
  for (const s of [options.signal, deps.closeSignal]) {
    if (!s) continue;
    if (s.aborted) run.abort();
    else s.addEventListener('abort', onAbort, {once: true});
  }
  const r: DeregistrationRun = {
    w,
    options,
    t0,
    fallbackAt: t0 + options.fallbackDelayMs,
    signal: run.signal,
    backoff: createBackoff({initialMs: deps.backoff?.initialMs ?? 100, maxMs: deps.backoff?.maxMs ?? 2_000, random}),
    slices: new Map(),
    specs: createServiceSpecs({client, log, namespace, requestTimeoutMs: w.requestTimeoutMs}),
    lister: createSliceLister({client, log, path: w.slicesPath, requestTimeoutMs: w.requestTimeoutMs}),
    hold: createRoutingHold({log, now, startedAt: t0, dnsSettleMs: deps.dnsSettleMs ?? DEFAULT_DNS_SETTLE_MS, soleGraceMs: deps.soleGraceMs}),
    recheckInMs: undefined,
    resourceVersion: undefined,
    listed: false,
    consecutiveFailures: 0,
    failingSince: 0,
  };
  try {
    return await listAndWatch(r);
  } finally {
    run.abort();
    for (const s of [options.signal, deps.closeSignal]) s?.removeEventListener('abort', onAbort);
  }
}

/** The loop: list, then watch until deregistered, re-listing after each watch ends (or at once after a 410). */
async function listAndWatch(r: DeregistrationRun): Promise<DeregistrationOutcome> {
  if (r.signal.aborted) return finish(r, {kind: 'aborted'});
  await sleep(r.w.random() * r.w.startJitterMs, r.signal);
  let needList = true;
  let periodic = false;
  for (;;) {
    if (r.signal.aborted) return finish(r, {kind: 'aborted'});
    if (needList) {
      const step = await listStep(r, periodic);
      if (step === 'retry') continue;
      if (step !== 'watch') return finish(r, step);
      needList = false;
    }
    const cycle = await watchCycle(r);
    if (cycle.outcome) return finish(r, cycle.outcome);
    if (r.signal.aborted) return finish(r, {kind: 'aborted'});
    needList = true;
    periodic = cycle.end === 'relist';
    const outcome = await afterWatch(r, cycle);
    if (outcome) return finish(r, outcome);
  }
}

/** Lists the slices and GETs their Services: an outcome (deregistered, fallback, aborted), a retry, or on to the watch. */
async function listStep(r: DeregistrationRun, periodic: boolean): Promise<DeregistrationOutcome | 'retry' | 'watch'> {
  const {metrics, log} = r.w.deps;
  const {slices} = r;
  let list: SliceList;
  try {
    list = await r.lister.list(r.signal);
  } catch (error) {
    return retryOrGiveUp(r, error);
  }
  const fresh = list.slices;
  if (periodic && r.listed) {
    // The watch should have told us all of this: a difference means it stalled or lost events.
    const missed = [...fresh].some(([n, s]) => slices.get(n)?.metadata.resourceVersion !== s.metadata.resourceVersion) || [...slices.keys()].some((n) => !fresh.has(n));
    if (missed) {
      metrics.watchRestarts.inc();
      log.warn('periodic re-list found endpoint changes the watch had not delivered', {ms: Math.round(r.w.now() - r.t0)});
    }
  }
  slices.clear();
  for (const [n, s] of fresh) slices.set(n, s);
  r.resourceVersion = list.resourceVersion;
  try {
    await fetchServices(r, true);
  } catch (error) {
    return retryOrGiveUp(r, error);
  }
  r.listed = true;
  r.consecutiveFailures = 0;
  return evaluate(r) ? deregistered(r) : 'watch';
}

/** Watches from the list's resourceVersion until the periodic re-list, an error, a close or deregistration. */
async function watchCycle(r: DeregistrationRun): Promise<WatchCycle> {
  const {w} = r;
  const cycle = new AbortController();
  const onRunAbort = (): void => cycle.abort();
  r.signal.addEventListener('abort', onRunAbort, {once: true});
  // A pending sole-endpoint grace shortens the cycle: the re-list after it judges again.
  const relistTimer = setTimeout(() => cycle.abort(), Math.min(w.relistIntervalMs, r.recheckInMs ?? Infinity));
  relistTimer.unref();
  const watchStarted = w.now();
  let delivered = false;
  let end: WatchCycle['end'] = 'closed';
  let watchError: unknown;
  try {
    const events = w.deps.client.watch<WireEndpointSlice>({
      resource: 'endpointslices',
      path: w.slicesPath,
      query: {
        resourceVersion: r.resourceVersion,
        allowWatchBookmarks: 'true',
        // Server-side bound too, in case our abort never reaches it.
        timeoutSeconds: String(Math.max(5, Math.ceil((w.relistIntervalMs * 4) / 1000))),
      },
      signal: cycle.signal,
      timeoutMs: w.requestTimeoutMs,
    });
    for await (const event of events) {
      if (event.type === 'ERROR') {
        const status = event.object as WireStatus;
        if (status.code === 410) {
          end = 'expired';
          break;
        }
        throw new KubeApiError(`watch endpointslices: ${status.code ?? ''} ${status.reason ?? ''}: ${status.message ?? ''}`, {
          status: status.code,
          statusReason: status.reason,
        });
      }
      const slice = event.object as WireEndpointSlice;
      if (slice?.metadata?.resourceVersion) {
        r.resourceVersion = slice.metadata.resourceVersion;
        r.lister.seen(r.resourceVersion);
      }
      if (event.type === 'BOOKMARK') continue;
      if (!slice?.metadata?.name) continue;
      if (event.type === 'DELETED') r.slices.delete(slice.metadata.name);
      else r.slices.set(slice.metadata.name, slice);
      delivered = true;
      r.consecutiveFailures = 0;
      r.backoff.reset();
      await fetchServices(r, false);
      if (evaluate(r)) return {outcome: deregistered(r), end, delivered, watchStarted, watchError};
    }
    if (end !== 'expired') end = cycle.signal.aborted ? 'relist' : 'closed';
  } catch (error) {
    end = cycle.signal.aborted ? 'relist' : 'error';
    watchError = error;
  } finally {
    clearTimeout(relistTimer);
    r.signal.removeEventListener('abort', onRunAbort);
  }
  return {end, delivered, watchStarted, watchError};
}

/** After a watch ended: re-list at once (relist, 410, a normal server close), or count it as a failure first. */
async function afterWatch(r: DeregistrationRun, cycle: WatchCycle): Promise<DeregistrationOutcome | undefined> {
  const {metrics, log} = r.w.deps;
  if (cycle.end === 'relist') return undefined;
  metrics.watchRestarts.inc();
  if (cycle.end === 'expired') {
    log.info('endpointslice watch expired (410): re-listing', {resourceVersion: r.resourceVersion});
    return undefined;
  }
  if (cycle.end === 'closed' && (cycle.delivered || r.w.now() - cycle.watchStarted >= SHORT_WATCH_MS)) {
    log.info('endpointslice watch closed by the server: re-listing', {resourceVersion: r.resourceVersion});
    return undefined;
  }
  return failed(r, cycle.watchError ?? new KubeApiError('watch endpointslices: closed at once'));
}

