import {afterEach, beforeEach, describe, expect, it, jest} from '@jest/globals';
import type {Clock} from '../../../proxy/src/clock.js';
import {createDrain, type DrainTarget} from '../../../proxy/src/drain.js';
import {parseConfig} from '../../../proxy/src/config.js';
import {createLogger} from '../../../proxy/src/log.js';
import {createMetrics} from '../../../proxy/src/metrics.js';
import {createRelease} from '../../../proxy/src/release.js';
import type {Cluster, PodEvent, PodState} from '../../../proxy/src/cluster.js';

// The drain runs on jest's fake timers through an injected clock: the windows below are exact, and nothing waits on
// the wall clock.
const now = (): number => performance.now();
const fakeClock: Clock = {
  now,
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Advances the fake clock in small steps (so interval watchers run between timers) until `p` settles. */
async function runUntilSettled<T>(p: Promise<T>, limitMs = 120_000): Promise<T> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let t = 0; !settled && t < limitMs; t += 5) await jest.advanceTimersByTimeAsync(5);
  return p;
}

/** Lets `ms` of fake time pass. */
const pass = (ms: number): Promise<void> => jest.advanceTimersByTimeAsync(ms);

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

function setup(env: Record<string, string>, opts: {closeNever?: boolean; cluster?: Cluster; h2?: {drained: number; cut: number; goaways: number}; onDrainStarted?: () => void} = {}) {
  const config = parseConfig({LAMEDUCK_SETTLE: '100ms', LAMEDUCK_QUIET: '100ms', LAMEDUCK_FALLBACK_DELAY: '100ms', ...env});
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({level: 'debug', write: (l) => lines.push(JSON.parse(l))});
  const metrics = createMetrics({defaultMetrics: false});
  let lastTraffic = 0;
  let destroyed = 0;
  let resolveClose!: () => void;
  const target: DrainTarget = {
    lastTrafficAt: () => lastTraffic,
    close: () => (opts.closeNever ? new Promise<void>(() => {}) : new Promise<void>((r) => (resolveClose = r)).then(() => undefined)),
    destroy: () => {
      destroyed++;
      return {requests: 2, upgrades: 1, connections: 0};
    },
    stats: () => ({inFlight: 0, upgraded: 0, openConnections: 0, drained: 7, ...(opts.h2 ? {h2: opts.h2} : {})}),
    ...(opts.onDrainStarted ? {drainStarted: opts.onDrainStarted} : {}),
  };
  const release = createRelease({appExit: config.appExit, appProcess: undefined, metrics, log, protectedPids: [], kill: () => {}});
  const drain = createDrain({config, metrics, log, target, cluster: opts.cluster, release, clock: fakeClock});
  return {
    drain,
    lines,
    metrics,
    touch: () => (lastTraffic = now()),
    finishClose: () => resolveClose?.(),
    destroyedCount: () => destroyed,
  };
}

function fakeCluster(pod: PodState | undefined, outcome: 'deregistered' | 'fallback', delayMs = 50) {
  const events: PodEvent[] = [];
  const cluster: Cluster = {
    getPod: async () =>
      pod ? {ok: true, pod} : {ok: false, reason: 'forbidden', error: new Error('forbidden')},
    awaitDeregistration: async ({signal}) => {
      await new Promise((r) => setTimeout(r, delayMs));
      if (signal.aborted) return {kind: 'aborted'};
      return outcome === 'deregistered' ? {kind: 'deregistered'} : {kind: 'fallback', reason: 'forbidden'};
    },
    watchPod: () => () => {},
    recordEvent: async (e) => {
      events.push(e);
    },
    close: () => {},
  };
  return {cluster, events};
}

describe('drain state machine', () => {
  it('moves one way through every phase, logs each transition, and returns the same promise to every trigger', async () => {
    const t = setup({});
    const p1 = t.drain.drain({trigger: 'signal'});
    const p2 = t.drain.drain({trigger: 'prestop'});
    expect(p2).toBe(p1);
    expect(t.drain.state()).toBe('deregistering');
    const wait = setInterval(() => {
      if (t.drain.state() === 'closing') t.finishClose();
    }, 10);
    const summary = await runUntilSettled(p1);
    clearInterval(wait);
    expect(t.drain.state()).toBe('done');
    const moves = t.lines.filter((l) => l.msg === 'phase').map((l) => `${l.from}->${l.to}`);
    expect(moves).toEqual(['serving->deregistering', 'deregistering->settling', 'settling->closing', 'closing->releasing', 'releasing->done']);
    expect(summary.trigger).toBe('signal');
    expect(summary.deregistration).toBe('fallback');
    expect(summary.fallbackReason).toBe('no_identity');
    expect(summary.drainedRequests).toBe(7);
    expect(t.lines.some((l) => l.msg === 'drain summary')).toBe(true);
    const metrics = await t.metrics.registry.getSingleMetricAsString('lameduck_drain_triggers_total');
    expect(metrics).toMatch(/trigger="signal"} 1/);
    expect(metrics).toMatch(/trigger="prestop"} 1/);
    expect(await t.metrics.registry.getSingleMetricAsString('lameduck_state')).toMatch(/state="done"} 1/);
  });

  it('tells the data plane at deregistering (HTTP/2 GOAWAY) and reports streams and GOAWAYs in the summary and the Event', async () => {
    const deleting = fakeCluster({deleting: true, disruptionTarget: false, terminalPhase: false, gracePeriodSeconds: 30}, 'deregistered', 200);
    const phases: string[] = [];
    let drainRef: {state(): string} | undefined;
    const t = setup({}, {cluster: deleting.cluster, h2: {drained: 3, cut: 0, goaways: 2}, onDrainStarted: () => phases.push(drainRef?.state() ?? '?')});
    drainRef = t.drain;
    const p = t.drain.drain({trigger: 'signal'});
    expect(phases).toEqual(['deregistering']);
    const w = setInterval(() => t.drain.state() === 'closing' && t.finishClose(), 5);
    const summary = await runUntilSettled(p);
    clearInterval(w);
    expect(phases).toEqual(['deregistering']);
    expect(summary.h2).toEqual({drained: 3, cut: 0, goaways: 2});
    expect(t.lines.find((l) => l.msg === 'drain summary')?.h2).toEqual({drained: 3, cut: 0, goaways: 2});
    expect(deleting.events.find((e) => e.reason === 'LameduckDrained')?.message).toMatch(/HTTP\/2: 3 streams drained, 0 cut, 2 GOAWAYs sent/);
  });

  it('keeps settling until no traffic has arrived for the quiet period', async () => {
    const t = setup({LAMEDUCK_QUIET: '300ms'});
    const p = t.drain.drain({trigger: 'signal'});
    // Traffic keeps arriving for ~800 ms after the trigger.
    const started = now();
    const traffic = setInterval(() => {
      if (now() - started < 800) t.touch();
    }, 50);
    let closingAt = 0;
    const watch = setInterval(() => {
      if (t.drain.state() === 'closing' && !closingAt) {
        closingAt = now();
        t.finishClose();
      }
    }, 5);
    await runUntilSettled(p);
    clearInterval(traffic);
    clearInterval(watch);
    expect(closingAt - started).toBeGreaterThanOrEqual(800 + 300 - 60);
  });

  it('cuts what remains at the deadline and reports it', async () => {
    const t = setup({LAMEDUCK_DRAIN_TIMEOUT: '1s', LAMEDUCK_SETTLE: '0', LAMEDUCK_QUIET: '0', LAMEDUCK_FALLBACK_DELAY: '0'}, {closeNever: true});
    const started = now();
    const summary = await runUntilSettled(t.drain.drain({trigger: 'signal'}));
    const took = now() - started;
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(3000);
    expect(t.destroyedCount()).toBe(1);
    expect(summary.cut).toEqual({requests: 2, upgrades: 1, connections: 0});
  });

  it('keeps /readyz only for a deletion the API confirms', async () => {
    const deleting = fakeCluster({deleting: true, disruptionTarget: false, terminalPhase: false, gracePeriodSeconds: 30}, 'deregistered', 200);
    const a = setup({}, {cluster: deleting.cluster});
    const pa = a.drain.drain({trigger: 'signal'});
    await pass(50);
    expect(a.drain.state()).toBe('deregistering');
    expect(a.drain.readinessAllowed()).toBe(true);
    const wa = setInterval(() => a.drain.state() === 'closing' && a.finishClose(), 5);
    const sa = await runUntilSettled(pa);
    clearInterval(wa);
    expect(a.drain.readinessAllowed()).toBe(false);
    expect(sa.deadlineSource).toBe('pod');
    expect(sa.deadlineMs).toBe(25_000); // 30 s grace minus the 5 s exit margin
    expect(deleting.events.map((e) => e.reason)).toEqual(['LameduckDrained']);

    const evicted = fakeCluster({deleting: false, disruptionTarget: true, terminalPhase: false, gracePeriodSeconds: 10}, 'fallback', 200);
    const b = setup({}, {cluster: evicted.cluster});
    const pb = b.drain.drain({trigger: 'prestop'});
    await pass(50);
    expect(b.drain.readinessAllowed()).toBe(false);
    const wb = setInterval(() => b.drain.state() === 'closing' && b.finishClose(), 5);
    const sb = await runUntilSettled(pb);
    clearInterval(wb);
    expect(sb.podTerminating).toBe(true);
    expect(evicted.events.map((e) => [e.type, e.reason])).toEqual([
      ['Warning', 'LameduckFallback'],
      ['Normal', 'LameduckDrained'],
    ]);
  });
});
