// RBAC denies the EndpointSlice list (403). The real lameduck serves for the fallback delay,
// logs a warning naming the refusal, counts lameduck_fallbacks_total{reason="forbidden"} and leaves a Warning
// LameduckFallback Event on the pod — and when Events are denied too, the attempt is logged and the drain carries on.
import {afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import {startDemoApp, type DemoApp} from '../../../sim/processes.js';
import type {Pod} from '../../../sim/kube/types.js';
import {NS, makePod, makeService, waitFor} from '../../support/kube-fixture.js';
import {createSelfPod, lameduckRequests, phaseAt, prestop, scrapeMetric, startSidecar, useK8sFixture, waitForSummary} from '../../support/k8s-harness.js';

const FALLBACK_MS = 1_500;

const fx = useK8sFixture();
let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp({POD_NAME: 'rbac'});
});
afterEach(() => {
  fx.api.faults.reset();
});

/** A pod with a ready peer behind a Service (so that, had the API answered, it would have deregistered at once). */
async function servedPod(name: string): Promise<Pod> {
  const pod = createSelfPod(fx, name, {app: name});
  fx.api.store.createPod(makePod(`${name}-peer`, '10.9.4.2', {app: name}));
  fx.api.store.createService(makeService(name, {app: name}));
  await fx.api.whenControllersIdle();
  return pod;
}

async function drainDenied(name: string) {
  const pod = await servedPod(name);
  const ld = await startSidecar(fx, pod, app.port, {LAMEDUCK_MODE: 'native', LAMEDUCK_FALLBACK_DELAY: `${FALLBACK_MS}ms`});
  fx.api.store.deletePod(NS, name, {gracePeriodSeconds: 30});
  const since = Date.now();
  const hook = prestop(ld);
  const summary = await waitForSummary(ld);
  await hook;
  const deregisteringAt = phaseAt(ld, 'deregistering')!;
  const settlingAt = phaseAt(ld, 'settling')!;
  return {ld, pod, since, summary, deregisteringAt, settlingAt};
}

describe('403 on endpointslices', () => {
  it('serves for the fallback delay, warns, counts the fallback and records a Warning Event', async () => {
    fx.api.faults.deny('list', 'endpointslices');
    const {ld, pod, since, summary, deregisteringAt, settlingAt} = await drainDenied('deny-0');

    // The refusal was answered by the API server and turned into the timed fallback: not sooner, not much later.
    expect(lameduckRequests(fx, since).some((r) => r.resource === 'endpointslices' && r.verb === 'list' && r.status === 403)).toBe(true);
    expect(settlingAt - deregisteringAt).toBeGreaterThanOrEqual(FALLBACK_MS - 20);
    expect(settlingAt - deregisteringAt).toBeLessThan(FALLBACK_MS + 3_000);
    expect(summary).toMatchObject({deregistration: 'fallback', fallbackReason: 'forbidden', deletionConfirmed: true});

    const warning = ld.logs.find((l) => l.level === 'warn' && l.msg === 'kubernetes api refused the endpoint watch: serving for the fallback delay');
    expect(warning).toMatchObject({reason: 'forbidden', fallbackDelayMs: FALLBACK_MS});
    // The API server's message names the missing permission.
    expect(JSON.stringify(warning)).toContain('endpointslices');
    expect(await scrapeMetric(ld, 'lameduck_fallbacks_total', {reason: 'forbidden'})).toBe(1);
    expect(await scrapeMetric(ld, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list', code: '403'})).toBeGreaterThanOrEqual(1);

    // The LameduckDrained Event is created after the summary line.
    await waitFor(() => fx.api.store.events(NS).some((e) => e.reason === 'LameduckDrained' && e.involvedObject?.uid === pod.metadata.uid), 5_000, 'the Event');
    const events = fx.api.store.events(NS).filter((e) => e.involvedObject?.uid === pod.metadata.uid);
    const fallback = events.find((e) => e.reason === 'LameduckFallback');
    expect(fallback).toMatchObject({type: 'Warning', involvedObject: {kind: 'Pod', name: 'deny-0'}, source: {component: 'lameduck'}});
    expect(fallback!.message).toContain('(forbidden)');
    expect(fallback!.message).toContain(`${FALLBACK_MS} ms`);
    expect(events.some((e) => e.reason === 'LameduckDrained' && e.message!.includes('(fallback)'))).toBe(true);
    ld.kill('SIGTERM');
    expect((await ld.exited).code).toBe(0);
  });

  it('with Events denied as well: the Event is attempted, the failure logged, the drain unaffected', async () => {
    fx.api.faults.deny('list', 'endpointslices');
    fx.api.faults.deny('create', 'events');
    const {ld, since, summary, deregisteringAt, settlingAt} = await drainDenied('deny-1');

    expect(summary).toMatchObject({deregistration: 'fallback', fallbackReason: 'forbidden'});
    expect(settlingAt - deregisteringAt).toBeGreaterThanOrEqual(FALLBACK_MS - 20);
    // The LameduckDrained Event is created after the summary line.
    await ld.waitForLog((l) => l.msg === 'could not record the kubernetes event' && l.reason === 'LameduckDrained');
    const attempts = lameduckRequests(fx, since).filter((r) => r.resource === 'events' && r.verb === 'create');
    expect(attempts.length).toBeGreaterThanOrEqual(2); // LameduckFallback and LameduckDrained
    expect(attempts.every((r) => r.status === 403)).toBe(true);
    const failures = ld.logs.filter((l) => l.level === 'warn' && l.msg === 'could not record the kubernetes event');
    expect(failures.map((l) => l.reason).sort()).toEqual(['LameduckDrained', 'LameduckFallback']);
    expect(fx.api.store.events(NS).filter((e) => e.involvedObject?.name === 'deny-1')).toEqual([]);
    ld.kill('SIGTERM');
    expect((await ld.exited).code).toBe(0);
  });
});
