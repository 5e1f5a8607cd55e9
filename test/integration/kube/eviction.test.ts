// A kubelet eviction (node pressure, graceful node shutdown) marks the pod with a
// DisruptionTarget condition but sets no deletionTimestamp, so its endpoint never turns `terminating`. The app's
// preStop (`/prestop`) starts the drain, /readyz answers 503 at once (readiness is the only way out of the Service),
// kubelet's prober marks the pod unready, the endpoint turns not-ready, and only then does the drain settle.
import {describe, expect, it} from '@jest/globals';
import {KUBELET_TERMINATION_EVENT_REASON, UNEXPLAINED_SIGNAL_EVENT_REASON} from '../../../proxy/src/kubelet-termination.js';
import {httpGet} from '../../../sim/http.js';
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
  sleep,
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
    // Kubelet's grace period is not in the API: the record was written at the trigger too, before anything settled.
    const provisional = ld.logs.findIndex((l) => l.msg === 'provisional drain summary');
    expect(provisional).toBeGreaterThanOrEqual(0);
    expect(provisional).toBeLessThan(ld.logs.findIndex((l) => l.msg === 'phase' && l.to === 'settling'));
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

  it('a hard eviction: the record of the drain is written at the trigger, so a SIGKILL a second later loses nothing of it', async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'hard-0', {app: 'hard'}, {terminationGracePeriodSeconds: 30});
    store.createPod(makePod('hard-1', '10.9.6.21', {app: 'hard'}));
    store.createService(makeService('hard', {app: 'hard'}));
    await fx.api.whenControllersIdle();
    const app = await startDemoApp({POD_NAME: 'hard-0'});
    const ld = await startSidecar(fx, self, app.port);
    // A request in flight when kubelet strikes.
    const slow = httpGet({host: ld.host, port: ld.trafficPort, path: '/slow?ms=20000', timeoutMs: 60_000}).catch((e: unknown) => e);
    await sleep(300);

    // Kubelet's eviction manager (hard threshold): the condition, then SIGTERM with a 1 s grace period that the API
    // does not show — the pod still says terminationGracePeriodSeconds: 30 and has no deletionTimestamp.
    store.patchPodStatus(NS, 'hard-0', (status) => {
      status.conditions = [
        ...(status.conditions ?? []),
        {type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message: 'The node was low on resource: memory.'},
      ];
    });
    ld.kill('SIGTERM');
    const provisional = await ld.waitForLog((l) => l.msg === 'provisional drain summary', 30_000);
    // Waiting for the Event before the SIGKILL keeps this test about behaviour, not speed: the point is that the
    // record does not wait for the drain's end (still deregistering here), which a 1 s SIGKILL would pre-empt.
    const until = Date.now() + 30_000;
    const recorded = () => store.events(NS).find((e) => e.reason === KUBELET_TERMINATION_EVENT_REASON && e.involvedObject.name === 'hard-0');
    while (!recorded() && Date.now() < until) await sleep(20);
    expect(phaseAt(ld, 'settling')).toBeUndefined();
    ld.kill('SIGKILL');
    await ld.exited;
    await slow;

    expect(provisional).toMatchObject({provisional: true, trigger: 'signal', atRisk: {requests: 1}});
    // The deadline lameduck assumed came from the spec (30 s minus the exit margin): it lay past kubelet's SIGKILL.
    expect(provisional.deadlineMs).toBe(25_000);
    expect(ld.logs.some((l) => l.msg === 'drain summary')).toBe(false);
    const event = recorded();
    expect(event).toMatchObject({type: 'Warning', involvedObject: {name: 'hard-0'}});
    expect(event!.message).toContain('draining 1 in-flight requests');
  }, 120_000);

  it('a pod being deleted (deletionTimestamp, grace period in the API) gets no provisional record', async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'del-0', {app: 'del'});
    store.createPod(makePod('del-1', '10.9.6.31', {app: 'del'}));
    store.createService(makeService('del', {app: 'del'}));
    await fx.api.whenControllersIdle();
    const app = await startDemoApp({POD_NAME: 'del-0'});
    const ld = await startSidecar(fx, self, app.port);
    store.deletePod(NS, 'del-0', {gracePeriodSeconds: 30});
    ld.kill('SIGTERM');
    await waitForSummary(ld);
    expect((await ld.exited).code).toBe(0);
    expect(ld.logs.some((l) => l.msg === 'provisional drain summary')).toBe(false);
    expect(store.events(NS).some((e) => e.reason === KUBELET_TERMINATION_EVENT_REASON && e.involvedObject.name === 'del-0')).toBe(false);
  }, 120_000);

  it('a SIGTERM the API does not explain yet (kubelet writes its condition asynchronously) gets the provisional record too', async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'sig-0', {app: 'sig'});
    store.createPod(makePod('sig-1', '10.9.6.41', {app: 'sig'}));
    store.createService(makeService('sig', {app: 'sig'}));
    await fx.api.whenControllersIdle();
    const app = await startDemoApp({POD_NAME: 'sig-0'});
    // The pod stays Ready in the API (no prober here), so the drain runs to its deadline: keep that short.
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_DRAIN_TIMEOUT: '3s'});
    ld.kill('SIGTERM');
    const provisional = await ld.waitForLog((l) => l.msg === 'provisional drain summary', 30_000);
    expect(provisional).toMatchObject({trigger: 'signal', why: expect.stringContaining('does not explain')});
    const summary = await waitForSummary(ld);
    expect(summary).toMatchObject({podTerminating: false, deadlineSource: 'config'});
    expect((await ld.exited).code).toBe(0);
    const events = store.events(NS).filter((e) => e.involvedObject.name === 'sig-0').map((e) => e.reason);
    expect(events).toContain(UNEXPLAINED_SIGNAL_EVENT_REASON);
    expect(events).not.toContain(KUBELET_TERMINATION_EVENT_REASON);
  }, 120_000);
});
