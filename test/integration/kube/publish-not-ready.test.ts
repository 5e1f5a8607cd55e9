// A publishNotReadyAddresses Service keeps a terminating pod's endpoint `ready: true`, so it
// holds the drain to the deadline — unless it is listed in LAMEDUCK_IGNORE_SERVICES; and a pod that no Service
// selects is deregistered at once, after one list. Three real lameducks side by side on one API server.
import {beforeAll, describe, expect, it} from '@jest/globals';
import {startDemoApp, type DemoApp, type Lameduck} from '../../../sim/processes.js';
import {NS, makeService} from '../../support/kube-fixture.js';
import {createSelfPod, phaseAt, prestop, scrapeMetric, startSidecar, useK8sFixture, waitForSummary, type Summary} from '../../support/k8s-harness.js';

/**
 * Long enough that the sidecar's one-time client import (started 300 ms after start-up; seconds on a busy machine)
 * fits well inside it: the deadline runs from the hook's arrival, import included, as kubelet's grace period does.
 */
const DRAIN_TIMEOUT_MS = 10_000;

const fx = useK8sFixture();
let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp({POD_NAME: 'peers'});
});

interface Drained {
  ld: Lameduck;
  summary: Summary;
  /** When the preStop hook was sent: the drain deadline runs from its arrival (kubelet's grace period is running). */
  hookAt: number;
  deregisteringAt: number;
  settlingAt: number;
}

/** Deletes the pod, runs the app's preStop hook against its sidecar, waits for the drain to end. */
async function drain(name: string, ld: Lameduck): Promise<Drained> {
  fx.api.store.deletePod(NS, name, {gracePeriodSeconds: 30});
  const hookAt = Date.now();
  const hook = prestop(ld);
  const summary = await waitForSummary(ld);
  await hook;
  return {ld, summary, hookAt, deregisteringAt: phaseAt(ld, 'deregistering')!, settlingAt: phaseAt(ld, 'settling')!};
}

describe('publishNotReadyAddresses and unselected pods', () => {
  it('held to the deadline by a publishNotReadyAddresses Service; released by ignoring it; at once when unselected', async () => {
    const {store} = fx.api;
    // A StatefulSet-style headless peer-discovery Service, and a pod that no Service selects.
    store.createService(makeService('peers', {app: 'peers'}, {spec: {clusterIP: 'None', publishNotReadyAddresses: true}}));
    const held = createSelfPod(fx, 'peers-0', {app: 'peers'});
    const ignoring = createSelfPod(fx, 'peers-1', {app: 'peers'});
    const loner = createSelfPod(fx, 'loner-0', {app: 'loner'});
    await fx.api.whenControllersIdle();

    const env = {LAMEDUCK_MODE: 'native', LAMEDUCK_DRAIN_TIMEOUT: `${DRAIN_TIMEOUT_MS}ms`};
    const [ldHeld, ldIgnoring, ldLoner] = await Promise.all([
      startSidecar(fx, held, app.port, env),
      startSidecar(fx, ignoring, app.port, {...env, LAMEDUCK_IGNORE_SERVICES: 'other,peers'}),
      startSidecar(fx, loner, app.port, env),
    ]);
    const [h, i, l] = await Promise.all([drain('peers-0', ldHeld), drain('peers-1', ldIgnoring), drain('loner-0', ldLoner)]);

    // Held: the endpoint stayed ready while terminating, so deregistration ran until it had to leave closing its
    // reserve (a quarter of the budget, at least 500 ms) before the deadline, counted from the hook.
    expect(store.endpointSlices(NS, 'peers')[0]!.endpoints!.every((e) => e.conditions?.ready === true && e.conditions.terminating === true)).toBe(true);
    expect(h.summary).toMatchObject({deregistration: 'aborted', deadlineMs: DRAIN_TIMEOUT_MS, deadlineSource: 'config'});
    const reserve = Math.max(500, DRAIN_TIMEOUT_MS / 4);
    // (Node's timers count from the event loop's cached time: on a busy machine they can fire a little early.)
    expect(h.settlingAt - h.hookAt).toBeGreaterThanOrEqual(DRAIN_TIMEOUT_MS - reserve - 300);
    expect(h.summary.timeToDeregistrationMs).toBeGreaterThanOrEqual(DRAIN_TIMEOUT_MS - reserve - 300);
    expect(h.ld.logs.some((x) => x.level === 'warn' && String(x.msg).includes('publishNotReadyAddresses'))).toBe(true);
    expect(h.ld.logs.filter((x) => x.msg === 'routing').at(-1)).toMatchObject({
      routed: true,
      routedBy: [{service: 'peers', why: 'publishNotReadyAddresses'}],
    });

    // Ignored: deregistered as soon as it had listed, long before the deadline.
    expect(i.summary).toMatchObject({deregistration: 'deregistered'});
    expect(i.summary.timeToDeregistrationMs).toBeLessThan(DRAIN_TIMEOUT_MS - reserve - 500);
    expect(i.ld.logs.find((x) => x.msg === 'routing')).toMatchObject({routed: false, services: ['peers'], ignored: ['peers']});

    // Unselected: one list, no Service read, no watch.
    expect(l.summary).toMatchObject({deregistration: 'deregistered'});
    expect(l.ld.logs.find((x) => x.msg === 'routing')).toMatchObject({routed: false, services: []});
    expect(await scrapeMetric(l.ld, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list'})).toBe(1);
    expect(await scrapeMetric(l.ld, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'watch'})).toBe(0);
    expect(await scrapeMetric(l.ld, 'lameduck_kube_api_requests_total', {resource: 'services'})).toBe(0);

    for (const ld of [ldHeld, ldIgnoring, ldLoner]) ld.kill('SIGTERM');
    expect((await Promise.all([ldHeld, ldIgnoring, ldLoner].map((ld) => ld.exited))).map((e) => e.code)).toEqual([0, 0, 0]);
  }, 120_000);
});
