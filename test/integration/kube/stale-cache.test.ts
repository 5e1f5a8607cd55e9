// An API server whose watch cache lags (one of several behind a load balancer): a list at resourceVersion=0 may show a
// state older than the one lameduck already judged. Here that older state shows another pod still ready, which would
// end a terminating-fallback hold while kube-proxy still sends the Service's traffic to this pod. The real lameduck
// reads consistently first and re-lists NotOlderThan what it saw, so it keeps holding until the peer is really ready.
import {describe, expect, it} from '@jest/globals';
import {routingVerdict} from '../../../proxy/src/kube/routing.js';
import type {WireEndpointSlice} from '../../../proxy/src/kube/wire.js';
import {startDemoApp} from '../../../sim/processes.js';
import {NS, makePod, makeService} from '../../support/kube-fixture.js';
import {createSelfPod, lameduckRequests, phaseAt, sleep, startSidecar, useK8sFixture, waitForSliceWatch, waitForSummary} from '../../support/k8s-harness.js';

const fx = useK8sFixture();

async function listAt(query: string): Promise<{resourceVersion: string; items: WireEndpointSlice[]}> {
  const res = await fetch(`${fx.api.url}/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices${query}`, {
    headers: {Authorization: `Bearer ${fx.api.token}`},
    // The simulation's CA is private: this test reads with a fresh undici dispatcher trusting it.
    dispatcher: await trusting(fx.api.caPem),
  } as RequestInit);
  const body = (await res.json()) as {metadata: {resourceVersion: string}; items: WireEndpointSlice[]};
  return {resourceVersion: body.metadata.resourceVersion, items: body.items};
}

async function trusting(caPem: string): Promise<unknown> {
  const {Agent} = await import('undici');
  return new Agent({connect: {ca: caPem || undefined}});
}

describe('a lagging watch cache', () => {
  it('does not end a terminating-fallback hold: lists are consistent, then never older than what was seen', async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'sc-0', {app: 'sc'});
    store.createPod(makePod('sc-1', '10.9.7.11', {app: 'sc'}));
    store.createService(makeService('sc', {app: 'sc'}));
    await fx.api.whenControllersIdle();
    const app = await startDemoApp({POD_NAME: 'sc-0'});
    const ld = await startSidecar(fx, self, app.port);

    // The pod is deleted while its peer is ready; one API server's cache stops there. Then the peer turns unready:
    // this pod is now the Service's only serving endpoint, and kube-proxy falls back to it (KEP-1669).
    store.deletePod(NS, 'sc-0', {gracePeriodSeconds: 30});
    await fx.api.whenControllersIdle();
    fx.api.faults.lagWatchCache(true);
    store.setPodReady(NS, 'sc-1', false);
    await fx.api.whenControllersIdle();

    // The trap is real: judged from the cache, the pod looks deregistered; judged from the current state, it is held.
    const pod = {uid: self.metadata.uid, ips: ['127.0.0.1']};
    const judge = (items: WireEndpointSlice[]) => routingVerdict({slices: items, services: new Map(), pod, ignoreServices: []});
    expect(judge((await listAt('?resourceVersion=0')).items).routed).toBe(false);
    expect(judge((await listAt('')).items).routedBy).toMatchObject([{service: 'sc', why: 'terminatingFallback'}]);

    const triggerAt = Date.now();
    ld.kill('SIGTERM');
    await waitForSliceWatch(fx, triggerAt);
    // Long enough for the periodic re-list (3 s) to have happened at least once.
    const relisted = Date.now() + 20_000;
    while (!lameduckRequests(fx, triggerAt).some((r) => r.resource === 'endpointslices' && r.verb === 'list' && r.query.resourceVersionMatch) && Date.now() < relisted) {
      await sleep(100);
    }
    await sleep(500);

    expect(phaseAt(ld, 'settling')).toBeUndefined();
    expect(ld.logs.filter((l) => l.msg === 'routing').at(-1)).toMatchObject({routed: true, routedBy: [{service: 'sc', why: 'terminatingFallback'}]});
    const lists = lameduckRequests(fx, triggerAt).filter((r) => r.resource === 'endpointslices' && r.verb === 'list');
    // First a consistent read; then a re-list NotOlderThan the newest state seen, which the lagging cache cannot
    // serve (504 Too large resource version), answered again by a consistent read.
    expect(lists[0]!.query.resourceVersion).toBeUndefined();
    const notOlder = lists.findIndex((r) => r.query.resourceVersionMatch === 'NotOlderThan');
    expect(notOlder).toBeGreaterThan(0);
    expect(lists[notOlder]!.status).toBe(504);
    expect(lists[notOlder + 1]).toMatchObject({status: 200});
    expect(lists[notOlder + 1]!.query.resourceVersion).toBeUndefined();
    expect(lists.some((r) => r.query.resourceVersion === '0')).toBe(false);

    // The peer really turns ready: now the hold ends.
    const readyAt = Date.now();
    store.setPodReady(NS, 'sc-1', true);
    const summary = await waitForSummary(ld);
    expect(summary).toMatchObject({deregistration: 'deregistered', deletionConfirmed: true});
    expect(phaseAt(ld, 'settling')!).toBeGreaterThanOrEqual(readyAt);
    fx.api.faults.lagWatchCache(false);
    expect((await ld.exited).code).toBe(0);
  }, 120_000);
});
