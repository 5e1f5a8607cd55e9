// awaitDeregistration against the local API server: resolves exactly when no Service routes the pod any more.
import {describe, expect, it} from '@jest/globals';
import {
  NS,
  READY,
  TERMINATING_DONE,
  TERMINATING_SERVING,
  counterValue,
  deadline,
  endpointOf,
  makePod,
  makeService,
  makeSlice,
  sleepMs,
  useFixture,
} from '../../support/kube-fixture.js';

const fx = useFixture();

describe('awaitDeregistration', () => {
  it('two Services over three slices flipping at different times: resolves only after the last flip', async () => {
    const {store} = fx.api;
    const self = store.createPod(makePod('multi-0', '10.1.0.10', {app: 'multi'}));
    const peer = store.createPod(makePod('multi-1', '10.1.0.11', {app: 'multi'}));
    store.createService(makeService('multi-web', {app: 'multi'}, {manual: true}));
    store.createService(makeService('multi-admin', {app: 'multi'}, {manual: true}));
    // The pod appears in two slices of multi-web (as while the controller moves an endpoint) and in multi-admin.
    store.putEndpointSlice(makeSlice('multi-web-a', 'multi-web', [endpointOf(self, READY), endpointOf(peer, READY)]));
    store.putEndpointSlice(makeSlice('multi-web-b', 'multi-web', [endpointOf(self, READY)]));
    store.putEndpointSlice(makeSlice('multi-admin-a', 'multi-admin', [endpointOf(self, READY)]));

    // No periodic re-list within the test: every flip must arrive through the watch.
    const {cluster, logs, metrics} = fx.sidecar({name: 'multi-0', tuning: {relistIntervalMs: 60_000}});
    const d = deadline(15_000);
    const started = Date.now();
    let resolvedAt = 0;
    const outcome = cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 10_000}).then((o) => {
      resolvedAt = Date.now();
      return o;
    });

    const flips: number[] = [];
    await sleepMs(400);
    // Terminating but serving, while the peer is ready: kube-proxy no longer picks it in this slice...
    store.putEndpointSlice(makeSlice('multi-web-a', 'multi-web', [endpointOf(self, TERMINATING_SERVING), endpointOf(peer, READY)]));
    flips.push(Date.now());
    await sleepMs(400);
    store.putEndpointSlice(makeSlice('multi-admin-a', 'multi-admin', [endpointOf(self, TERMINATING_DONE)]));
    flips.push(Date.now());
    await sleepMs(400);
    expect(resolvedAt).toBe(0); // ...but the stale copy in multi-web-b still routes it.
    store.putEndpointSlice(makeSlice('multi-web-b', 'multi-web', [endpointOf(self, TERMINATING_SERVING)]));
    flips.push(Date.now());

    await expect(outcome).resolves.toEqual({kind: 'deregistered'});
    d.cancel();
    expect(resolvedAt).toBeGreaterThanOrEqual(flips[2]!);
    expect(resolvedAt - flips[2]!).toBeLessThan(1_000);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list'})).toBe(1);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'watch'})).toBe(1);
    expect(resolvedAt - started).toBeGreaterThan(1_100);
    // The verdict was logged as it changed: both Services first, multi-web alone after the admin flip.
    const routing = logs.filter((l) => l.msg === 'routing').map((l) => (l.routedBy as {service: string}[]).map((r) => r.service));
    expect(routing[0]).toEqual(['multi-admin', 'multi-web']);
    expect(routing).toContainEqual(['multi-web']);
    expect(routing.at(-1)).toEqual([]);
  });

  it('a pod in no Service is deregistered at once, after one list and nothing else', async () => {
    fx.api.store.createPod(makePod('loner-0', '10.1.0.20', {app: 'loner'}));
    const {cluster, metrics} = fx.sidecar({name: 'loner-0'});
    const d = deadline(10_000);
    const t0 = Date.now();
    await expect(cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 5_000})).resolves.toEqual({kind: 'deregistered'});
    d.cancel();
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list'})).toBe(1);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {verb: 'watch'})).toBe(0);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'services'})).toBe(0);
  });

  it('real EndpointSlice controller: a deleted pod with a ready peer is deregistered when its endpoint turns terminating', async () => {
    const {store} = fx.api;
    store.createPod(makePod('ctl-0', '10.1.0.30', {app: 'ctl'}));
    store.createPod(makePod('ctl-1', '10.1.0.31', {app: 'ctl'}));
    store.createService(makeService('ctl', {app: 'ctl'}));
    await fx.api.whenControllersIdle();
    const {cluster, metrics} = fx.sidecar({name: 'ctl-0'});
    const d = deadline(10_000);
    let resolvedAt = 0;
    const outcome = cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 8_000}).then((o) => ((resolvedAt = Date.now()), o));
    await sleepMs(500);
    expect(resolvedAt).toBe(0);
    const deletedAt = Date.now();
    store.deletePod(NS, 'ctl-0', {gracePeriodSeconds: 30});
    await expect(outcome).resolves.toEqual({kind: 'deregistered'});
    d.cancel();
    expect(resolvedAt).toBeGreaterThanOrEqual(deletedAt);
    expect(resolvedAt - deletedAt).toBeLessThan(2_000);
    // The Service was read once per list for its traffic policy.
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'services', verb: 'get', code: 'ok'})).toBeGreaterThanOrEqual(1);
  });

  it('terminating fallback: while every other endpoint is not ready the pod stays routed, until another turns ready', async () => {
    const {store} = fx.api;
    store.createPod(makePod('fb-0', '10.1.0.40', {app: 'fb'}));
    store.createPod(makePod('fb-1', '10.1.0.41', {app: 'fb'}, {ready: false}));
    store.createService(makeService('fb', {app: 'fb'}));
    store.deletePod(NS, 'fb-0', {gracePeriodSeconds: 30});
    await fx.api.whenControllersIdle();
    const {cluster, logs} = fx.sidecar({name: 'fb-0'});
    const d = deadline(15_000);
    let resolvedAt = 0;
    const outcome = cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 10_000}).then((o) => ((resolvedAt = Date.now()), o));
    await sleepMs(1_500); // spans a periodic re-list too
    expect(resolvedAt).toBe(0);
    expect(cluster.lastVerdict()?.routedBy).toEqual([{service: 'fb', why: 'terminatingFallback', addressType: 'IPv4', scope: 'cluster', via: 'kube-proxy'}]);
    const readyAt = Date.now();
    store.setPodReady(NS, 'fb-1', true);
    await expect(outcome).resolves.toEqual({kind: 'deregistered'});
    d.cancel();
    expect(resolvedAt).toBeGreaterThanOrEqual(readyAt);
    expect(logs.some((l) => l.msg === 'routing' && JSON.stringify(l.routedBy).includes('terminatingFallback'))).toBe(true);
  });

  it('Local traffic policy: a ready peer on another node does not end the terminating fallback; one on the same node does', async () => {
    const {store} = fx.api;
    store.createPod(makePod('loc-0', '10.1.0.50', {app: 'loc'}, {nodeName: 'node-a'}));
    store.createPod(makePod('loc-1', '10.1.0.51', {app: 'loc'}, {nodeName: 'node-b'}));
    store.createPod(makePod('loc-2', '10.1.0.52', {app: 'loc'}, {nodeName: 'node-a', ready: false}));
    store.createService(makeService('loc', {app: 'loc'}, {spec: {type: 'NodePort', externalTrafficPolicy: 'Local'}}));
    store.deletePod(NS, 'loc-0', {gracePeriodSeconds: 30});
    await fx.api.whenControllersIdle();
    const {cluster} = fx.sidecar({name: 'loc-0'});
    const d = deadline(15_000);
    let resolvedAt = 0;
    const outcome = cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 10_000}).then((o) => ((resolvedAt = Date.now()), o));
    await sleepMs(1_000);
    expect(resolvedAt).toBe(0);
    expect(cluster.lastVerdict()?.routedBy).toEqual([{service: 'loc', why: 'terminatingFallback', addressType: 'IPv4', scope: 'node', via: 'kube-proxy'}]);
    const readyAt = Date.now();
    store.setPodReady(NS, 'loc-2', true);
    await expect(outcome).resolves.toEqual({kind: 'deregistered'});
    d.cancel();
    expect(resolvedAt).toBeGreaterThanOrEqual(readyAt);
  });

  it('a publishNotReadyAddresses Service holds the pod until the deadline, unless it is ignored', async () => {
    const {store} = fx.api;
    store.createPod(makePod('peer-0', '10.1.0.60', {app: 'peer'}));
    store.createService(makeService('peer-headless', {app: 'peer'}, {spec: {clusterIP: 'None', publishNotReadyAddresses: true}}));
    store.deletePod(NS, 'peer-0', {gracePeriodSeconds: 30});
    await fx.api.whenControllersIdle();
    expect(store.endpointSlices(NS, 'peer-headless')[0]!.endpoints![0]!.conditions).toMatchObject({ready: true, terminating: true});

    const held = fx.sidecar({name: 'peer-0'});
    const d = deadline(1_500);
    const t0 = Date.now();
    await expect(held.cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 10_000})).resolves.toEqual({kind: 'aborted'});
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_400);
    expect(held.logs.some((l) => l.level === 'warn' && l.msg.includes('publishNotReadyAddresses'))).toBe(true);

    const ignoring = fx.sidecar({name: 'peer-0', env: {LAMEDUCK_IGNORE_SERVICES: 'other,peer-headless'}});
    const d2 = deadline(10_000);
    await expect(ignoring.cluster.awaitDeregistration({signal: d2.signal, fallbackDelayMs: 10_000})).resolves.toEqual({kind: 'deregistered'});
    d2.cancel();
    expect(ignoring.cluster.lastVerdict()).toMatchObject({routed: false, ignored: ['peer-headless']});
  });
});
