// The EndpointSlice watch is fragile by nature: 410 Expired, dropped connections, API server restarts and stalled
// watches must each still end with the flip caught (docs/reliability.md, faults 2, 5, 6).
import {afterEach, describe, expect, it} from '@jest/globals';
import type {Metrics} from '../../../proxy/src/metrics.js';
import type {Pod} from '../../../sim/kube/types.js';
import {
  counterValue,
  deadline,
  makePod,
  routeInOwnSlice,
  sleepMs,
  useFixture,
  waitFor,
} from '../../support/kube-fixture.js';

const fx = useFixture();
afterEach(async () => {
  fx.api.faults.reset();
  await fx.api.start(); // no-op unless a test left it stopped
});

/** A pod in one manually managed Service slice, ready; returns a function that flips its endpoint to not serving. */
function routedPod(name: string, ip: string): {pod: Pod; flip(): void} {
  return routeInOwnSlice(fx, fx.api.store.createPod(makePod(name, ip, {app: name})));
}

/** Until this sidecar's own watch is open (other tests' watches may still linger on the server). */
async function watchOpen(metrics: Metrics): Promise<void> {
  await waitFor(async () => (await counterValue(metrics, 'lameduck_kube_api_requests_total', {verb: 'watch', code: 'ok'})) >= 1, 5_000, 'the watch');
}

function track(p: Promise<unknown>): {resolvedAt(): number} {
  let at = 0;
  void p.then(() => (at = Date.now()));
  return {resolvedAt: () => at};
}

describe('endpoint watch faults', () => {
  it('410 Expired mid-drain (history compacted): re-lists and still catches the flip', async () => {
    const {flip} = routedPod('expire', '10.2.0.10');
    // No periodic re-list in this test: only the 410 path can bring the watch back.
    const {cluster, metrics, logs} = fx.sidecar({name: 'expire', tuning: {relistIntervalMs: 60_000}});
    const d = deadline(15_000);
    const outcome = cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 10_000});
    const t = track(outcome);
    await watchOpen(metrics);
    fx.api.faults.compact();
    await waitFor(() => logs.some((l) => l.msg.includes('expired (410)')), 5_000, 'the 410');
    expect(t.resolvedAt()).toBe(0);
    const flippedAt = Date.now();
    flip();
    await expect(outcome).resolves.toEqual({kind: 'deregistered'});
    d.cancel();
    expect(t.resolvedAt()).toBeGreaterThanOrEqual(flippedAt);
    expect(await counterValue(metrics, 'lameduck_watch_restarts_total')).toBeGreaterThanOrEqual(1);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list'})).toBeGreaterThanOrEqual(2);
  });

  it('the watch connection is cut: re-lists after a backoff and catches the flip', async () => {
    const {flip} = routedPod('cut', '10.2.0.20');
    const {cluster, metrics} = fx.sidecar({name: 'cut', tuning: {relistIntervalMs: 60_000}});
    const d = deadline(15_000);
    const outcome = cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 10_000});
    const t = track(outcome);
    await watchOpen(metrics);
    const listsBefore = await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list'});
    fx.api.faults.dropWatches();
    flip(); // while no watch is open: only the re-list can see it
    await expect(outcome).resolves.toEqual({kind: 'deregistered'});
    d.cancel();
    expect(t.resolvedAt()).toBeGreaterThan(0);
    expect(await counterValue(metrics, 'lameduck_watch_restarts_total')).toBeGreaterThanOrEqual(1);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list'})).toBe(listsBefore + 1);
  });

  it('the API server stops and restarts mid-drain: keeps retrying and catches the flip made meanwhile', async () => {
    const {flip} = routedPod('restart', '10.2.0.30');
    const {cluster, metrics} = fx.sidecar({name: 'restart', tuning: {relistIntervalMs: 60_000}});
    const d = deadline(15_000);
    const outcome = cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 10_000});
    const t = track(outcome);
    await watchOpen(metrics);
    await fx.api.stop();
    flip();
    await sleepMs(1_200);
    expect(t.resolvedAt()).toBe(0); // the API is down: nothing can be known
    const restartedAt = Date.now();
    await fx.api.start();
    await expect(outcome).resolves.toEqual({kind: 'deregistered'});
    d.cancel();
    expect(t.resolvedAt()).toBeGreaterThanOrEqual(restartedAt);
    expect(t.resolvedAt() - restartedAt).toBeLessThan(3_000);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', code: 'error'})).toBeGreaterThanOrEqual(1);
    expect(await counterValue(metrics, 'lameduck_fallbacks_total')).toBe(0);
  });

  it('the API server stays down past the fallback delay: fallback `unreachable` once the delay has passed', async () => {
    routedPod('down', '10.2.0.40');
    const {cluster, metrics, logs} = fx.sidecar({name: 'down'});
    const d = deadline(15_000);
    const outcome = cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 1_500});
    await watchOpen(metrics);
    const t0 = Date.now();
    await fx.api.stop();
    await expect(outcome).resolves.toEqual({kind: 'fallback', reason: 'unreachable'});
    d.cancel();
    // Measured from the call (which was a little before t0), bounded by one short backoff after it.
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect(await counterValue(metrics, 'lameduck_fallbacks_total', {reason: 'unreachable'})).toBe(1);
    expect(logs.some((l) => l.level === 'warn' && l.msg.includes('timed fallback'))).toBe(true);
  });

  it('the API server is unreachable at the trigger: fallback `unreachable` after the fallback delay, not before', async () => {
    routedPod('early', '10.2.0.50');
    await fx.api.stop();
    const {cluster, metrics} = fx.sidecar({name: 'early'});
    const d = deadline(15_000);
    const t0 = Date.now();
    await expect(cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 1_200})).resolves.toEqual({kind: 'fallback', reason: 'unreachable'});
    d.cancel();
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1_150);
    expect(took).toBeLessThan(2_500);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list', code: 'error'})).toBeGreaterThanOrEqual(2);
  });

  it('a stalled watch (open, silent): the periodic re-list catches the flip and counts the missed events', async () => {
    const {flip} = routedPod('stall', '10.2.0.60');
    const {cluster, metrics, logs} = fx.sidecar({name: 'stall', tuning: {relistIntervalMs: 700}});
    const d = deadline(15_000);
    const outcome = cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 10_000});
    await watchOpen(metrics);
    fx.api.faults.stallWatches(true);
    const flippedAt = Date.now();
    flip();
    await expect(outcome).resolves.toEqual({kind: 'deregistered'});
    d.cancel();
    expect(Date.now() - flippedAt).toBeLessThan(3_000);
    expect(await counterValue(metrics, 'lameduck_watch_restarts_total')).toBeGreaterThanOrEqual(1);
    expect(logs.some((l) => l.level === 'warn' && l.msg.includes('re-list found endpoint changes the watch had not delivered'))).toBe(true);
  });
});
