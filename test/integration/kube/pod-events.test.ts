// The own Pod (GET at the trigger, the optional watch of trigger 3) and the Events lameduck leaves on it.
import {afterEach, describe, expect, it} from '@jest/globals';
import type {PodState} from '../../../proxy/src/cluster.js';
import {NS, counterValue, makePod, sleepMs, useFixture, waitFor} from '../../support/kube-fixture.js';

const fx = useFixture();
afterEach(() => {
  fx.api.faults.reset();
});

const signal = (): AbortSignal => AbortSignal.timeout(5_000);

describe('getPod', () => {
  it('classifies running, deleting (grace from deletionGracePeriodSeconds) and terminal pods', async () => {
    const {store} = fx.api;
    store.createPod({...makePod('get-0', '10.4.0.10', {app: 'get'}), spec: {...makePod('get-0', '10.4.0.10', {}).spec, terminationGracePeriodSeconds: 45}});
    const {cluster} = fx.sidecar({name: 'get-0'});
    expect(await cluster.getPod(signal())).toEqual({
      ok: true,
      pod: {deleting: false, disruptionTarget: false, kubeletTermination: false, terminalPhase: false, gracePeriodSeconds: 45},
    });
    store.deletePod(NS, 'get-0', {gracePeriodSeconds: 17});
    expect(await cluster.getPod(signal())).toMatchObject({ok: true, pod: {deleting: true, gracePeriodSeconds: 17}});
    store.patchPodStatus(NS, 'get-0', (status) => {
      status.phase = 'Failed';
    });
    expect(await cluster.getPod(signal())).toMatchObject({ok: true, pod: {deleting: true, terminalPhase: true}});
  });

  it('an eviction that sets DisruptionTarget without deletionTimestamp is seen as terminating, by kubelet (grace period unknown)', async () => {
    fx.api.store.createPod(makePod('evict-0', '10.4.0.20', {app: 'evict'}));
    const {cluster} = fx.sidecar({name: 'evict-0'});
    fx.api.store.patchPodStatus(NS, 'evict-0', (status) => {
      status.conditions = [...(status.conditions ?? []), {type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet'}];
    });
    expect(await cluster.getPod(signal())).toEqual({
      ok: true,
      pod: {deleting: false, disruptionTarget: true, kubeletTermination: true, terminalPhase: false, gracePeriodSeconds: 30},
    });
  });

  it('404 is `no_pod`, 403 is `forbidden`, an unreachable API is `unreachable` — never a throw', async () => {
    fx.api.store.createPod(makePod('err-0', '10.4.0.30', {app: 'err'}));
    const ghost = fx.sidecar({name: 'ghost-0', env: {POD_IPS: '10.4.0.99'}});
    expect(await ghost.cluster.getPod(signal())).toMatchObject({ok: false, reason: 'no_pod'});
    const {cluster} = fx.sidecar({name: 'err-0'});
    fx.api.faults.deny('get', 'pods');
    const denied = await cluster.getPod(signal());
    expect(denied).toMatchObject({ok: false, reason: 'forbidden'});
    expect(!denied.ok && (denied.error as Error & {code?: string}).code).toBe('KUBE_FORBIDDEN');
    fx.api.faults.allow();
    await fx.api.stop();
    try {
      expect(await cluster.getPod(signal())).toMatchObject({ok: false, reason: 'unreachable'});
    } finally {
      await fx.api.start();
    }
  });

  it('an abort signal bounds the GET', async () => {
    fx.api.store.createPod(makePod('slow-0', '10.4.0.40', {app: 'slow'}));
    fx.api.faults.throttle({count: 5, retryAfterSeconds: 10, verb: 'get', resource: 'pods'});
    const {cluster} = fx.sidecar({name: 'slow-0'});
    const t0 = Date.now();
    const lookup = await cluster.getPod(AbortSignal.timeout(500));
    expect(lookup).toMatchObject({ok: false, reason: 'unreachable'});
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});

describe('watchPod', () => {
  it('fires once when the pod gets a DisruptionTarget condition, surviving a dropped watch and a 410 before it', async () => {
    fx.api.store.createPod(makePod('watch-0', '10.4.0.50', {app: 'watch'}));
    const {cluster, metrics} = fx.sidecar({name: 'watch-0', env: {LAMEDUCK_WATCH_POD: 'true'}});
    const seen: PodState[] = [];
    const stop = cluster.watchPod((pod) => seen.push(pod));
    try {
      const watching = async (n: number): Promise<void> =>
        waitFor(async () => (await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'pods', verb: 'watch', code: 'ok'})) >= n, 5_000, 'pod watch');
      await watching(1);
      fx.api.faults.dropWatches();
      await watching(2);
      fx.api.faults.compact();
      await watching(3);
      // Unrelated status churn does not fire it.
      fx.api.store.setPodReady(NS, 'watch-0', false);
      await sleepMs(300);
      expect(seen).toEqual([]);
      fx.api.store.patchPodStatus(NS, 'watch-0', (status) => {
        status.conditions = [...(status.conditions ?? []), {type: 'DisruptionTarget', status: 'True'}];
      });
      await waitFor(() => seen.length > 0, 5_000, 'the callback');
      fx.api.store.deletePod(NS, 'watch-0', {gracePeriodSeconds: 30});
      await sleepMs(300);
      expect(seen).toEqual([{deleting: false, disruptionTarget: true, kubeletTermination: false, terminalPhase: false, gracePeriodSeconds: 30}]);
      // Field-selected to this pod only.
      const watches = fx.api.requests.filter({verb: 'watch', resource: 'pods'});
      expect(watches.every((r) => r.query.fieldSelector === 'metadata.name=watch-0')).toBe(true);
    } finally {
      stop();
    }
  });

  it('fires at once when the pod is already deleting when the watch starts; stop() ends it', async () => {
    fx.api.store.createPod(makePod('watch-1', '10.4.0.51', {app: 'watch'}));
    fx.api.store.deletePod(NS, 'watch-1', {gracePeriodSeconds: 20});
    const {cluster} = fx.sidecar({name: 'watch-1'});
    const seen: PodState[] = [];
    const stop = cluster.watchPod((pod) => seen.push(pod));
    await waitFor(() => seen.length > 0, 5_000, 'the callback');
    stop();
    expect(seen).toEqual([{deleting: true, disruptionTarget: false, kubeletTermination: false, terminalPhase: false, gracePeriodSeconds: 20}]);
  });
});

describe('recordEvent', () => {
  it('creates a core/v1 Event named and filled like client-go\'s recorder', async () => {
    const pod = fx.api.store.createPod(makePod('ev-0', '10.4.0.60', {app: 'ev'}));
    const {cluster} = fx.sidecar({name: 'ev-0'});
    const before = Date.now();
    await cluster.recordEvent({type: 'Normal', reason: 'LameduckDrained', message: 'Drained: 12 requests served after the trigger'});
    await cluster.recordEvent({type: 'Warning', reason: 'LameduckFallback', message: 'API could not tell'});
    const events = fx.api.store.events(NS).filter((e) => e.involvedObject.name === 'ev-0');
    expect(events).toHaveLength(2);
    const [drained, fallback] = events;
    expect(drained).toMatchObject({
      involvedObject: {apiVersion: 'v1', kind: 'Pod', name: 'ev-0', namespace: NS, uid: pod.metadata.uid},
      reason: 'LameduckDrained',
      message: 'Drained: 12 requests served after the trigger',
      type: 'Normal',
      source: {component: 'lameduck'},
      reportingComponent: 'lameduck',
      reportingInstance: 'ev-0',
      count: 1,
    });
    expect(fallback).toMatchObject({type: 'Warning', reason: 'LameduckFallback'});
    for (const e of events) {
      const m = /^ev-0\.([0-9a-f]{16})$/.exec(e.metadata.name ?? '');
      expect(m).not.toBeNull();
      const ms = Number(BigInt(`0x${m![1]}`) / 1_000_000n);
      expect(ms).toBeGreaterThanOrEqual(before - 5);
      expect(ms).toBeLessThanOrEqual(Date.now());
      expect(e.firstTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(e.lastTimestamp).toBe(e.firstTimestamp);
    }
    expect(drained!.metadata.name).not.toBe(fallback!.metadata.name);
  });

  it('a refused Event is logged at warn and never thrown', async () => {
    fx.api.store.createPod(makePod('ev-1', '10.4.0.61', {app: 'ev'}));
    const {cluster, logs} = fx.sidecar({name: 'ev-1'});
    fx.api.faults.deny('create', 'events');
    await expect(cluster.recordEvent({type: 'Normal', reason: 'LameduckDrained', message: 'x'})).resolves.toBeUndefined();
    expect(logs.some((l) => l.level === 'warn' && l.msg.includes('could not record'))).toBe(true);
    expect(fx.api.store.events(NS).filter((e) => e.involvedObject.name === 'ev-1')).toHaveLength(0);
  });
});
