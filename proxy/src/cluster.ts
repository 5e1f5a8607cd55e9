/**
 * What the drain needs from Kubernetes, as a narrow interface. `kube/` implements it over the Kubernetes API;
 * a sidecar without pod identity runs with none and uses the timed fallback. Keeping the drain ignorant of the
 * client library lets tests drive it with the real API server simulation or without any.
 */
import type {FallbackReason} from './metrics.js';

export interface PodState {
  /** metadata.deletionTimestamp is set: the pod is being deleted (rollout, scale-down, kubectl delete, API eviction). */
  readonly deleting: boolean;
  /** A `DisruptionTarget` condition is True: kubelet/controller eviction, possibly without deletionTimestamp. */
  readonly disruptionTarget: boolean;
  /** status.phase is Succeeded or Failed (e.g. activeDeadlineSeconds, node shutdown). */
  readonly terminalPhase: boolean;
  /** deletionGracePeriodSeconds, else spec.terminationGracePeriodSeconds. */
  readonly gracePeriodSeconds: number | undefined;
  /**
   * Kubelet itself terminates the pod (`DisruptionTarget` reason `TerminationByKubelet`, no deletionTimestamp:
   * node-pressure eviction, graceful node shutdown). Its grace period is then kubelet's, invisible in the API: 1 s
   * for a hard eviction threshold, min(evictionMaxPodGracePeriod, spec) for a soft one. `gracePeriodSeconds` is only
   * the upper bound.
   */
  readonly kubeletTermination?: boolean;
}

export function isTerminating(pod: PodState): boolean {
  return pod.deleting || pod.disruptionTarget || pod.terminalPhase;
}

export type PodLookup =
  | {readonly ok: true; readonly pod: PodState}
  | {readonly ok: false; readonly reason: FallbackReason; readonly error: Error};

export type DeregistrationOutcome =
  /** No Service routes the pod any more (the level-based rule over every EndpointSlice of the namespace). */
  | {
      readonly kind: 'deregistered';
      /** A headless Service had the pod: settle at least this long from now (DNS caches, docs/kubernetes.md). */
      readonly dnsSettleMs?: number;
    }
  /** The API could not tell; we served for the fallback delay instead. */
  | {readonly kind: 'fallback'; readonly reason: FallbackReason}
  /** The signal fired first (deadline). */
  | {readonly kind: 'aborted'};

export interface DeregistrationOptions {
  /** Fires at the drain deadline; the promise then resolves with `aborted`. */
  readonly signal: AbortSignal;
  /** Serve this long when the API cannot be used (403, 401 after a token re-read, unreachable). */
  readonly fallbackDelayMs: number;
}

export interface PodEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export interface Cluster {
  /** One GET of the own Pod, bounded by the signal. Never throws. */
  getPod(signal: AbortSignal): Promise<PodLookup>;
  /** Lists and watches the namespace's EndpointSlices until no Service routes the pod. Never throws. */
  awaitDeregistration(options: DeregistrationOptions): Promise<DeregistrationOutcome>;
  /** Trigger 3 (LAMEDUCK_WATCH_POD): calls back once when the pod is seen terminating. Returns a stop function. */
  watchPod(onTerminating: (pod: PodState) => void): () => void;
  /** Creates a core/v1 Event on the pod. Best effort: failures are logged, never thrown. */
  recordEvent(event: PodEvent): Promise<void>;
  /** Stops every watch and timer. */
  close(): void;
}
