/**
 * The record of a drain kubelet started on its own (docs/kubernetes.md "Evictions by the kubelet").
 *
 * A node-pressure eviction or a graceful node shutdown marks the pod `DisruptionTarget` (reason
 * `TerminationByKubelet`) without a deletionTimestamp and overrides the grace period where the API does not show it:
 * 1 s for a hard eviction threshold, min(evictionMaxPodGracePeriod, spec) for a soft one
 * (https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/#pod-selection-for-kubelet-eviction).
 * The drain's deadline, taken from the spec, may then lie past kubelet's SIGKILL, and the summary line and the
 * LameduckDrained Event written at `done` would be lost with the process. So the record is written at the trigger,
 * before a 1 s SIGKILL can come: a provisional summary line and a Warning Event saying what was in flight. The
 * drain itself goes on as usual; its final summary and Event follow if the process lives that long.
 *
 * The same holds for a SIGTERM the API does not explain (no deletionTimestamp, no DisruptionTarget yet): kubelet's
 * status manager writes the eviction's condition asynchronously, so a classic sidecar's lookup right after the signal
 * often misses it; a container restart looks the same. Either way lameduck cannot know when SIGKILL comes.
 */
import type {Cluster} from './cluster.js';
import type {Logger} from './log.js';
import type {Trigger} from './metrics.js';

export const KUBELET_TERMINATION_EVENT_REASON = 'LameduckKubeletTermination';
export const UNEXPLAINED_SIGNAL_EVENT_REASON = 'LameduckGraceUnknown';

export interface ProvisionalRecord {
  /** `kubelet`: the API shows TerminationByKubelet; `unexplained`: a signal while the API shows no termination. */
  readonly cause: 'kubelet' | 'unexplained';
  readonly trigger: Trigger;
  readonly deadlineMs: number;
  readonly stats: {readonly inFlight: number; readonly upgraded: number; readonly openConnections: number; readonly drained: number};
}

export function recordKubeletTermination(deps: {log: Logger; cluster: Cluster | undefined}, record: ProvisionalRecord): void {
  const {inFlight, upgraded, openConnections} = record.stats;
  const kubelet = record.cause === 'kubelet';
  deps.log.warn('provisional drain summary', {
    provisional: true,
    why: kubelet
      ? 'kubelet terminates the pod with a grace period the API does not show (1 s for a hard eviction threshold)'
      : 'a signal the API does not explain (a kubelet eviction not written yet, or a container restart): grace period unknown',
    trigger: record.trigger,
    deadlineMs: record.deadlineMs,
    // What a SIGKILL now would cut; the final summary (if it comes) has the real count.
    atRisk: {requests: inFlight, upgrades: upgraded, connections: openConnections},
  });
  void deps.cluster?.recordEvent({
    type: 'Warning',
    reason: kubelet ? KUBELET_TERMINATION_EVENT_REASON : UNEXPLAINED_SIGNAL_EVENT_REASON,
    message:
      (kubelet
        ? `Kubelet is terminating the pod (node-pressure eviction or node shutdown) with a grace period the API does not show ` +
          `(1 s for a hard eviction threshold): draining`
        : `The pod was signalled while the API shows no termination (a kubelet eviction not written yet, or a container ` +
          `restart), grace period unknown: draining`) +
      ` ${inFlight} in-flight requests, ${upgraded} upgraded and ` +
      `${openConnections} open connections for up to ${record.deadlineMs} ms (${record.trigger}). ` +
      `A LameduckDrained event follows only if the drain ends before SIGKILL.`,
  });
}
