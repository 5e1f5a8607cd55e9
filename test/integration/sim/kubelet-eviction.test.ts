// A kubelet-initiated termination without deletionTimestamp (node-pressure eviction, docs/design.md): the pod gets a
// DisruptionTarget condition, goes through the normal termination sequence (hooks, SIGTERM), ends Failed/Evicted,
// and the object stays (nothing deletes it).
import {describe, it, expect} from '@jest/globals';
import type {Pod} from '../../../sim/kube/types.js';
import {getCondition, isPodReady} from '../../../sim/kube/pod-status.js';
import {waitFor} from '../../../sim/cluster/wait.js';
import {useKubelet} from '../../support/kubelet-fixture.js';

describe('kubelet: eviction without deletionTimestamp', () => {
  const sim = useKubelet();

  it('marks DisruptionTarget, runs the hook then SIGTERM, and leaves a Failed pod behind', async () => {
    const {store, kubelet} = sim;
    const pod: Pod = {
      metadata: {name: 'evictee', namespace: 'default'},
      spec: {
        terminationGracePeriodSeconds: 20,
        containers: [{
          name: 'app',
          image: 'demo-app:dev',
          env: [{name: 'PORT', value: '13000'}],
          readinessProbe: {httpGet: {path: '/alive', port: 13000}, periodSeconds: 1, failureThreshold: 1},
          lifecycle: {preStop: {sleep: {seconds: 1}}},
        }],
      },
    };
    store.createPod(pod);
    await sim.waitForReady('evictee');
    const seen: string[] = [];
    const off = store.on<Pod>('pods', (e) => {
      const c = getCondition(e.object, 'DisruptionTarget');
      if (c?.status === 'True' && !seen.includes('disruption')) seen.push('disruption');
      if (e.object.metadata.deletionTimestamp) seen.push('deletionTimestamp');
    });
    await kubelet.evict('default', 'evictee', {gracePeriodSeconds: 10});
    off();
    const after = store.getPod('default', 'evictee')!;
    expect(after).toBeDefined();
    expect(after.metadata.deletionTimestamp).toBeUndefined();
    expect(seen).toEqual(['disruption']);
    expect(getCondition(after, 'DisruptionTarget')).toMatchObject({status: 'True', reason: 'TerminationByKubelet'});
    expect(after.status).toMatchObject({phase: 'Failed', reason: 'Evicted'});
    expect(isPodReady(after)).toBe(false);
    const events = kubelet.recorder.events.filter((e) => e.pod === 'evictee').map((e) => e.type);
    expect(events.indexOf('prestop-end')).toBeLessThan(events.indexOf('sigterm'));
    expect(events).toContain('terminated');
    expect(events).not.toContain('removed');
  });
});
