// The simulated EndpointSlice and Endpoints controllers follow the real rules (docs/design.md "Facts"): a terminating pod
// stays in its slice as serving/terminating until it is gone, publishNotReadyAddresses keeps it ready, slices split at
// maxEndpointsPerSlice, writes happen only on change, and every reconcile waits for the configured lag.
import {afterEach, describe, expect, it} from '@jest/globals';
import {createEndpointSliceController, type EndpointSliceController} from '../../../sim/kube/endpointslice-controller.js';
import {createEndpointsController, type EndpointsController} from '../../../sim/kube/endpoints-controller.js';
import {makePod, makeService} from '../../../sim/kube/fixtures.js';
import type {Lag} from '../../../sim/kube/reconcile-queue.js';
import {createStore, type Store} from '../../../sim/kube/store.js';
import type {EndpointConditions, EndpointSlice} from '../../../sim/kube/types.js';
import {waitFor} from '../../../sim/kube/wait-for.js';

interface Sim {
  store: Store;
  slices: EndpointSliceController;
  endpoints: EndpointsController;
  idle(): Promise<void>;
}

const running: Sim[] = [];

function sim(opts: {lag?: Lag; maxEndpointsPerSlice?: number} = {}): Sim {
  const store = createStore();
  const slices = createEndpointSliceController({store, lag: opts.lag, maxEndpointsPerSlice: opts.maxEndpointsPerSlice});
  const endpoints = createEndpointsController({store, lag: opts.lag});
  const s: Sim = {
    store,
    slices,
    endpoints,
    async idle() {
      for (let i = 0; i < 2; i++) await Promise.all([slices.whenIdle(), endpoints.whenIdle()]);
    },
  };
  running.push(s);
  return s;
}

afterEach(() => {
  for (const s of running.splice(0)) {
    s.slices.stop();
    s.endpoints.stop();
  }
});

/** Every endpoint of the Service across its slices, by pod name. */
function conditionsByPod(store: Store, service: string): Record<string, EndpointConditions | undefined> {
  const out: Record<string, EndpointConditions | undefined> = {};
  for (const slice of store.endpointSlices('default', service)) {
    for (const e of slice.endpoints ?? []) out[e.targetRef?.name ?? e.addresses[0]] = e.conditions;
  }
  return out;
}

describe('EndpointSlice conditions', () => {
  it('lists a Ready pod as ready and serving, and a not-ready one as neither', async () => {
    const {store, idle} = sim();
    store.createService(makeService({name: 'web', selector: {app: 'web'}}));
    store.createPod(makePod({name: 'ready', ip: '127.0.0.2', ready: true, labels: {app: 'web'}, nodeName: 'node-a'}));
    store.createPod(makePod({name: 'starting', ip: '127.0.0.3', ready: false, labels: {app: 'web'}}));
    store.createPod(makePod({name: 'other-app', ip: '127.0.0.4', ready: true, labels: {app: 'other'}}));
    store.createPod(makePod({name: 'no-ip-yet', labels: {app: 'web'}}));
    await idle();
    expect(conditionsByPod(store, 'web')).toEqual({
      ready: {ready: true, serving: true, terminating: false},
      starting: {ready: false, serving: false, terminating: false},
    });
    const [slice] = store.endpointSlices('default', 'web');
    const ready = slice.endpoints!.find((e) => e.targetRef?.name === 'ready')!;
    const pod = store.getPod('default', 'ready')!;
    expect(ready).toEqual({
      addresses: ['127.0.0.2'],
      conditions: {ready: true, serving: true, terminating: false},
      targetRef: {kind: 'Pod', namespace: 'default', name: 'ready', uid: pod.metadata.uid},
      nodeName: 'node-a',
    });
    expect(slice.metadata.labels).toMatchObject({
      'kubernetes.io/service-name': 'web',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
    });
    expect(slice.metadata.generateName).toBe('web-');
    expect(slice.metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
    expect(slice.addressType).toBe('IPv4');
    expect(slice.metadata.ownerReferences?.[0]).toMatchObject({kind: 'Service', name: 'web', controller: true});
  });

  it('keeps a gracefully deleted pod as terminating and serving while Ready, and removes it only when it is gone', async () => {
    const {store, idle} = sim();
    store.createService(makeService({name: 'web', selector: {app: 'web'}}));
    store.createPod(makePod({name: 'p', ip: '127.0.0.2', ready: true, labels: {app: 'web'}}));
    await idle();
    store.deletePod('default', 'p', {gracePeriodSeconds: 30});
    await idle();
    expect(conditionsByPod(store, 'web')).toEqual({p: {ready: false, serving: true, terminating: true}});
    // Legacy Endpoints drop a terminating pod at once.
    expect(store.getEndpoints('default', 'web')?.subsets).toBeUndefined();

    store.setPodReady('default', 'p', false);
    await idle();
    expect(conditionsByPod(store, 'web')).toEqual({p: {ready: false, serving: false, terminating: true}});

    store.removePod('default', 'p');
    await idle();
    expect(conditionsByPod(store, 'web')).toEqual({});
    // The Service keeps one empty placeholder slice, with null endpoints as the real API server sends it.
    const slices = store.endpointSlices('default', 'web');
    expect(slices).toHaveLength(1);
    expect(slices[0].endpoints).toBeNull();
  });

  it('removes the endpoint when the pod reaches a terminal phase, even before the pod object goes', async () => {
    const {store, idle} = sim();
    store.createService(makeService({name: 'web', selector: {app: 'web'}}));
    store.createPod(makePod({name: 'p', ip: '127.0.0.2', ready: true, labels: {app: 'web'}}));
    store.createPod(makePod({name: 'q', ip: '127.0.0.3', ready: true, labels: {app: 'web'}}));
    await idle();
    store.patchPodStatus('default', 'p', (status) => {
      status.phase = 'Succeeded';
    });
    await idle();
    expect(Object.keys(conditionsByPod(store, 'web'))).toEqual(['q']);
    expect(store.getPod('default', 'p')).toBeDefined();
  });

  it('keeps terminating pods ready for a publishNotReadyAddresses Service, in slices and legacy Endpoints', async () => {
    const {store, idle} = sim();
    store.createService(makeService({name: 'peers', selector: {app: 'db'}, publishNotReadyAddresses: true}));
    store.createPod(makePod({name: 'db-0', ip: '127.0.0.5', ready: false, labels: {app: 'db'}}));
    store.createPod(makePod({name: 'db-1', ip: '127.0.0.6', ready: true, labels: {app: 'db'}}));
    store.deletePod('default', 'db-1', {gracePeriodSeconds: 30});
    await idle();
    expect(conditionsByPod(store, 'peers')).toEqual({
      'db-0': {ready: true, serving: false, terminating: false},
      'db-1': {ready: true, serving: true, terminating: true},
    });
    const subsets = store.getEndpoints('default', 'peers')?.subsets;
    expect(subsets?.[0].addresses?.map((a) => a.ip)).toEqual(['127.0.0.5', '127.0.0.6']);
    expect(subsets?.[0].notReadyAddresses).toBeUndefined();
  });

  it('puts not-ready pods in legacy notReadyAddresses and resolves named target ports per pod', async () => {
    const {store, idle} = sim();
    store.createService(makeService({name: 'api', selector: {app: 'api'}, ports: [{name: 'http', port: 80, targetPort: 'web'}]}));
    store.createPod(makePod({name: 'a', ip: '127.0.0.7', ready: true, labels: {app: 'api'}, ports: [{name: 'web', containerPort: 8080}]}));
    store.createPod(makePod({name: 'b', ip: '127.0.0.8', ready: false, labels: {app: 'api'}, ports: [{name: 'web', containerPort: 8080}]}));
    store.createPod(makePod({name: 'c', ip: '127.0.0.9', ready: true, labels: {app: 'api'}, ports: [{name: 'web', containerPort: 9090}]}));
    await idle();
    const slices = store.endpointSlices('default', 'api');
    const portsByPod = Object.fromEntries(
      slices.flatMap((s) => (s.endpoints ?? []).map((e) => [e.targetRef?.name, s.ports?.map((p) => p.port)])),
    );
    expect(portsByPod).toEqual({a: [8080], b: [8080], c: [9090]});
    expect(slices).toHaveLength(2);
    const subsets = store.getEndpoints('default', 'api')?.subsets ?? [];
    const on8080 = subsets.find((s) => s.ports?.[0].port === 8080);
    expect(on8080?.addresses?.map((a) => a.ip)).toEqual(['127.0.0.7']);
    expect(on8080?.notReadyAddresses?.map((a) => a.ip)).toEqual(['127.0.0.8']);
  });
});

describe('EndpointSlice layout and writes', () => {
  it('spreads a Service over several slices of at most maxEndpointsPerSlice', async () => {
    const {store, idle} = sim({maxEndpointsPerSlice: 3});
    store.createService(makeService({name: 'big', selector: {app: 'big'}}));
    for (let i = 0; i < 8; i++) {
      store.createPod(makePod({name: `big-${i}`, ip: `127.0.1.${i + 1}`, ready: true, labels: {app: 'big'}}));
    }
    await idle();
    const sizes = store.endpointSlices('default', 'big').map((s) => s.endpoints?.length ?? 0).sort();
    expect(sizes).toEqual([2, 3, 3]);
    const names = store.endpointSlices('default', 'big').flatMap((s) => s.endpoints!.map((e) => e.targetRef?.name)).sort();
    expect(names).toEqual(Array.from({length: 8}, (_, i) => `big-${i}`).sort());
  });

  it('writes only the slice whose endpoint changed, and nothing when nothing changed', async () => {
    const {store, idle} = sim({maxEndpointsPerSlice: 2});
    store.createService(makeService({name: 'web', selector: {app: 'web'}}));
    for (let i = 0; i < 4; i++) store.createPod(makePod({name: `w-${i}`, ip: `127.0.2.${i + 1}`, ready: true, labels: {app: 'web'}}));
    await idle();
    const writes: string[] = [];
    const off = store.on<EndpointSlice>('endpointslices', (e) => writes.push(`${e.type} ${e.object.metadata.name}`));
    try {
      // A pod change that does not affect its endpoint (a label the selector ignores).
      const pod = store.getPod('default', 'w-0')!;
      store.updatePod({...pod, metadata: {...pod.metadata, labels: {...pod.metadata.labels, note: 'x'}}});
      await idle();
      expect(writes).toEqual([]);

      store.setPodReady('default', 'w-3', false);
      await idle();
      const holder = store.endpointSlices('default', 'web').find((s) => s.endpoints?.some((e) => e.targetRef?.name === 'w-3'));
      expect(writes).toEqual([`MODIFIED ${holder?.metadata.name}`]);
    } finally {
      off();
    }
  });

  it('deletes the slices and Endpoints of a deleted Service, and leaves manual Services to the test', async () => {
    const {store, idle} = sim();
    store.createService(makeService({name: 'gone', selector: {app: 'x'}}));
    store.createService(makeService({name: 'manual', selector: {app: 'x'}, annotations: {'sim.lameduck.dev/manual-endpoints': 'true'}}));
    store.createPod(makePod({name: 'x', ip: '127.0.0.2', ready: true, labels: {app: 'x'}}));
    await idle();
    expect(store.endpointSlices('default', 'gone')).toHaveLength(1);
    expect(store.endpointSlices('default', 'manual')).toHaveLength(0);
    store.putEndpointSlice({
      metadata: {name: 'manual-a', namespace: 'default', labels: {'kubernetes.io/service-name': 'manual'}},
      addressType: 'IPv4',
      endpoints: [{addresses: ['127.0.0.2'], conditions: {ready: false, serving: true, terminating: true}}],
    });
    store.deleteService('default', 'gone');
    await idle();
    expect(store.endpointSlices('default', 'gone')).toHaveLength(0);
    expect(store.getEndpoints('default', 'gone')).toBeUndefined();
    expect(store.endpointSlices('default', 'manual').map((s) => s.metadata.name)).toEqual(['manual-a']);
  });
});

describe('controller lag', () => {
  it('reflects a change no sooner than the fixed lag', async () => {
    const {store, idle} = sim({lag: 300});
    store.createService(makeService({name: 'web', selector: {app: 'web'}}));
    store.createPod(makePod({name: 'p', ip: '127.0.0.2', ready: true, labels: {app: 'web'}}));
    await idle();
    const t0 = Date.now();
    store.deletePod('default', 'p', {gracePeriodSeconds: 30});
    await waitFor(() => conditionsByPod(store, 'web').p?.terminating, {timeoutMs: 10_000, intervalMs: 5});
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('draws a random lag per change within [minMs, maxMs]', async () => {
    const {store, idle} = sim({lag: {minMs: 150, maxMs: 250}});
    store.createService(makeService({name: 'web', selector: {app: 'web'}}));
    await idle();
    const t0 = Date.now();
    store.createPod(makePod({name: 'p', ip: '127.0.0.2', ready: true, labels: {app: 'web'}}));
    await waitFor(() => conditionsByPod(store, 'web').p, {timeoutMs: 10_000, intervalMs: 5});
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });
});
