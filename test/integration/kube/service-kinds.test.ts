// Services are judged by how clients reach them (docs/kubernetes.md "Routing by Service kind"), with the real lameduck
// against the simulated API server and its EndpointSlice controller:
// - a headless Service is reached through DNS: it stops routing the pod as soon as the endpoint is not ready (no
//   terminating fallback), and settle then lasts LAMEDUCK_DNS_SETTLE, since clients keep dialling a cached address;
// - a Service with no other endpoint at all (a single-replica StatefulSet or Recreate Deployment) holds the pod
//   through the terminating fallback only for a short grace, then settling serves while requests keep arriving.
import {describe, expect, it} from '@jest/globals';
import {httpGet} from '../../../sim/http.js';
import {startDemoApp} from '../../../sim/processes.js';
import {SOLE_ENDPOINT_GRACE_MS} from '../../../proxy/src/kube/routing-hold.js';
import {NS, makePod, makeService} from '../../support/kube-fixture.js';
import {createSelfPod, phaseAt, sleep, startSidecar, useK8sFixture, waitForPhase, waitForSummary} from '../../support/k8s-harness.js';

const fx = useK8sFixture();
const DNS_SETTLE_MS = 2_500;

async function status(ld: {host: string; adminPort: number}): Promise<Record<string, unknown>> {
  return JSON.parse((await httpGet({host: ld.host, port: ld.adminPort, path: '/status', timeoutMs: 10_000})).body) as Record<string, unknown>;
}

describe('routing by Service kind', () => {
  it('a headless Service: routed while ready only; settle stretches to the DNS settle, visible in /status and the summary', async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'hl-0', {app: 'hl'});
    store.createPod(makePod('hl-1', '10.9.8.11', {app: 'hl'}));
    store.createService(makeService('hl', {app: 'hl'}, {spec: {clusterIP: 'None'}}));
    store.createService(makeService('hl-web', {app: 'hl'}));
    await fx.api.whenControllersIdle();
    const app = await startDemoApp({POD_NAME: 'hl-0'});
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_DNS_SETTLE: `${DNS_SETTLE_MS}ms`});

    store.deletePod(NS, 'hl-0', {gracePeriodSeconds: 30});
    ld.kill('SIGTERM');
    const settlingAt = await waitForPhase(ld, 'settling');
    const during = await status(ld);
    const summary = await waitForSummary(ld);
    expect((await ld.exited).code).toBe(0);

    // The headless Service was never a reason to hold (CoreDNS publishes ready endpoints only)...
    const routing = ld.logs.filter((l) => l.msg === 'routing');
    expect(routing.at(-1)).toMatchObject({routed: false, headless: ['hl']});
    expect(routing.flatMap((l) => l.routedBy as {via: string; why: string}[]).filter((r) => r.why === 'terminatingFallback')).toEqual([]);
    // ...but its clients may still dial the cached address: settle lasted the DNS settle, not LAMEDUCK_SETTLE (300 ms).
    expect(during).toMatchObject({state: 'settling', dnsSettleMs: expect.any(Number)});
    expect(summary.dnsSettleMs).toBeGreaterThan(300);
    expect(summary.dnsSettleMs).toBeLessThanOrEqual(DNS_SETTLE_MS);
    expect(phaseAt(ld, 'closing')! - settlingAt).toBeGreaterThanOrEqual(summary.dnsSettleMs! - 50);
  }, 120_000);

  it('a headless Service listed in LAMEDUCK_IGNORE_SERVICES does not stretch settle', async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'hi-0', {app: 'hi'});
    store.createService(makeService('hi', {app: 'hi'}, {spec: {clusterIP: 'None'}}));
    await fx.api.whenControllersIdle();
    const app = await startDemoApp({POD_NAME: 'hi-0'});
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_DNS_SETTLE: '60s', LAMEDUCK_IGNORE_SERVICES: 'hi'});
    store.deletePod(NS, 'hi-0', {gracePeriodSeconds: 30});
    ld.kill('SIGTERM');
    const summary = await waitForSummary(ld);
    expect(summary.dnsSettleMs).toBeUndefined();
    // Stretched, settle would have run to the deadline's reserve (about 20 s).
    expect(summary.phasesMs.settling).toBeLessThan(10_000);
  }, 120_000);

  it('the only endpoint of its Service: the terminating fallback holds for a grace, then the drain moves on', async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'solo-0', {app: 'solo'});
    store.createService(makeService('solo', {app: 'solo'}));
    await fx.api.whenControllersIdle();
    const app = await startDemoApp({POD_NAME: 'solo-0'});
    const ld = await startSidecar(fx, self, app.port);

    const triggerAt = Date.now();
    store.deletePod(NS, 'solo-0', {gracePeriodSeconds: 30});
    ld.kill('SIGTERM');
    await ld.waitForLog((l) => l.msg === 'routing' && l.routed === true, 30_000);
    await sleep(1_000);
    // Held: kube-proxy still sends the Service's traffic here, and a replacement might still show up.
    expect(phaseAt(ld, 'settling')).toBeUndefined();
    expect(ld.logs.filter((l) => l.msg === 'routing').at(-1)).toMatchObject({routed: true, routedBy: [{service: 'solo', why: 'terminatingFallback', sole: true}]});

    const summary = await waitForSummary(ld);
    expect((await ld.exited).code).toBe(0);
    expect(ld.logs.some((l) => l.msg === 'sole endpoint: no other endpoint appeared, ending the terminating-fallback hold')).toBe(true);
    expect(summary).toMatchObject({deregistration: 'deregistered', cut: {requests: 0, upgrades: 0, connections: 0}});
    // Not at the deadline (25 s), and not before the grace.
    expect(phaseAt(ld, 'settling')! - triggerAt).toBeGreaterThanOrEqual(SOLE_ENDPOINT_GRACE_MS);
    expect(summary.drainMs).toBeLessThan(summary.deadlineMs);
  }, 120_000);
});
