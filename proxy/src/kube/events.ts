/**
 * Kubernetes Events on the own Pod (core/v1, the form `kubectl describe pod` and `kubectl get events` show): a drain
 * happens in a pod's last seconds and may never be scraped, so the Event is its durable record.
 *
 * Named and filled like client-go's legacy recorder (tools/record/event.go: `makeEvent`, name
 * `fmt.Sprintf("%v.%x", ref.Name, t.UnixNano())`), so tooling that reads recorder-made Events reads ours.
 * Best effort: bounded in time, a failure is logged at warn and never thrown.
 */
import type {PodEvent} from '../cluster.js';
import type {Logger} from '../log.js';
import type {KubeClient} from './client.js';

export const EVENT_COMPONENT = 'lameduck';
/** core/v1 does not cap the message, but events.k8s.io/v1 caps `note` at 1 kB and client-go truncates to it. */
const MAX_MESSAGE = 1024;

/** `<pod>.<16 hex digits of a nanosecond Unix timestamp>`. */
export function eventName(podName: string, unixNanos: bigint): string {
  return `${podName}.${unixNanos.toString(16).padStart(16, '0')}`;
}

/** metav1.Time: RFC 3339 with second precision. */
export function kubeTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export interface EventRecorderDeps {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly pod: {readonly name: string; readonly namespace: string; readonly uid?: string};
  /** Wall clock, ms since the epoch. */
  readonly now?: () => number;
  /** Whole budget of one Event, retries included (default 5 s). */
  readonly timeoutMs?: number;
  /** Fires when the Cluster is closed. */
  readonly closeSignal?: AbortSignal;
}

export interface EventRecorder {
  record(event: PodEvent): Promise<void>;
}

export function createEventRecorder(deps: EventRecorderDeps): EventRecorder {
  const {client, log, pod} = deps;
  const now = deps.now ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? 5_000;
  let lastNanos = 0n;

  /** Wall-clock nanoseconds, strictly increasing so two Events in one millisecond get distinct names. */
  const unixNanos = (): bigint => {
    const subMs = BigInt(Math.floor((performance.now() % 1) * 1e6));
    let n = BigInt(Math.floor(now())) * 1_000_000n + subMs;
    if (n <= lastNanos) n = lastNanos + 1n;
    lastNanos = n;
    return n;
  };

  return {
    async record(event) {
      const at = now();
      const message = event.message.length > MAX_MESSAGE ? `${event.message.slice(0, MAX_MESSAGE - 3)}...` : event.message;
      const body = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: {name: eventName(pod.name, unixNanos()), namespace: pod.namespace},
        involvedObject: {apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace, ...(pod.uid ? {uid: pod.uid} : {})},
        reason: event.reason,
        message,
        type: event.type,
        source: {component: EVENT_COMPONENT},
        reportingComponent: EVENT_COMPONENT,
        reportingInstance: pod.name,
        firstTimestamp: kubeTime(at),
        lastTimestamp: kubeTime(at),
        count: 1,
      };
      const budget = new AbortController();
      const timer = setTimeout(() => budget.abort(), timeoutMs);
      timer.unref();
      const onClose = (): void => budget.abort();
      deps.closeSignal?.addEventListener('abort', onClose, {once: true});
      try {
        await client.call({
          resource: 'events',
          verb: 'create',
          path: `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/events`,
          body,
          signal: budget.signal,
          timeoutMs,
          throttleRetries: 1,
        });
        log.debug('event recorded', {reason: event.reason, name: body.metadata.name});
      } catch (error) {
        log.warn('could not record the kubernetes event', {reason: event.reason, error});
      } finally {
        clearTimeout(timer);
        deps.closeSignal?.removeEventListener('abort', onClose);
      }
    },
  };
}
