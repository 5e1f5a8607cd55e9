// Who may start a drain through /prestop.
// - Without a token while the pod is not terminating (a container restart after a failed liveness probe, a stray
//   caller): answered after the ~2 s re-check, no drain, the pod keeps serving and stays ready. Once the pod has a
//   deletionTimestamp the same call starts the drain and is answered after closing.
// - A POST with the token (a forced drain; kubelet's httpGet hook only sends GET), on a healthy pod: /readyz turns 503, and the drain ends only once kubelet has marked the pod not
//   ready and its endpoint turned not-ready; lameduck then exits at done (no SIGTERM will come).
import {beforeAll, describe, expect, it} from '@jest/globals';
import {Agent} from 'node:http';
import {httpGet} from '../../../sim/http.js';
import {startDemoApp, type DemoApp} from '../../../sim/processes.js';
import {NS, makePod, makeService} from '../../support/kube-fixture.js';
import {
  createSelfPod,
  lameduckRequests,
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

const TOKEN = 'prestop-token-0123456789abcdef';

const fx = useK8sFixture();
let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp({POD_NAME: 'gate'});
  fx.api.store.createPod(makePod('gate-peer', '10.9.7.2', {app: 'gate'}));
  fx.api.store.createService(makeService('gate', {app: 'gate'}));
});

describe('/prestop gate', () => {
  it('without token: nothing to drain while the pod is healthy; drains once the pod is being deleted', async () => {
    const self = createSelfPod(fx, 'gate-0', {app: 'gate'});
    await fx.api.whenControllersIdle();
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_PRESTOP_TOKEN: TOKEN});
    const probe = startReadinessProbe(fx, ld, 'gate-0', {failureThreshold: 1});
    const since = Date.now();

    const first = await prestop(ld);
    expect(first.status).toBe(200);
    expect(first.body).toContain('nothing to drain');
    expect(first.tookMs).toBeGreaterThanOrEqual(1_900);
    expect(first.tookMs).toBeLessThan(15_000); // the re-check, plus the one-time client import on a busy machine
    expect(ld.logs.some((l) => l.msg === 'phase')).toBe(false);
    expect(await readyz(ld)).toBe(200);
    // Kubelet never saw it unready, and keep-alive clients are not told to re-dial.
    expect(probe.changes).toEqual([]);
    const agent = new Agent({keepAlive: true});
    const through = await httpGet({host: '127.0.0.1', port: ld.trafficPort, path: '/', agent});
    agent.destroy();
    expect(through.status).toBe(200);
    expect(through.headers.connection).toBe('keep-alive');
    // It only asked about its pod (the re-checks); it never looked at endpoints.
    const asked = lameduckRequests(fx, since);
    expect(asked.length).toBeGreaterThanOrEqual(1);
    expect(asked.every((r) => r.resource === 'pods' && r.verb === 'get' && r.name === 'gate-0')).toBe(true);

    // Now the pod is deleted: the same call starts the drain and is answered once closing is over.
    fx.api.store.deletePod(NS, 'gate-0', {gracePeriodSeconds: 30});
    const second = prestop(ld);
    await waitForPhase(ld, 'deregistering');
    expect(await readyz(ld)).toBe(200); // a confirmed deletion keeps readiness until closing
    const summary = await waitForSummary(ld);
    const answer = await second;
    await probe.stop();
    expect(summary).toMatchObject({trigger: 'prestop', deletionConfirmed: true, deregistration: 'deregistered'});
    expect(answer.status).toBe(200);
    expect(answer.answeredAt).toBeGreaterThanOrEqual(phaseAt(ld, 'releasing')!);
    expect(phaseAt(ld, 'closing')!).toBeLessThanOrEqual(phaseAt(ld, 'releasing')!);
    ld.kill('SIGTERM');
    expect((await ld.exited).code).toBe(0);
  }, 120_000);

  it('POST with the token on a healthy pod: 503, ends after the pod is marked unready and its endpoint not ready, exits at done', async () => {
    const self = createSelfPod(fx, 'gate-1', {app: 'gate'});
    await fx.api.whenControllersIdle();
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_PRESTOP_TOKEN: TOKEN});
    const endpoint = recordEndpointChanges(fx, 'gate-1');
    const probe = startReadinessProbe(fx, ld, 'gate-1', {periodMs: 100, failureThreshold: 3});

    const hook = prestop(ld, {token: TOKEN, method: 'POST'});
    // Readiness stays up only while the trigger's pod lookup has not answered (it might still confirm a deletion).
    await ld.waitForLog((l) => l.msg === 'drain started', 45_000);
    expect(await readyz(ld)).toBe(503);
    const summary = await waitForSummary(ld);
    const answer = await hook;
    const exit = await ld.exited; // no SIGTERM: a drain of a pod that is not terminating exits at done
    await probe.stop();
    endpoint.stop();

    expect(summary).toMatchObject({trigger: 'token', podTerminating: false, deletionConfirmed: false, deregistration: 'deregistered'});
    expect(fx.api.store.getPod(NS, 'gate-1')!.metadata.deletionTimestamp).toBeUndefined();
    const markedAt = probe.changes.find((c) => !c.ready)!.at;
    const notReady = endpoint.changes.find((c) => c.conditions.ready === false)!;
    expect(notReady.conditions).toEqual({ready: false, serving: false, terminating: false});
    expect(notReady.at).toBeGreaterThanOrEqual(markedAt);
    expect(phaseAt(ld, 'settling')!).toBeGreaterThanOrEqual(notReady.at);
    expect(answer.status).toBe(200);
    expect(exit.code).toBe(0);
  }, 120_000);
});
