// Two Services select the pod, spread over three EndpointSlices that turn not-ready at
// different times. The real lameduck keeps serving every request until the last slice flips, then settles; it never
// closes earlier — shown with the load's request timestamps against the flip times and lameduck's phase lines.
import {describe, expect, it} from '@jest/globals';
import {startDemoApp} from '../../../sim/processes.js';
import {
  NS,
  READY,
  TERMINATING_DONE,
  TERMINATING_SERVING,
  endpointOf,
  makePod,
  makeService,
  makeSlice,
} from '../../support/kube-fixture.js';
import {createSelfPod, failures, phaseAt, readyz, sleep, startLoad, startSidecar, useK8sFixture, waitForSliceWatch, waitForSummary} from '../../support/k8s-harness.js';

const SETTLE_MS = 300;
const QUIET_MS = 300;
/** kube-proxy's reaction to the last flip: new connections go to the peer this long after it. */
const LB_LAG_MS = 200;

const fx = useK8sFixture();

describe('two Services, three slices flipping at different times', () => {
  it('serves every request until the last slice flips, then settles; never closes earlier', async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'multi-0', {app: 'multi'});
    const peer = store.createPod(makePod('multi-1', '10.9.0.11', {app: 'multi'}));
    store.createService(makeService('multi-web', {app: 'multi'}, {manual: true}));
    store.createService(makeService('multi-admin', {app: 'multi'}, {manual: true}));
    // The pod sits in two slices of multi-web (as while the controller moves an endpoint) and in multi-admin.
    store.putEndpointSlice(makeSlice('multi-web-a', 'multi-web', [endpointOf(self, READY), endpointOf(peer, READY)]));
    store.putEndpointSlice(makeSlice('multi-web-b', 'multi-web', [endpointOf(self, READY)]));
    store.putEndpointSlice(makeSlice('multi-admin-a', 'multi-admin', [endpointOf(self, READY)]));

    const [app, next] = await Promise.all([startDemoApp({POD_NAME: 'multi-0'}), startDemoApp({POD_NAME: 'multi-1'})]);
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_SETTLE: `${SETTLE_MS}ms`, LAMEDUCK_QUIET: `${QUIET_MS}ms`});
    const load = startLoad({host: '127.0.0.1', port: ld.trafficPort, rps: 100, keepAliveFraction: 0.5, slowFraction: 0.05, slowMs: 400, durationMs: 60_000});
    await sleep(500);

    // Kubelet: the pod is deleted (deletionTimestamp), the classic sidecar gets SIGTERM at once.
    const triggerAt = Date.now();
    store.deletePod(NS, 'multi-0', {gracePeriodSeconds: 30});
    ld.kill('SIGTERM');
    await waitForSliceWatch(fx, triggerAt);

    // The EndpointSlice controller, slice by slice. Terminating but serving while the peer is ready: this slice no
    // longer routes it...
    await sleep(400);
    store.putEndpointSlice(makeSlice('multi-web-a', 'multi-web', [endpointOf(self, TERMINATING_SERVING), endpointOf(peer, READY)]));
    const flip1 = Date.now();
    await sleep(400);
    store.putEndpointSlice(makeSlice('multi-admin-a', 'multi-admin', [endpointOf(self, TERMINATING_DONE)]));
    await sleep(400);
    // ...but the stale ready copy in multi-web-b still does: lameduck is still deregistering and still ready (the
    // API confirmed a deletion, so readiness stays up and kube-proxy's terminating fallback keeps working).
    expect(phaseAt(ld, 'settling')).toBeUndefined();
    expect(await readyz(ld)).toBe(200);
    const lastFlip = Date.now();
    store.putEndpointSlice(makeSlice('multi-web-b', 'multi-web', [endpointOf(self, TERMINATING_SERVING)]));

    await sleep(LB_LAG_MS);
    load.setTarget('127.0.0.1', next.port);
    const summary = await waitForSummary(ld);
    const exit = await ld.exited;
    await sleep(200);
    const report = await load.stop();

    // Nothing failed, from before the trigger until lameduck was gone.
    expect(failures(report.records, ld)).toEqual([]);
    const viaLameduck = report.records.filter((r) => r.pod === 'multi-0');
    expect(viaLameduck.filter((r) => r.start > triggerAt && r.start < flip1).length).toBeGreaterThan(10);
    expect(viaLameduck.filter((r) => r.start > flip1 && r.start < lastFlip).length).toBeGreaterThan(20);
    // Served after the last flip too: the LB only learns of it later.
    expect(viaLameduck.some((r) => r.start > lastFlip)).toBe(true);

    // Settling began only after the last flip (and promptly: the watch delivered it); closing at least `settle`
    // after it and `quiet` after the last request lameduck received.
    const settlingAt = phaseAt(ld, 'settling')!;
    const closingAt = phaseAt(ld, 'closing')!;
    expect(settlingAt).toBeGreaterThanOrEqual(lastFlip);
    expect(settlingAt - lastFlip).toBeLessThan(2_000);
    expect(closingAt - lastFlip).toBeGreaterThanOrEqual(SETTLE_MS);
    const lastToLameduck = Math.max(...viaLameduck.map((r) => r.start));
    expect(closingAt - lastToLameduck).toBeGreaterThanOrEqual(QUIET_MS - 50);

    // The verdict as logged: both Services, then multi-web alone (held by the stale copy), then none.
    const routing = ld.logs.filter((l) => l.msg === 'routing').map((l) => (l.routedBy as {service: string}[]).map((r) => r.service));
    expect(routing[0]).toEqual(['multi-admin', 'multi-web']);
    expect(routing).toContainEqual(['multi-web']);
    expect(routing.at(-1)).toEqual([]);
    expect(summary).toMatchObject({trigger: 'signal', deregistration: 'deregistered', deletionConfirmed: true, podTerminating: true});
    expect(summary.cut).toEqual({requests: 0, upgrades: 0, connections: 0});
    expect(exit.code).toBe(0);
  }, 120_000);
});
