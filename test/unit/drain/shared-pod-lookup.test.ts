// The pod lookups of /prestop: callers share the one in flight, and a new GET starts at most once per interval
// whoever asks, so the API load of /prestop follows time, not the number of callers. Driven by jest's fake timers
// through the injected clock.
import {afterEach, beforeEach, describe, expect, it, jest} from '@jest/globals';
import type {Clock} from '../../../proxy/src/clock.js';
import type {PodLookup} from '../../../proxy/src/cluster.js';
import type {LoadingCluster} from '../../../proxy/src/drain.js';
import {createSharedPodLookup} from '../../../proxy/src/shared-pod-lookup.js';

const clock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const FORBIDDEN: PodLookup = {ok: false, reason: 'forbidden', error: new Error('403')};

/** A cluster whose pod GET answers after `latencyMs` (or at its signal), counting the GETs. */
function countingCluster(latencyMs: number) {
  const signals: AbortSignal[] = [];
  const cluster: LoadingCluster = {
    getPod: (signal) => {
      signals.push(signal);
      return new Promise<PodLookup>((resolve) => {
        const timer = setTimeout(() => resolve(FORBIDDEN), latencyMs);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve({ok: false, reason: 'unreachable', error: new Error('timeout')});
        });
      });
    },
    awaitDeregistration: async () => ({kind: 'aborted'}),
    watchPod: () => () => undefined,
    recordEvent: async () => undefined,
    close: () => undefined,
  };
  return {cluster, gets: () => signals.length, signals};
}

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('shared pod lookup', () => {
  it('gives every concurrent caller the one lookup in flight', async () => {
    const api = countingCluster(100);
    const lookups = createSharedPodLookup({cluster: api.cluster, clock, minIntervalMs: 250});
    const answers = Promise.all(Array.from({length: 20}, () => lookups.lookup()));
    await jest.advanceTimersByTimeAsync(100);
    expect(await answers).toEqual(Array(20).fill(FORBIDDEN));
    expect(api.gets()).toBe(1);
  });

  it('answers from the last lookup within the interval, and asks again after it', async () => {
    const api = countingCluster(10);
    const lookups = createSharedPodLookup({cluster: api.cluster, clock, minIntervalMs: 250});
    const first = lookups.lookup();
    await jest.advanceTimersByTimeAsync(10);
    await first;
    await jest.advanceTimersByTimeAsync(200); // 210 ms after the first GET began
    await lookups.lookup();
    expect(api.gets()).toBe(1);
    await jest.advanceTimersByTimeAsync(40); // 250 ms
    const third = lookups.lookup();
    await jest.advanceTimersByTimeAsync(10);
    await third;
    expect(api.gets()).toBe(2);
  });

  it('re-checks of many callers over 2 s make one GET per interval, not one per caller and re-check', async () => {
    const api = countingCluster(20);
    const lookups = createSharedPodLookup({cluster: api.cluster, clock, minIntervalMs: 250});
    // 20 callers, each re-checking every 250 ms for 2 s, as /prestop does; they arrive 7 ms apart.
    const caller = async (delay: number): Promise<void> => {
      await new Promise((r) => setTimeout(r, delay));
      const until = clock.now() + 2_000;
      while (clock.now() < until) {
        await lookups.lookup();
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const all = Promise.all(Array.from({length: 20}, (_, i) => caller(i * 7)));
    await jest.advanceTimersByTimeAsync(3_000);
    await all;
    // The burst spans 2 s + 133 ms of arrivals: at most one GET per 250 ms over it.
    expect(api.gets()).toBeGreaterThanOrEqual(2);
    expect(api.gets()).toBeLessThanOrEqual(Math.ceil(2_133 / 250) + 1);
  });

  it('bounds each lookup by its timeout, and the next caller starts a fresh one', async () => {
    const api = countingCluster(60_000);
    const lookups = createSharedPodLookup({cluster: api.cluster, clock, minIntervalMs: 250, timeoutMs: 1_000});
    const stuck = lookups.lookup();
    await jest.advanceTimersByTimeAsync(1_000);
    expect(await stuck).toMatchObject({ok: false, reason: 'unreachable'});
    expect(api.signals[0]!.aborted).toBe(true);
    void lookups.lookup();
    expect(api.gets()).toBe(2);
  });
});
