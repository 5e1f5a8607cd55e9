// The Deployment controller's rolling update against the real API store, with readiness written the way a kubelet
// would (here directly, a few ms after each pod appears): it must never exceed replicas + maxSurge live pods, never
// drop below replicas - maxUnavailable ready ones, delete old pods with their grace period, and finish.
import {describe, it, expect, afterEach} from '@jest/globals';
import {createStore, type Store} from '../../../sim/kube/store.js';
import type {Pod} from '../../../sim/kube/types.js';
import {isPodReady} from '../../../sim/kube/pod-status.js';
import {createDeploymentController, resolveIntOrPercent, TEMPLATE_HASH_LABEL, type DeploymentController} from '../../../sim/cluster/deployment-controller.js';

/** A stand-in node: pods become Ready after `readyAfterMs`; deleted pods are removed after `removeAfterMs`. */
function fakeNode(store: Store, readyAfterMs = 20, removeAfterMs = 30): () => void {
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      try {
        fn();
      } catch {
        // the pod went meanwhile
      }
    }, ms);
    timers.add(t);
  };
  const off = store.on<Pod>('pods', (e) => {
    const {namespace = 'default', name = ''} = e.object.metadata;
    if (e.type === 'ADDED') later(readyAfterMs, () => store.setPodReady(namespace, name, true));
    if (e.type === 'MODIFIED' && e.object.metadata.deletionTimestamp && !e.oldObject?.metadata.deletionTimestamp) {
      later(removeAfterMs, () => store.removePod(namespace, name));
    }
  });
  return () => {
    off();
    for (const t of timers) clearTimeout(t);
  };
}

function watchInvariants(store: Store, check: (live: Pod[]) => void): () => void {
  return store.on<Pod>('pods', () => {
    check(store.list<Pod>('pods', 'default').filter((p) => !p.metadata.deletionTimestamp));
  });
}

describe('deployment controller', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  function setup(strategy: {maxSurge: number | string; maxUnavailable: number | string}, replicas = 3): {store: Store; dc: DeploymentController} {
    const store = createStore();
    cleanups.push(fakeNode(store));
    const dc = createDeploymentController({
      store,
      resyncMs: 50,
      deployment: {
        name: 'web',
        replicas,
        strategy,
        template: {metadata: {labels: {app: 'web'}}, spec: {terminationGracePeriodSeconds: 17, containers: [{name: 'app', image: 'demo-app'}]}},
      },
    });
    cleanups.push(() => dc.stop());
    return {store, dc};
  }

  it('resolves int-or-percent like Kubernetes (surge rounds up, unavailable down)', () => {
    expect(resolveIntOrPercent('25%', 3, true, '25%')).toBe(1);
    expect(resolveIntOrPercent('25%', 3, false, '25%')).toBe(0);
    expect(resolveIntOrPercent(2, 3, true, '25%')).toBe(2);
    expect(resolveIntOrPercent(undefined, 10, false, '25%')).toBe(2);
    expect(() => resolveIntOrPercent('x', 3, true, '25%')).toThrow(RangeError);
  });

  it('maxSurge 1, maxUnavailable 0: at most 4 pods, never fewer than 3 ready, old pods deleted with their grace period', async () => {
    const {store, dc} = setup({maxSurge: 1, maxUnavailable: 0});
    await dc.waitForRollout(5000);
    let maxLive = 0;
    let minReady = Infinity;
    cleanups.push(watchInvariants(store, (live) => {
      maxLive = Math.max(maxLive, live.length);
      minReady = Math.min(minReady, live.filter(isPodReady).length);
    }));
    const graces: number[] = [];
    cleanups.push(store.on<Pod>('pods', (e) => {
      if (e.type === 'MODIFIED' && e.object.metadata.deletionTimestamp && !e.oldObject?.metadata.deletionTimestamp) graces.push(e.object.metadata.deletionGracePeriodSeconds!);
    }));
    const before = dc.status().revision;
    dc.rollout((t) => {
      t.spec.containers[0]!.image = 'demo-app:v2';
    });
    const done = await dc.waitForRollout(5000);
    expect(done.completedAt).toBeGreaterThanOrEqual(done.startedAt);
    expect(dc.status()).toMatchObject({replicas: 3, updated: 3, ready: 3, old: 0});
    expect(dc.status().revision).not.toBe(before);
    expect(maxLive).toBeLessThanOrEqual(4);
    expect(minReady).toBeGreaterThanOrEqual(3);
    expect(graces).toEqual([17, 17, 17]);
    const images = store.list<Pod>('pods', 'default').filter((p) => !p.metadata.deletionTimestamp).map((p) => p.spec.containers[0]!.image);
    expect(images).toEqual(['demo-app:v2', 'demo-app:v2', 'demo-app:v2']);
  });

  it('maxSurge 0, maxUnavailable 1 with one replica: deletes the old pod first, then creates the new one', async () => {
    const {store, dc} = setup({maxSurge: 0, maxUnavailable: 1}, 1);
    await dc.waitForRollout(5000);
    let maxLive = 0;
    cleanups.push(watchInvariants(store, (live) => (maxLive = Math.max(maxLive, live.length))));
    dc.rollout((t) => {
      t.spec.containers[0]!.image = 'demo-app:v2';
    });
    await dc.waitForRollout(5000);
    expect(maxLive).toBe(1);
    const kinds = dc.events.filter((e) => e.type === 'pod-created' || e.type === 'pod-deleted').map((e) => e.type);
    expect(kinds.slice(-2)).toEqual(['pod-deleted', 'pod-created']);
  });

  it('replaces a pod that failed (an eviction leaves it Failed) and labels pods with the template revision', async () => {
    const {store, dc} = setup({maxSurge: 1, maxUnavailable: 0}, 2);
    await dc.waitForRollout(5000);
    const [victim] = store.list<Pod>('pods', 'default');
    store.patchPodStatus('default', victim!.metadata.name!, (s) => {
      s.phase = 'Failed';
      s.reason = 'Evicted';
    });
    await new Promise((r) => setTimeout(r, 300));
    const live = store.list<Pod>('pods', 'default').filter((p) => p.status?.phase !== 'Failed');
    expect(live).toHaveLength(2);
    for (const p of live) expect(p.metadata.labels?.[TEMPLATE_HASH_LABEL]).toBe(dc.status().revision);
  });

  it('passes every pod it creates through admission first, and never creates more than the surge allows meanwhile', async () => {
    const store = createStore();
    cleanups.push(fakeNode(store));
    let calls = 0;
    let refusals = 1;
    const admit = async (pod: Pod): Promise<Pod> => {
      calls++;
      await new Promise((r) => setTimeout(r, 30));
      // The first create is refused (a webhook denial): the controller tries again at the next reconcile.
      if (refusals-- > 0) throw new Error('denied');
      return {...pod, metadata: {...pod.metadata, annotations: {admitted: 'yes'}}};
    };
    const seen: number[] = [];
    cleanups.push(watchInvariants(store, (live) => seen.push(live.length)));
    const dc = createDeploymentController({
      store,
      resyncMs: 50,
      admit,
      deployment: {name: 'web', replicas: 3, strategy: {maxSurge: 1, maxUnavailable: 0}, template: {metadata: {labels: {app: 'web'}}, spec: {containers: [{name: 'app', image: 'demo-app'}]}}},
    });
    cleanups.push(() => dc.stop());
    await dc.waitForRollout(5000);
    dc.rollout((t) => {
      t.spec.containers[0]!.image = 'demo-app:2';
    });
    await dc.waitForRollout(5000);
    const live = store.list<Pod>('pods', 'default').filter((p) => !p.metadata.deletionTimestamp);
    expect(live).toHaveLength(3);
    for (const p of live) expect(p.metadata.annotations).toEqual({admitted: 'yes'});
    expect(calls).toBe(7);
    expect(Math.max(...seen)).toBeLessThanOrEqual(4);
  });
});
