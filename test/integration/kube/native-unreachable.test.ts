// The API server cannot be reached when the app's preStop hook calls /prestop (with the token, as the chart's hook
// sends it). A native sidecar gets SIGTERM only after the app exited, so releasing the app at once would drop its
// traffic: it starts the timed fallback drain instead. (A classic sidecar, for contrast, answers after the 2 s re-check and starts nothing:
// kubelet's SIGTERM, sent to it at the same time, is what drains it.)
import {describe, expect, it} from '@jest/globals';
import {startDemoApp} from '../../../sim/processes.js';
import {NS, makeService} from '../../support/kube-fixture.js';
import {createSelfPod, phaseAt, prestop, readyz, startSidecar, useK8sFixture, waitForPhase, waitForSummary} from '../../support/k8s-harness.js';

const FALLBACK_MS = 1_500;
const TOKEN = 'unreachable-token-0123456789';

const fx = useK8sFixture();

describe('/prestop with the API unreachable', () => {
  it('native: starts the fallback drain and answers after it; classic: answers after the re-check, drains nothing', async () => {
    const {store} = fx.api;
    const nativePod = createSelfPod(fx, 'un-0', {app: 'un'});
    const classicPod = createSelfPod(fx, 'un-1', {app: 'un'});
    store.createService(makeService('un', {app: 'un'}));
    const app = await startDemoApp({POD_NAME: 'un'});
    const env = {LAMEDUCK_FALLBACK_DELAY: `${FALLBACK_MS}ms`, LAMEDUCK_DRAIN_TIMEOUT: '15s', LAMEDUCK_PRESTOP_TOKEN: TOKEN};
    const [native, classic] = await Promise.all([
      startSidecar(fx, nativePod, app.port, {...env, LAMEDUCK_MODE: 'native'}),
      startSidecar(fx, classicPod, app.port, {...env, LAMEDUCK_MODE: 'classic'}),
    ]);

    store.deletePod(NS, 'un-0', {gracePeriodSeconds: 30});
    await fx.api.stop();
    const [nativeHook, classicHook] = [prestop(native, {token: TOKEN}), prestop(classic, {token: TOKEN})];

    // Native: the drain runs on the timed fallback; readiness drops at once (no deletion could be confirmed).
    await waitForPhase(native, 'deregistering');
    expect(await readyz(native)).toBe(503);
    const summary = await waitForSummary(native);
    const answer = await nativeHook;
    expect(native.logs.some((l) => l.level === 'warn' && l.msg === 'prestop: API cannot tell, native mode: fallback drain')).toBe(true);
    expect(summary).toMatchObject({trigger: 'prestop', deregistration: 'fallback', fallbackReason: 'unreachable', deletionConfirmed: false});
    expect(phaseAt(native, 'settling')! - phaseAt(native, 'deregistering')!).toBeGreaterThanOrEqual(FALLBACK_MS - 20);
    expect(answer.status).toBe(200);
    expect(answer.answeredAt).toBeGreaterThanOrEqual(phaseAt(native, 'releasing')!);
    expect(native.logs.some((l) => l.level === 'warn' && l.msg === 'kubernetes api could not tell: timed fallback used')).toBe(true);
    // Nothing says the pod is terminating (it may have been an app restart): no SIGTERM will come, it exits at done.
    expect((await native.exited).code).toBe(0);

    // Classic: "not terminating as far as anyone can tell", after the 2 s re-check; still serving and ready.
    const classicAnswer = await classicHook;
    expect(classicAnswer.status).toBe(200);
    expect(classicAnswer.body).toContain('nothing to drain');
    expect(classicAnswer.tookMs).toBeGreaterThanOrEqual(1_900);
    expect(classic.logs.some((l) => l.msg === 'phase')).toBe(false);
    expect(await readyz(classic)).toBe(200);

  }, 120_000);
});
