// Helpers for what a kubelet writes into a Pod's status: conditions keep their lastTransitionTime unless their status
// actually changes, the way kubelet's status manager does (clients such as kubectl and controllers read it).
import {kubeTime} from './time.js';
import type {Pod, PodCondition, PodStatus} from './types.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** Sets (or adds) condition `type` on `status`; returns `status` for chaining. */
export function setCondition(
  status: PodStatus,
  type: string,
  value: ConditionStatus,
  opts: {reason?: string; message?: string; now?: number} = {},
): PodStatus {
  const conditions = (status.conditions ??= []);
  const existing = conditions.find((c) => c.type === type);
  const now = kubeTime(opts.now ?? Date.now());
  if (existing) {
    if (existing.status !== value) existing.lastTransitionTime = now;
    existing.status = value;
    if (opts.reason !== undefined) existing.reason = opts.reason;
    if (opts.message !== undefined) existing.message = opts.message;
  } else {
    const c: PodCondition = {type, status: value, lastProbeTime: null, lastTransitionTime: now};
    if (opts.reason !== undefined) c.reason = opts.reason;
    if (opts.message !== undefined) c.message = opts.message;
    conditions.push(c);
  }
  return status;
}

export function getCondition(pod: Pick<Pod, 'status'>, type: string): PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

/** podutil.IsPodReady: the Ready condition is True. */
export function isPodReady(pod: Pick<Pod, 'status'>): boolean {
  return getCondition(pod, 'Ready')?.status === 'True';
}

export function isTerminalPhase(pod: Pick<Pod, 'status'>): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/**
 * What kubelet reports when readiness changes: Ready and ContainersReady conditions plus every container's `ready`.
 * Mutates `pod` (call it inside Store.patchPodStatus).
 */
export function markReady(pod: Pod, ready: boolean, now = Date.now()): void {
  const status = (pod.status ??= {});
  const value: ConditionStatus = ready ? 'True' : 'False';
  const reason = ready ? undefined : 'ContainersNotReady';
  setCondition(status, 'ContainersReady', value, {reason, now});
  setCondition(status, 'Ready', value, {reason, now});
  if (ready) {
    for (const c of status.conditions ?? []) {
      if (c.type === 'Ready' || c.type === 'ContainersReady') {
        delete c.reason;
        delete c.message;
      }
    }
  }
  for (const cs of status.containerStatuses ?? []) cs.ready = ready;
}
