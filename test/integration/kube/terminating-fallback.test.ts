// The pod's Service has no other ready endpoint. kube-proxy keeps routing to the terminating
// but serving pod (KEP-1669 fallback), so the real lameduck keeps serving — and keeps /readyz up, so that the pod
// stays `serving` — until another endpoint turns ready; only then does it settle. Zero failed requests.
import {describe, expect, it} from '@jest/globals';
import {startDemoApp} from '../../../sim/processes.js';
import {NS, makePod, makeService} from '../../support/kube-fixture.js';
import {
  createSelfPod,
  failures,
  phaseAt,
  recordEndpointChanges,
  sleep,
  startLoad,
  startReadinessProbe,
  startSidecar,
  useK8sFixture,
  waitForSliceWatch,
  waitForSummary,
} from '../../support/k8s-harness.js';

const SETTLE_MS = 300;
const LB_LAG_MS = 200;

const fx = useK8sFixture();

describe('terminating fallback', () => {
  it('keeps serving while the Service has no other ready endpoint, settles once one turns ready; nothing fails', async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'fb-0', {app: 'fb'});
    // The replacement exists but is not ready yet (still starting).
    store.createPod(makePod('fb-1', '10.9.5.11', {app: 'fb'}, {ready: false}));
    store.createService(makeService('fb', {app: 'fb'}));
    await fx.api.whenControllersIdle();

    const [app, replacement] = await Promise.all([startDemoApp({POD_NAME: 'fb-0'}), startDemoApp({POD_NAME: 'fb-1'})]);
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_SETTLE: `${SETTLE_MS}ms`});
    const probe = startReadinessProbe(fx, ld, 'fb-0');
    const endpoint = recordEndpointChanges(fx, 'fb-0');
    const load = startLoad({host: '127.0.0.1', port: ld.trafficPort, rps: 80, keepAliveFraction: 0.5, slowFraction: 0.05, slowMs: 400, durationMs: 60_000});
    await sleep(300);

    const triggerAt = Date.now();
    store.deletePod(NS, 'fb-0', {gracePeriodSeconds: 30});
    ld.kill('SIGTERM');
    await waitForSliceWatch(fx, triggerAt);
    await sleep(1_500);

    // Terminating, still serving (its readiness stayed up: the API confirmed the deletion), the only routable
    // endpoint: still deregistering, and saying why.
    expect(phaseAt(ld, 'settling')).toBeUndefined();
    expect(store.endpointSlices(NS, 'fb')[0]!.endpoints!.find((e) => e.targetRef?.name === 'fb-0')!.conditions).toEqual({
      ready: false,
      serving: true,
      terminating: true,
    });
    expect(probe.changes).toEqual([]); // kubelet never saw it unready
    expect(ld.logs.filter((l) => l.msg === 'routing').at(-1)).toMatchObject({routed: true, routedBy: [{service: 'fb', why: 'terminatingFallback'}]});

    // The replacement turns ready; kube-proxy follows a little later.
    const readyAt = Date.now();
    store.setPodReady(NS, 'fb-1', true);
    await sleep(LB_LAG_MS);
    load.setTarget('127.0.0.1', replacement.port);
    const summary = await waitForSummary(ld);
    const exit = await ld.exited;
    await sleep(200);
    const report = await load.stop();
    await probe.stop();
    endpoint.stop();

    expect(failures(report.records, ld)).toEqual([]);
    const viaLameduck = report.records.filter((r) => r.pod === 'fb-0');
    // It carried the Service's traffic all along the fallback window.
    expect(viaLameduck.filter((r) => r.start > triggerAt + 500 && r.start < readyAt).length).toBeGreaterThan(40);
    const settlingAt = phaseAt(ld, 'settling')!;
    expect(settlingAt).toBeGreaterThanOrEqual(readyAt);
    expect(phaseAt(ld, 'closing')! - settlingAt).toBeGreaterThanOrEqual(SETTLE_MS - 20);
    expect(summary).toMatchObject({trigger: 'signal', deregistration: 'deregistered', deletionConfirmed: true});
    // Readiness dropped only at closing: kubelet's view flipped after lameduck stopped accepting.
    expect(probe.changes[0]?.ready ?? false).toBe(false);
    expect(probe.changes.every((c) => c.at >= phaseAt(ld, 'closing')!)).toBe(true);
    expect(exit.code).toBe(0);
  }, 120_000);
});
