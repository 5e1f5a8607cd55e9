// The native sidecar order. lameduck runs as an init container with restartPolicy Always, so
// kubelet runs the *app's* preStop hook (`GET /prestop`) first, SIGTERMs the app once the hook returned, and
// SIGTERMs lameduck only after the app exited. The hook starts the drain and returns at release; lameduck stays up
// (its listeners closed) until its SIGTERM, then exits at once.
import {describe, expect, it} from '@jest/globals';
import {httpGet} from '../../../sim/http.js';
import {startDemoApp} from '../../../sim/processes.js';
import {NS, makePod, makeService} from '../../support/kube-fixture.js';
import {createSelfPod, phaseAt, prestop, sleep, startSidecar, useK8sFixture, waitForSummary} from '../../support/k8s-harness.js';

const fx = useK8sFixture();

describe('native sidecar termination order', () => {
  it("the app's preStop starts the drain; SIGTERM comes after release and the app's exit; lameduck exits at once", async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'nat-0', {app: 'nat'});
    store.createPod(makePod('nat-1', '10.9.8.11', {app: 'nat'}));
    store.createService(makeService('nat', {app: 'nat'}));
    await fx.api.whenControllersIdle();
    const app = await startDemoApp({POD_NAME: 'nat-0'});
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_MODE: 'native'});

    // kubelet: delete -> the app's preStop hook; no signal to anyone yet.
    store.deletePod(NS, 'nat-0', {gracePeriodSeconds: 30});
    const hook = await prestop(ld);
    expect(hook.status).toBe(200);
    const summary = await waitForSummary(ld);
    expect(summary).toMatchObject({trigger: 'prestop', deletionConfirmed: true, deregistration: 'deregistered'});
    expect(hook.answeredAt).toBeGreaterThanOrEqual(phaseAt(ld, 'releasing')!);
    // The hook returned: kubelet SIGTERMs the app (a legacy app: it dies at once) and waits for it to exit.
    app.kill('SIGTERM');
    await app.exited;
    // lameduck is still there, done and waiting for its own signal.
    await sleep(300);
    expect(ld.child.exitCode).toBeNull();
    expect(ld.logs.some((l) => l.msg === 'signal received')).toBe(false);
    const status = JSON.parse((await httpGet({host: ld.host, port: ld.adminPort, path: '/status'})).body) as {state: string};
    expect(status.state).toBe('done');

    const signalledAt = Date.now();
    ld.kill('SIGTERM');
    const exit = await ld.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(3_000); // at once: nothing left to drain (bound generous for a busy machine)
    // The second trigger was a no-op: one drain, one summary.
    expect(ld.logs.filter((l) => l.msg === 'drain summary')).toHaveLength(1);
    expect(ld.logs.find((l) => l.msg === 'signal received')).toMatchObject({state: 'done'});
  }, 120_000);
});
