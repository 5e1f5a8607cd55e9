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
 * Verdicts are judged by routing-hold.ts (DNS settle for headless Services, the sole-endpoint grace).
 *
 * When the API cannot tell: 403 or 401 (after a token re-read) -> the timed fallback, resolved `fallbackDelayMs` after
 * the call; unreachable (network, timeouts, 5xx, persistent 429) -> keep retrying, and fall back once it is still
 * failing when `fallbackDelayMs` has passed. The caller's signal (the drain deadline) ends everything: `aborted`.
 */
import type {DeregistrationOptions, DeregistrationOutcome} from '../cluster.js';
import type {Logger} from '../log.js';
import type {FallbackReason, Metrics} from '../metrics.js';
import {sleep} from '../wait.js';
import {createBackoff, throttleDelay} from './backoff.js';
import type {KubeClient} from './client.js';
import {KubeApiError} from './kube-api-error.js';
import {routingVerdict, type RoutingPod, type RoutingVerdict} from './routing.js';
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

export function createEndpointWatch(deps: EndpointWatchDeps): EndpointWatch {
  const {client, metrics, log, namespace} = deps;
  const now = deps.now ?? (() => performance.now());
  const random = deps.random ?? Math.random;
  const startJitterMs = deps.startJitterMs ?? 250;
  const relistIntervalMs = deps.relistIntervalMs ?? 3_000;
  const requestTimeoutMs = deps.requestTimeoutMs ?? 5_000;
  const slicesPath = `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices`;
  let latest: RoutingVerdict | undefined;

  async function awaitDeregistration(options: DeregistrationOptions): Promise<DeregistrationOutcome> {
    const t0 = now();
    const fallbackAt = t0 + options.fallbackDelayMs;
    const run = new AbortController();
    const onAbort = (): void => run.abort();
    for (const s of [options.signal, deps.closeSignal]) {
      if (!s) continue;
      if (s.aborted) run.abort();
      else s.addEventListener('abort', onAbort, {once: true});
    }
    const backoff = createBackoff({initialMs: deps.backoff?.initialMs ?? 100, maxMs: deps.backoff?.maxMs ?? 2_000, random});

    const slices = new Map<string, WireEndpointSlice>();
    const specs = createServiceSpecs({client, log, namespace, requestTimeoutMs});
    const services = specs.known;
    const lister = createSliceLister({client, log, path: slicesPath, requestTimeoutMs});
    const hold = createRoutingHold({log, now, startedAt: t0, dnsSettleMs: deps.dnsSettleMs ?? DEFAULT_DNS_SETTLE_MS, soleGraceMs: deps.soleGraceMs});
    let recheckInMs: number | undefined;
    let resourceVersion: string | undefined;
    let listed = false;
    let consecutiveFailures = 0;
    /** Start of the current failure streak. Once a list succeeded, an outage is judged from here, not the trigger. */
    let failingSince = 0;

    const finish = (outcome: DeregistrationOutcome): DeregistrationOutcome => {
      const ms = Math.round(now() - t0);
      if (outcome.kind === 'deregistered') log.info('deregistered: no service routes the pod', {ms, ...(outcome.dnsSettleMs ? {dnsSettleMs: outcome.dnsSettleMs} : {})});
      else if (outcome.kind === 'fallback') {
        metrics.fallbacks.inc({reason: outcome.reason});
        log.warn('kubernetes api could not tell: timed fallback used', {reason: outcome.reason, ms, fallbackDelayMs: options.fallbackDelayMs});
      } else log.info('deregistration wait ended at the deadline', {ms, routedBy: latest?.routedBy});
      return outcome;
    };

    /** A failed list/get/watch: resolves with an outcome when it is time to fall back, else after the retry delay. */
    const failed = async (error: unknown): Promise<DeregistrationOutcome | undefined> => {
      const err = error instanceof KubeApiError ? error : new KubeApiError(String(error), {cause: error});
      if (err.reason === 'forbidden' || err.reason === 'unauthorized') {
        const waitMs = Math.max(0, fallbackAt - now());
        log.warn('kubernetes api refused the endpoint watch: serving for the fallback delay', {
          reason: err.reason,
          error: err,
          fallbackDelayMs: options.fallbackDelayMs,
          waitMs: Math.round(waitMs),
        });
        await sleep(waitMs, run.signal);
        return run.signal.aborted ? {kind: 'aborted'} : {kind: 'fallback', reason: err.reason};
      }
      if (consecutiveFailures++ === 0) failingSince = now();
      // Before the first list, the fallback delay runs from the trigger. After it, the pod was seen routed: a short
      // outage (an API server restart) must not end the drain while kube-proxy still sends traffic, so the delay
      // runs from the start of the outage. Either way, not on a single blip.
      const giveUpAt = listed ? failingSince + options.fallbackDelayMs : fallbackAt;
      if (now() >= giveUpAt && consecutiveFailures >= 2) return {kind: 'fallback', reason: 'unreachable'};
      let delay = err.throttled ? throttleDelay(err.retryAfterMs ?? 1_000, random) : backoff.next();
      if (now() < giveUpAt) delay = Math.min(delay, giveUpAt - now());
      const ctx = {error: err, status: err.status, retryInMs: Math.round(delay), failures: consecutiveFailures};
      if (consecutiveFailures === 1) log.warn('kubernetes api request failed: retrying', ctx);
      else log.debug('kubernetes api request failed: retrying', ctx);
      await sleep(delay, run.signal);
      return undefined;
    };

    /** GETs the Services that have the pod in a slice: all of them after a list, only unknown ones otherwise. */
    const fetchServices = (all: boolean): Promise<void> => {
      const names = routingVerdict({slices: slices.values(), services, pod: deps.pod, ignoreServices: []}).services;
      return specs.fetch(names.filter((n) => !deps.ignoreServices.includes(n)), all, run.signal);
    };

    /** Recomputes the verdict from the whole current state; true when the hold is over. */
    const evaluate = (): boolean => {
      const verdict = routingVerdict({slices: slices.values(), services, pod: deps.pod, ignoreServices: deps.ignoreServices});
      latest = verdict;
      const judgement = hold.judge(verdict);
      recheckInMs = judgement.recheckInMs;
      return judgement.done;
    };
    const deregistered = (): DeregistrationOutcome => {
      const dnsSettleMs = hold.dnsSettleLeftMs();
      return dnsSettleMs > 0 ? {kind: 'deregistered', dnsSettleMs} : {kind: 'deregistered'};
    };

    try {
      if (run.signal.aborted) return finish({kind: 'aborted'});
      await sleep(random() * startJitterMs, run.signal);
      let needList = true;
      let periodic = false;
      for (;;) {
        if (run.signal.aborted) return finish({kind: 'aborted'});

        if (needList) {
          let list: SliceList;
          try {
            list = await lister.list(run.signal);
          } catch (error) {
            if (run.signal.aborted) return finish({kind: 'aborted'});
            const outcome = await failed(error);
            if (outcome) return finish(outcome);
            continue;
          }
          const fresh = list.slices;
          if (periodic && listed) {
            // The watch should have told us all of this: a difference means it stalled or lost events.
            const missed = [...fresh].some(([n, s]) => slices.get(n)?.metadata.resourceVersion !== s.metadata.resourceVersion) || [...slices.keys()].some((n) => !fresh.has(n));
            if (missed) {
              metrics.watchRestarts.inc();
              log.warn('periodic re-list found endpoint changes the watch had not delivered', {ms: Math.round(now() - t0)});
            }
          }
          slices.clear();
          for (const [n, s] of fresh) slices.set(n, s);
          resourceVersion = list.resourceVersion;
          try {
            await fetchServices(true);
          } catch (error) {
            if (run.signal.aborted) return finish({kind: 'aborted'});
            const outcome = await failed(error);
            if (outcome) return finish(outcome);
            continue;
          }
          listed = true;
          consecutiveFailures = 0;
          needList = false;
          if (evaluate()) return finish(deregistered());
        }

        // Watch from the list's resourceVersion until the periodic re-list, an error, a close or deregistration.
        const cycle = new AbortController();
        const onRunAbort = (): void => cycle.abort();
        run.signal.addEventListener('abort', onRunAbort, {once: true});
        // A pending sole-endpoint grace shortens the cycle: the re-list after it judges again.
        const relistTimer = setTimeout(() => cycle.abort(), Math.min(relistIntervalMs, recheckInMs ?? Infinity));
        relistTimer.unref();
        const watchStarted = now();
        let delivered = false;
        let end: 'relist' | 'closed' | 'expired' | 'error' = 'closed';
        let watchError: unknown;
        try {
          const events = client.watch<WireEndpointSlice>({
            resource: 'endpointslices',
            path: slicesPath,
            query: {
              resourceVersion,
              allowWatchBookmarks: 'true',
              // Server-side bound too, in case our abort never reaches it.
              timeoutSeconds: String(Math.max(5, Math.ceil((relistIntervalMs * 4) / 1000))),
            },
            signal: cycle.signal,
            timeoutMs: requestTimeoutMs,
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
              resourceVersion = slice.metadata.resourceVersion;
              lister.seen(resourceVersion);
            }
            if (event.type === 'BOOKMARK') continue;
            if (!slice?.metadata?.name) continue;
            if (event.type === 'DELETED') slices.delete(slice.metadata.name);
            else slices.set(slice.metadata.name, slice);
            delivered = true;
            consecutiveFailures = 0;
            backoff.reset();
            await fetchServices(false);
            if (evaluate()) return finish(deregistered());
          }
          if (end !== 'expired') end = cycle.signal.aborted ? 'relist' : 'closed';
        } catch (error) {
          end = cycle.signal.aborted ? 'relist' : 'error';
          watchError = error;
        } finally {
          clearTimeout(relistTimer);
          run.signal.removeEventListener('abort', onRunAbort);
        }

        if (run.signal.aborted) return finish({kind: 'aborted'});
        needList = true;
        periodic = end === 'relist';
        if (end === 'relist') continue;
        metrics.watchRestarts.inc();
        if (end === 'expired') {
          log.info('endpointslice watch expired (410): re-listing', {resourceVersion});
          continue;
        }
        if (end === 'closed' && (delivered || now() - watchStarted >= SHORT_WATCH_MS)) {
          log.info('endpointslice watch closed by the server: re-listing', {resourceVersion});
          continue;
        }
        const outcome = await failed(watchError ?? new KubeApiError('watch endpointslices: closed at once'));
        if (outcome) return finish(outcome);
      }
    } finally {
      run.abort();
      for (const s of [options.signal, deps.closeSignal]) s?.removeEventListener('abort', onAbort);
    }
  }

  return {
    awaitDeregistration: async (options) => {
      try {
        return await awaitDeregistration(options);
      } catch (error) {
        // Never throws (Cluster contract): an unexpected bug must not strand the drain; it falls back instead.
        log.error('endpoint watch failed unexpectedly: timed fallback', {error});
        metrics.fallbacks.inc({reason: 'unreachable'});
        await sleep(options.fallbackDelayMs, options.signal);
        return options.signal.aborted ? {kind: 'aborted'} : {kind: 'fallback', reason: 'unreachable' as FallbackReason};
      }
    },
    lastVerdict: () => latest,
  };
}
