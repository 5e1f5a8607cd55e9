// Fault injection: the ways a real API server lets its clients down, switchable by tests at any moment. Request-level
// faults (RBAC denial, API Priority and Fairness throttling, a rotated token) are decided here per request; stream-level
// ones (compaction, dropped or stalled watches) act through the hooks the API server wires in.

export interface ThrottleOptions {
  /** Throttle this many matching requests, then stop. */
  count?: number;
  /** Throttle matching requests for this long from now (ms). */
  untilMs?: number;
  /** Retry-After header and details.retryAfterSeconds. Default 1. */
  retryAfterSeconds?: number;
  /** Only requests with this verb (get, list, watch, create, ...). Default: all. */
  verb?: string;
  /** Only requests for this resource (plural, e.g. `endpointslices`). Default: all. */
  resource?: string;
}

export interface RotateTokenOptions {
  /**
   * Rewrite the token file of every service-account directory written by writeServiceAccount, as kubelet refreshes
   * projected tokens. Default true. Kubeconfig files are never rewritten.
   */
  rewriteServiceAccountFiles?: boolean;
}

export interface Faults {
  /** 403 Forbidden for `verb` on `resource` (`'*'` matches any); e.g. deny('list', 'endpointslices'). */
  deny(verb: string, resource: string): void;
  /** Undoes deny(verb, resource); allow() with no arguments lifts every denial. */
  allow(verb?: string, resource?: string): void;
  /** History compaction: resuming from an older resourceVersion gets 410 Expired; open watches get it now, then end. */
  compact(): void;
  /** Cuts every open watch's TCP connection abruptly. */
  dropWatches(): void;
  /** Watches stay open but receive nothing (events are delivered when the stall ends). */
  stallWatches(on: boolean): void;
  /** 429 TooManyRequests with Retry-After for matching requests, by count or for a time. */
  throttle(opts: ThrottleOptions): void;
  /** The bearer token changes; the old one then gets 401. */
  rotateToken(newToken: string, opts?: RotateTokenOptions): void;
  /**
   * The watch cache stops following etcd (an API server whose cache lags, one of several behind a load balancer):
   * lists it serves — `resourceVersion=0`, or NotOlderThan a version it has — answer the state as of this moment;
   * NotOlderThan a newer version gets 504 "Too large resource version"; consistent reads (no resourceVersion) answer
   * the current state, as kube-apiserver's do. `false` (or reset()) lets the cache catch up. Watches are not delayed.
   */
  lagWatchCache(on: boolean): void;
  /** Lifts every request-level fault (denials, throttling, a lagging cache) and ends a stall. */
  reset(): void;
}

/** Request-side view used by the API server. */
export interface FaultState {
  isDenied(verb: string, resource: string): boolean;
  /** Retry-After seconds if this request is to be throttled (consumes one from a count). */
  takeThrottle(verb: string, resource: string): number | undefined;
  /** The revision the watch cache is stuck at; undefined while it follows etcd. */
  watchCacheRevision(): number | undefined;
}

export interface FaultHooks {
  compact(): void;
  dropWatches(): void;
  stallWatches(on: boolean): void;
  rotateToken(newToken: string, opts: RotateTokenOptions): void;
  /** The store's current resourceVersion. */
  revision(): number;
  now?: () => number;
}

export function createFaults(hooks: FaultHooks): Faults & FaultState {
  const now = hooks.now ?? Date.now;
  const denied = new Set<string>();
  let cacheRevision: number | undefined;
  let throttles: {remaining?: number; until?: number; retryAfterSeconds: number; verb?: string; resource?: string}[] = [];

  const key = (verb: string, resource: string): string => `${verb} ${resource}`;

  return {
    deny(verb, resource) {
      denied.add(key(verb, resource));
    },
    allow(verb, resource) {
      if (verb === undefined && resource === undefined) denied.clear();
      else denied.delete(key(verb ?? '*', resource ?? '*'));
    },
    compact: () => hooks.compact(),
    dropWatches: () => hooks.dropWatches(),
    stallWatches: (on) => hooks.stallWatches(on),
    throttle(opts) {
      if (opts.count === undefined && opts.untilMs === undefined) {
        throw new Error('throttle needs count or untilMs');
      }
      throttles.push({
        remaining: opts.count,
        until: opts.untilMs === undefined ? undefined : now() + opts.untilMs,
        retryAfterSeconds: opts.retryAfterSeconds ?? 1,
        verb: opts.verb,
        resource: opts.resource,
      });
    },
    rotateToken: (newToken, opts = {}) => hooks.rotateToken(newToken, opts),
    lagWatchCache(on) {
      cacheRevision = on ? (cacheRevision ?? hooks.revision()) : undefined;
    },
    reset() {
      cacheRevision = undefined;
      denied.clear();
      throttles = [];
      hooks.stallWatches(false);
    },

    isDenied(verb, resource) {
      return denied.has(key(verb, resource)) || denied.has(key('*', resource)) || denied.has(key(verb, '*')) || denied.has(key('*', '*'));
    },
    watchCacheRevision: () => cacheRevision,
    takeThrottle(verb, resource) {
      const t = now();
      throttles = throttles.filter((th) => (th.remaining === undefined || th.remaining > 0) && (th.until === undefined || th.until > t));
      const hit = throttles.find((th) => (!th.verb || th.verb === verb) && (!th.resource || th.resource === resource));
      if (!hit) return undefined;
      if (hit.remaining !== undefined) hit.remaining--;
      return hit.retryAfterSeconds;
    },
  };
}
