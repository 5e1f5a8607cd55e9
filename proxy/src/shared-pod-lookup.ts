/**
 * The pod GETs of /prestop, shared and rate-limited. Anyone who reaches the admin port can call /prestop, and each
 * call re-checks the pod for ~2 s: unshared, 20 parallel calls made 180 GETs against the API server. Here every
 * caller joins the lookup in flight, and a new one starts at most once per `minIntervalMs`; callers in between get
 * the latest answer. The API load of /prestop is then bounded by time, not by the number of callers.
 */
import type {PodLookup} from './cluster.js';
import {clockTimeout, type Clock} from './clock.js';
import type {LoadingCluster} from './drain.js';

/** At most one /prestop pod lookup per this long (the re-check interval: nothing is asked sooner than before). */
export const PRESTOP_LOOKUP_MIN_INTERVAL_MS = 250;
/** Bound of one shared lookup. */
export const PRESTOP_LOOKUP_TIMEOUT_MS = 1_000;

export interface SharedPodLookup {
  /**
   * The lookup in flight, else the latest one if it began less than `minIntervalMs` ago, else a new one. Never
   * throws (Cluster.getPod does not).
   */
  lookup(): Promise<PodLookup>;
}

export function createSharedPodLookup(deps: {
  cluster: LoadingCluster;
  clock: Clock;
  minIntervalMs?: number;
  timeoutMs?: number;
}): SharedPodLookup {
  const {cluster, clock} = deps;
  const minIntervalMs = deps.minIntervalMs ?? PRESTOP_LOOKUP_MIN_INTERVAL_MS;
  const timeoutMs = deps.timeoutMs ?? PRESTOP_LOOKUP_TIMEOUT_MS;
  let inFlight: Promise<PodLookup> | undefined;
  let last: {startedAt: number; result: PodLookup} | undefined;

  const start = (): Promise<PodLookup> => {
    const run = async (): Promise<PodLookup> => {
      const startedAt = clock.now();
      const timeout = clockTimeout(clock, timeoutMs);
      try {
        const result = await cluster.getPod(timeout.signal);
        last = {startedAt, result};
        return result;
      } finally {
        timeout.cancel();
        inFlight = undefined;
      }
    };
    inFlight = run();
    return inFlight;
  };

  return {
    lookup() {
      if (inFlight) return inFlight;
      // A caller arriving within the interval of the last lookup gets its answer rather than a new GET.
      if (last && clock.now() - last.startedAt < minIntervalMs) return Promise.resolve(last.result);
      return start();
    },
  };
}
