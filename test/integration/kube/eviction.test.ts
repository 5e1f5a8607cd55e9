// A kubelet eviction (node pressure, graceful node shutdown) marks the pod with a
// DisruptionTarget condition but sets no deletionTimestamp, so its endpoint never turns `terminating`. The app's
// preStop (`/prestop`) starts the drain, /readyz answers 503 at once (readiness is the only way out of the Service),
// kubelet's prober marks the pod unready, the endpoint turns not-ready, and only then does the drain settle.
import {describe, expect, it} from '@jest/globals';
import {startDemoApp} from '../../../sim/processes.js';
import {NS, makePod, makeService} from '../../support/kube-fixture.js';
import {
  createSelfPod,
  phaseAt,
  prestop,
  readyz,
  recordEndpointChanges,
  startReadinessProbe,
  startSidecar,
  useK8sFixture,
  waitForPhase,
  waitForSummary,
} from '../../support/k8s-harness.js';

const fx = useK8sFixture();

describe('eviction without deletionTimestamp', () => {
  it('/prestop drains, /readyz is 503 at once, the drain ends when the endpoint turns not ready', async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'ev-0', {app: 'ev'});
    store.createPod(makePod('ev-1', '10.9.6.11', {app: 'ev'}));
    store.createService(makeService('ev', {app: 'ev'}));
    await fx.api.whenControllersIdle();
    const app = await startDemoApp({POD_NAME: 'ev-0'});
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_MODE: 'native'});
    const endpoint = recordEndpointChanges(fx, 'ev-0');
    // A readiness prober that needs three failed probes in a row (kubelet's default failureThreshold).
    const probe = startReadinessProbe(fx, ld, 'ev-0', {periodMs: 100, failureThreshold: 3});

    // Kubelet: the DisruptionTarget condition, then the app container's preStop hook.
    store.patchPodStatus(NS, 'ev-0', (status) => {
      status.conditions = [
        ...(status.conditions ?? []),
        {type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message: 'The node was low on resource: memory.'},
      ];
    });
    expect(store.getPod(NS, 'ev-0')!.metadata.deletionTimestamp).toBeUndefined();
    const hook = prestop(ld);
    await waitForPhase(ld, 'deregistering');
    expect(await readyz(ld)).toBe(503);

    const summary = await waitForSummary(ld);
    const answer = await hook;
    await probe.stop();
    endpoint.stop();

    expect(summary).toMatchObject({trigger: 'prestop', podTerminating: true, deletionConfirmed: false, deregistration: 'deregistered'});
    // The endpoint never turned terminating; it went not-ready because kubelet marked the pod unready.
    const notReady = endpoint.changes.find((c) => c.conditions.ready === false);
    expect(notReady).toMatchObject({service: 'ev', conditions: {ready: false, serving: false, terminating: false}});
    const markedAt = probe.changes.find((c) => !c.ready)!.at;
    expect(notReady!.at).toBeGreaterThanOrEqual(markedAt);
    const settlingAt = phaseAt(ld, 'settling')!;
    expect(settlingAt).toBeGreaterThanOrEqual(notReady!.at);
    // /prestop was answered only after closing, when the app could go.
    expect(answer.status).toBe(200);
    expect(answer.answeredAt).toBeGreaterThanOrEqual(phaseAt(ld, 'releasing')!);

    ld.kill('SIGTERM'); // native sidecar: after the app exited
    expect((await ld.exited).code).toBe(0);
  }, 120_000);
});
