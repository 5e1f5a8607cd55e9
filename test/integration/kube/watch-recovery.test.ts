// The EndpointSlice watch connection is cut mid-drain, and separately the API server is stopped
// and restarted mid-drain (the flip happening while it is down). The real lameduck recovers both times and catches
// the flip, without falling back to the timed delay.
import {afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import {startDemoApp, type DemoApp} from '../../../sim/processes.js';
import type {Pod} from '../../../sim/kube/types.js';
import {NS, routeInOwnSlice} from '../../support/kube-fixture.js';
import {
  createSelfPod,
  lameduckRequests,
  phaseAt,
  prestop,
  scrapeMetric,
  sleep,
  startSidecar,
  useK8sFixture,
  waitForSliceWatch,
  waitForSummary,
} from '../../support/k8s-harness.js';

const fx = useK8sFixture();
let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp({POD_NAME: 'recover'});
});
afterEach(async () => {
  await fx.api.start(); // no-op unless a test left it stopped
});

/** A pod in one hand-managed slice of its own Service; `flip()` turns its endpoint not ready, not serving. */
function routedPod(name: string): {pod: Pod; flip(): void} {
  return routeInOwnSlice(fx, createSelfPod(fx, name, {app: name}));
}

describe('watch recovery mid-drain', () => {
  it('the watch connection is cut: re-lists and catches the flip made while no watch was open', async () => {
    const {pod, flip} = routedPod('cut-0');
    const ld = await startSidecar(fx, pod, app.port, {LAMEDUCK_MODE: 'native'});
    const triggerAt = Date.now();
    fx.api.store.deletePod(NS, 'cut-0', {gracePeriodSeconds: 30});
    const hook = prestop(ld);
    await waitForSliceWatch(fx, triggerAt);

    const cutAt = Date.now();
    fx.api.faults.dropWatches();
    flip(); // no watch is open now: only a re-list can see this
    const flippedAt = Date.now();
    const summary = await waitForSummary(ld);
    await hook;

    expect(summary).toMatchObject({deregistration: 'deregistered', deletionConfirmed: true});
    expect(phaseAt(ld, 'settling')!).toBeGreaterThanOrEqual(flippedAt);
    const relists = lameduckRequests(fx, cutAt).filter((r) => r.resource === 'endpointslices' && r.verb === 'list');
    expect(relists.length).toBeGreaterThanOrEqual(1);
    expect(await scrapeMetric(ld, 'lameduck_watch_restarts_total')).toBeGreaterThanOrEqual(1);
    expect(await scrapeMetric(ld, 'lameduck_fallbacks_total')).toBe(0);
    ld.kill('SIGTERM');
    expect((await ld.exited).code).toBe(0);
  });

  it('the API server stops and restarts mid-drain: keeps retrying, then catches the flip made meanwhile', async () => {
    const {pod, flip} = routedPod('restart-0');
    const ld = await startSidecar(fx, pod, app.port, {LAMEDUCK_MODE: 'native', LAMEDUCK_FALLBACK_DELAY: '10s'});
    const triggerAt = Date.now();
    fx.api.store.deletePod(NS, 'restart-0', {gracePeriodSeconds: 30});
    const hook = prestop(ld);
    await waitForSliceWatch(fx, triggerAt);

    await fx.api.stop();
    flip();
    await sleep(1_500);
    // Nothing can be known while the API is down: still deregistering, still serving.
    expect(phaseAt(ld, 'settling')).toBeUndefined();
    expect(ld.logs.some((l) => l.level === 'warn' && l.msg === 'kubernetes api request failed: retrying')).toBe(true);
    const restartedAt = Date.now();
    await fx.api.start();
    const summary = await waitForSummary(ld);
    await hook;

    expect(summary).toMatchObject({deregistration: 'deregistered', deletionConfirmed: true});
    expect(summary.fallbackReason).toBeUndefined();
    const settlingAt = phaseAt(ld, 'settling')!;
    expect(settlingAt).toBeGreaterThanOrEqual(restartedAt);
    // Capped backoff (2 s) plus a request: it came back promptly, not at the fallback delay (10 s).
    expect(settlingAt - restartedAt).toBeLessThan(6_000);
    expect(await scrapeMetric(ld, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', code: 'error'})).toBeGreaterThanOrEqual(1);
    expect(await scrapeMetric(ld, 'lameduck_fallbacks_total')).toBe(0);
    ld.kill('SIGTERM');
    expect((await ld.exited).code).toBe(0);
  });
});
