/**
 * The own Pod: one GET at the trigger (is it terminating? which grace period?) and, with LAMEDUCK_WATCH_POD, a
 * list+watch restricted to it by `fieldSelector=metadata.name=<pod>` (trigger 3).
 *
 * Terminating means any of (docs/design.md "Facts"): `deletionTimestamp` set (delete, rollout, API eviction); a
 * `DisruptionTarget` condition True (kubelet/taint-manager/preemption evictions, graceful node shutdown — possibly
 * without a deletionTimestamp, https://kubernetes.io/docs/concepts/workloads/pods/disruptions/#pod-disruption-conditions);
 * or a terminal phase (activeDeadlineSeconds, node shutdown).
 */
import {isTerminating, type PodLookup, type PodState} from '../cluster.js';
import type {Logger} from '../log.js';
import {sleep} from '../wait.js';
import {createBackoff} from './backoff.js';
import type {KubeClient} from './client.js';
import {KubeApiError} from './kube-api-error.js';
import type {WireList, WirePod, WireStatus} from './wire.js';

export function podStateOf(pod: WirePod): PodState {
  const conditions = pod.status?.conditions ?? [];
  const phase = pod.status?.phase;
  const deletionGrace = pod.metadata.deletionGracePeriodSeconds;
  const specGrace = pod.spec?.terminationGracePeriodSeconds;
  const disruption = conditions.find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
  const deleting = Boolean(pod.metadata.deletionTimestamp);
  return {
    deleting,
    disruptionTarget: disruption !== undefined,
    // Kubelet's own terminations (pkg/kubelet/eviction, nodeshutdown) set this reason and override the grace period
    // without writing it anywhere the API shows; an API eviction or a delete sets deletionTimestamp instead.
    kubeletTermination: disruption?.reason === 'TerminationByKubelet' && !deleting,
    terminalPhase: phase === 'Succeeded' || phase === 'Failed',
    gracePeriodSeconds: typeof deletionGrace === 'number' ? deletionGrace : typeof specGrace === 'number' ? specGrace : undefined,
  };
}

export interface PodApiDeps {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly namespace: string;
  readonly name: string;
  readonly requestTimeoutMs?: number;
  /** Fires when the Cluster is closed. */
  readonly closeSignal?: AbortSignal;
  readonly backoff?: {readonly initialMs: number; readonly maxMs: number};
  readonly random?: () => number;
}

export interface PodApi {
  getPod(signal: AbortSignal): Promise<PodLookup>;
  watchPod(onTerminating: (pod: PodState) => void): () => void;
}

export function createPodApi(deps: PodApiDeps): PodApi {
  const {client, log, namespace, name} = deps;
  const random = deps.random ?? Math.random;
  const podsPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
  const fieldSelector = `metadata.name=${name}`;

  return {
    async getPod(signal) {
      try {
        const pod = await client.call<WirePod>({
          resource: 'pods',
          verb: 'get',
          path: `${podsPath}/${encodeURIComponent(name)}`,
          signal,
          timeoutMs: deps.requestTimeoutMs,
          throttleRetries: 2,
        });
        return {ok: true, pod: podStateOf(pod)};
      } catch (error) {
        const err = error instanceof KubeApiError ? error : new KubeApiError(String(error), {cause: error});
        return {ok: false, reason: err.notFound ? 'no_pod' : err.reason, error: err};
      }
    },

    watchPod(onTerminating) {
      const stop = new AbortController();
      const onClose = (): void => stop.abort();
      deps.closeSignal?.addEventListener('abort', onClose, {once: true});
      if (deps.closeSignal?.aborted) stop.abort();
      const backoff = createBackoff({initialMs: deps.backoff?.initialMs ?? 500, maxMs: deps.backoff?.maxMs ?? 30_000, random});
      let fired = false;
      const check = (pod: WirePod | undefined): boolean => {
        if (!pod || fired) return fired;
        const state = podStateOf(pod);
        if (!isTerminating(state)) return false;
        fired = true;
        log.info('pod watch: pod is terminating', {...state});
        onTerminating(state);
        return true;
      };

      const loop = async (): Promise<void> => {
        let resourceVersion: string | undefined;
        let failures = 0;
        while (!stop.signal.aborted && !fired) {
          const started = performance.now();
          let delivered = false;
          try {
            if (resourceVersion === undefined) {
              const list = await client.call<WireList<WirePod>>({
                resource: 'pods',
                verb: 'list',
                path: podsPath,
                query: {fieldSelector, resourceVersion: '0'},
                signal: stop.signal,
                timeoutMs: deps.requestTimeoutMs,
              });
              if (check(list.items?.[0])) return;
              resourceVersion = list.metadata?.resourceVersion || '0';
            }
            // Like client-go's reflector: a server-side timeout spread over 5-10 min, then a re-watch from where we were.
            const timeoutSeconds = String(300 + Math.floor(random() * 300));
            for await (const event of client.watch<WirePod>({
              resource: 'pods',
              path: podsPath,
              query: {fieldSelector, resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds},
              signal: stop.signal,
              timeoutMs: deps.requestTimeoutMs,
            })) {
              if (event.type === 'ERROR') {
                const status = event.object as WireStatus;
                throw new KubeApiError(`watch pods: ${status.code ?? ''} ${status.reason ?? ''}: ${status.message ?? ''}`, {
                  status: status.code,
                  statusReason: status.reason,
                });
              }
              const pod = event.object as WirePod;
              if (pod?.metadata?.resourceVersion) resourceVersion = pod.metadata.resourceVersion;
              delivered = true;
              failures = 0;
              backoff.reset();
              // A DELETED event means the pod object is gone: it certainly terminates.
              if (event.type === 'DELETED' && !fired) {
                fired = true;
                // Keep its grace period: the drain deadline comes from it.
                onTerminating({...podStateOf(pod), deleting: true});
                return;
              }
              if (event.type !== 'BOOKMARK' && check(pod)) return;
            }
            if (stop.signal.aborted) return;
            // A normal server-side close: watch again from the last resourceVersion, unless it closed at once.
            if (delivered || performance.now() - started >= 1_000) continue;
            throw new KubeApiError('watch pods: closed at once');
          } catch (error) {
            if (stop.signal.aborted) return;
            const err = error instanceof KubeApiError ? error : new KubeApiError(String(error), {cause: error});
            // 410: our resourceVersion was compacted; any other failure: re-list too, it is cheap for one pod.
            resourceVersion = undefined;
            failures++;
            const delay = err.expired ? 0 : backoff.next();
            const ctx = {error: err, retryInMs: delay, failures};
            if (failures === 1) log.warn('pod watch failed: retrying', ctx);
            else log.debug('pod watch failed: retrying', ctx);
            await sleep(delay, stop.signal);
          }
        }
      };
      void loop().finally(() => deps.closeSignal?.removeEventListener('abort', onClose));
      return () => stop.abort();
    },
  };
}
