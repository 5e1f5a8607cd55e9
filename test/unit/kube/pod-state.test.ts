import {describe, expect, it} from '@jest/globals';
import {isTerminating} from '../../../proxy/src/cluster.js';
import {podStateOf} from '../../../proxy/src/kube/pod.js';
import type {WirePod} from '../../../proxy/src/kube/wire.js';

function pod(p: {deletionTimestamp?: string; deletionGrace?: number; specGrace?: number; phase?: string; conditions?: {type: string; status: string; reason?: string}[]}): WirePod {
  return {
    metadata: {
      name: 'p',
      ...(p.deletionTimestamp ? {deletionTimestamp: p.deletionTimestamp} : {}),
      ...(p.deletionGrace !== undefined ? {deletionGracePeriodSeconds: p.deletionGrace} : {}),
    },
    spec: p.specGrace !== undefined ? {terminationGracePeriodSeconds: p.specGrace} : {},
    status: {phase: p.phase ?? 'Running', conditions: p.conditions ?? [{type: 'Ready', status: 'True'}]},
  };
}

describe('pod state classification', () => {
  it('a running, ready pod is not terminating; the grace period comes from the spec', () => {
    const s = podStateOf(pod({specGrace: 45}));
    expect(s).toEqual({deleting: false, disruptionTarget: false, kubeletTermination: false, terminalPhase: false, gracePeriodSeconds: 45});
    expect(isTerminating(s)).toBe(false);
  });

  it('deletionTimestamp: deleting, and deletionGracePeriodSeconds wins over the spec', () => {
    const s = podStateOf(pod({deletionTimestamp: '2025-01-01T00:00:00Z', deletionGrace: 12, specGrace: 45}));
    expect(s).toMatchObject({deleting: true, gracePeriodSeconds: 12});
    expect(isTerminating(s)).toBe(true);
    // deletionGracePeriodSeconds 0 is a real value (force delete), not "missing".
    expect(podStateOf(pod({deletionTimestamp: '2025-01-01T00:00:00Z', deletionGrace: 0, specGrace: 45})).gracePeriodSeconds).toBe(0);
  });

  it('DisruptionTarget True without deletionTimestamp (kubelet eviction) is terminating; False or Unknown is not', () => {
    const evicted = podStateOf(pod({conditions: [{type: 'Ready', status: 'True'}, {type: 'DisruptionTarget', status: 'True'}]}));
    expect(evicted).toMatchObject({deleting: false, disruptionTarget: true});
    expect(isTerminating(evicted)).toBe(true);
    for (const status of ['False', 'Unknown']) {
      expect(isTerminating(podStateOf(pod({conditions: [{type: 'DisruptionTarget', status}]})))).toBe(false);
    }
  });

  it('kubelet terminations (TerminationByKubelet, no deletionTimestamp) are told apart: their grace period is not in the API', () => {
    const kubelet = {type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet'};
    expect(podStateOf(pod({specGrace: 30, conditions: [kubelet]}))).toMatchObject({disruptionTarget: true, kubeletTermination: true, gracePeriodSeconds: 30});
    // An API eviction, preemption or taint-manager eviction sets deletionTimestamp and deletionGracePeriodSeconds.
    const api = {type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI'};
    expect(podStateOf(pod({deletionTimestamp: '2025-01-01T00:00:00Z', deletionGrace: 10, conditions: [api]}))).toMatchObject({kubeletTermination: false});
    expect(podStateOf(pod({deletionTimestamp: '2025-01-01T00:00:00Z', deletionGrace: 10, conditions: [kubelet]}))).toMatchObject({kubeletTermination: false});
    expect(podStateOf(pod({conditions: [{...kubelet, status: 'False'}]}))).toMatchObject({kubeletTermination: false});
  });

  it('Succeeded and Failed are terminal phases; Pending and Unknown are not', () => {
    for (const phase of ['Succeeded', 'Failed']) expect(podStateOf(pod({phase}))).toMatchObject({terminalPhase: true});
    for (const phase of ['Pending', 'Unknown', 'Running']) expect(isTerminating(podStateOf(pod({phase})))).toBe(false);
  });

  it('a pod without spec grace period or status still classifies', () => {
    expect(podStateOf({metadata: {name: 'bare'}})).toEqual({deleting: false, disruptionTarget: false, kubeletTermination: false, terminalPhase: false, gracePeriodSeconds: undefined});
  });
});
