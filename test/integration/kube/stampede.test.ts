// Fifty pods of a rollout drain at once against one API server that answers 429 + Retry-After for 3 s (docs/reliability.md,
// fault 17): every drain still ends correctly, each one waits as told instead of hammering, and the requests are counted.
import {describe, expect, it} from '@jest/globals';
import {NS, counterValue, deadline, makePod, makeService, useFixture, type Sidecar} from '../../support/kube-fixture.js';

const PODS = 50;
const fx = useFixture();

describe('fifty drains at once', () => {
  it('all deregister through a 429 storm, honouring Retry-After, with jittered first lists', async () => {
    const {store} = fx.api;
    for (let i = 0; i < PODS; i++) store.createPod(makePod(`fleet-${i}`, `10.5.${Math.floor(i / 200)}.${(i % 200) + 10}`, {app: 'fleet'}));
    for (let i = 0; i < 5; i++) store.createPod(makePod(`fleet-new-${i}`, `10.5.1.${i + 10}`, {app: 'fleet'}));
    store.createService(makeService('fleet', {app: 'fleet'}));
    // The rollout deletes the old pods; their endpoints turn terminating while the new ones stay ready.
    for (let i = 0; i < PODS; i++) store.deletePod(NS, `fleet-${i}`, {gracePeriodSeconds: 30});
    await fx.api.whenControllersIdle();

    const sidecars: Sidecar[] = [];
    for (let i = 0; i < PODS; i++) sidecars.push(fx.sidecar({name: `fleet-${i}`, tuning: {startJitterMs: 250}}));
    const since = Date.now();
    fx.api.faults.throttle({untilMs: 3_000, retryAfterSeconds: 1});
    // One deadline per pod, as each sidecar has its own.
    const deadlines = sidecars.map(() => deadline(20_000));
    const outcomes = await Promise.all(sidecars.map((s, i) => s.cluster.awaitDeregistration({signal: deadlines[i]!.signal, fallbackDelayMs: 15_000})));
    for (const d of deadlines) d.cancel();

    expect(outcomes.every((o) => o.kind === 'deregistered')).toBe(true);
    let throttled = 0;
    for (const s of sidecars) {
      const lists = await counterValue(s.metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list'});
      const got429 = await counterValue(s.metrics, 'lameduck_kube_api_requests_total', {code: '429'});
      throttled += got429;
      // Waiting a whole second after each 429 leaves room for at most three 429s in a 3 s storm (the error backoff,
      // 50 ms doubling to 400 ms here, would have made ten attempts).
      expect(got429).toBeLessThanOrEqual(3);
      expect(lists).toBeLessThanOrEqual(4);
    }
    expect(throttled).toBeGreaterThanOrEqual(PODS);
    // The first lists were spread over the jitter window, not fired in one burst.
    const firstArrivals = fx.api.requests
      .filter({since})
      .filter((r) => r.path === `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`)
      .map((r) => r.time)
      .sort((a, b) => a - b)
      .slice(0, PODS);
    expect(firstArrivals.at(-1)! - firstArrivals[0]!).toBeGreaterThan(100);
    // All of it is on the server's books too: every request each sidecar counted reached the server.
    let counted = 0;
    for (const s of sidecars) counted += await counterValue(s.metrics, 'lameduck_kube_api_requests_total');
    expect(fx.api.requests.count({since})).toBe(counted);
  });
});
