/**
 * /prestop: the app container's preStop hook (docs/design.md "Triggers", trigger 2), and the one admin path that can
 * take a pod out of service. Whoever reaches the admin port can call it, so:
 * - A drain the API confirms (deletionTimestamp, DisruptionTarget, terminal phase) needs no token: the API is the
 *   authority, the caller only asks.
 * - A drain without that confirmation needs LAMEDUCK_PRESTOP_TOKEN in X-Lameduck-Token: the native-mode fallback
 *   drain (GET, the API cannot tell), and the forced drain of a healthy pod (POST: kubelet's httpGet hook only ever
 *   sends GET, so a liveness restart of the app, whose hook carries the token too, never forces a drain). Without a
 *   configured token there is no fallback drain at all. A refused drain is logged and counted; the pod keeps serving.
 * - Pod lookups are shared by all callers and rate-limited (shared-pod-lookup.ts).
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import {createHash, timingSafeEqual} from 'node:crypto';
import {isTerminating} from './cluster.js';
import {clockSleep, clockTimeout, systemClock, type Clock} from './clock.js';
import type {Config} from './config.js';
import {CLUSTER_LOAD_WAIT_MS, type Drain, type LoadingCluster} from './drain.js';
import type {Logger} from './log.js';
import type {Metrics, PrestopRefusal} from './metrics.js';
import {createSharedPodLookup} from './shared-pod-lookup.js';

export const TOKEN_HEADER = 'x-lameduck-token';
/** Status updates race the hooks (and a classic sidecar's SIGTERM arrives meanwhile): re-check this long. */
export const PRESTOP_RECHECK_MS = 2_000;
export const PRESTOP_RECHECK_INTERVAL_MS = 250;

export interface PrestopDeps {
  config: Config;
  metrics: Metrics;
  log: Logger;
  drain: Drain;
  cluster: LoadingCluster | undefined;
  recheckMs?: number;
  clock?: Clock;
}

export type PrestopHandler = (req: IncomingMessage, res: ServerResponse, send: (status: number, body: string) => void) => Promise<void>;

/** Constant-time comparison; hashing first makes the lengths equal so the length does not leak either. */
function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

type Caller = 'authorized' | PrestopRefusal;

export function createPrestopHandler(deps: PrestopDeps): PrestopHandler {
  const {config, metrics, log, drain, cluster} = deps;
  const clock = deps.clock ?? systemClock;
  const recheckMs = deps.recheckMs ?? PRESTOP_RECHECK_MS;
  const lookups = cluster ? createSharedPodLookup({cluster, clock, minIntervalMs: PRESTOP_RECHECK_INTERVAL_MS}) : undefined;

  const authenticate = (req: IncomingMessage): Caller => {
    const given = req.headers[TOKEN_HEADER];
    const hasToken = typeof given === 'string' && given !== '';
    if (!config.prestopToken) return 'token_not_configured';
    if (!hasToken) return 'token_missing';
    if (tokenMatches(given, config.prestopToken)) return 'authorized';
    log.warn('prestop token rejected', {remote: req.socket.remoteAddress});
    return 'token_wrong';
  };

  return async (req, res, send) => {
    const waitForRelease = async (why: string): Promise<void> => {
      await drain.released();
      send(200, `released (${why})\n`);
    };
    // Kubelet's grace period started before this request: the drain deadline runs from its arrival.
    const triggeredAt = clock.now();
    const caller = authenticate(req);
    const remote = req.socket.remoteAddress;
    if (req.method === 'POST' && caller === 'authorized') {
      log.info('prestop with token: draining', {});
      void drain.drain({trigger: 'token', triggeredAt});
      return waitForRelease('token');
    }
    if (drain.started()) return waitForRelease('drain running');

    // Right after start-up the client library may still be importing: not API time, so not part of the re-check
    // window (else every lookup in it times out, and native mode would take that for an unreachable API).
    const loadWait = clockTimeout(clock, CLUSTER_LOAD_WAIT_MS);
    await cluster?.whenLoaded?.(loadWait.signal);
    loadWait.cancel();
    const deadline = clock.now() + recheckMs;
    let refused: PrestopRefusal | undefined;
    for (;;) {
      if (drain.started()) return waitForRelease('drain running');
      let cannotTell: string | undefined = 'no pod identity';
      if (lookups) {
        const lookup = await lookups.lookup();
        if (drain.started()) return waitForRelease('drain running');
        if (lookup.ok && isTerminating(lookup.pod)) {
          log.info('prestop: pod is terminating', {...lookup.pod});
          void drain.drain({trigger: 'prestop', pod: lookup.pod, triggeredAt});
          return waitForRelease('pod terminating');
        }
        cannotTell = lookup.ok ? undefined : lookup.reason;
      }
      // A native sidecar gets SIGTERM only after the app exited: releasing the app now would drop its traffic. But
      // nothing confirms a termination, so only a caller holding the token may start this drain.
      const fallback = cannotTell !== undefined && config.mode === 'native';
      if (fallback && caller === 'authorized') {
        if (lookups) log.warn('prestop: API cannot tell, native mode: fallback drain', {reason: cannotTell});
        else log.warn('prestop: no pod identity, native mode: fallback drain', {});
        void drain.drain({trigger: 'prestop', triggeredAt});
        return waitForRelease('fallback');
      }
      // What the last look said decides: a later answer "not terminating" leaves nothing refused.
      refused = fallback && caller !== 'authorized' ? caller : undefined;
      if (clock.now() >= deadline) break;
      await clockSleep(clock, Math.min(PRESTOP_RECHECK_INTERVAL_MS, deadline - clock.now()));
    }
    if (drain.started()) return waitForRelease('drain running');
    if (refused) {
      metrics.prestopRefusals.inc({reason: refused});
      log.warn('prestop: fallback drain needs the token: not draining, the pod keeps serving', {reason: refused, remote});
    } else {
      // A container restart after a failed liveness probe, or a stray caller: never take a healthy pod out of service.
      log.info('prestop: pod not terminating, nothing to drain', {remote});
    }
    send(200, 'not terminating: nothing to drain\n');
  };
}
