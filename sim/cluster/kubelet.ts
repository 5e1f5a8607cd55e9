/**
 * The simulated node's kubelet: watches the API store for pods bound to its node and runs each one with a
 * PodRuntime (see pod-runtime.ts for the container lifecycle and termination order), giving every pod its own
 * loopback IP (the "network namespace", see pod-env.ts and docs/demo.md).
 *
 * - A pod with a `deletionTimestamp` is terminated with its `deletionGracePeriodSeconds`; when every container has
 *   exited kubelet writes the terminal phase and removes the pod (the final grace-0 delete).
 * - A pod removed outright (grace 0, force delete) still gets the pod worker's minimum grace of 1 s: hooks for up to
 *   that second, then SIGTERM, SIGKILL 2 s later (pod-runtime.ts, forceDelete).
 * - `evict()` is a kubelet-initiated termination without `deletionTimestamp` (node-pressure eviction, graceful node
 *   shutdown): a `DisruptionTarget` condition (reason `TerminationByKubelet`), the normal termination sequence with
 *   the eviction manager's grace period (1 s for a hard threshold, see evictionGraceSeconds), then phase `Failed`
 *   with reason `Evicted`; the pod object stays (https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/).
 * - Containers get `KUBECONFIG` pointing at the simulated API server: the stand-in for the service-account token
 *   mount (unless the pod sets `automountServiceAccountToken: false`).
 *
 * Nothing survives `stop()`: every container's process group is SIGKILLed, and a process `exit` hook does the same
 * synchronously if the owner dies without stopping the kubelet.
 */
import type {Store, StoreEvent} from '../kube/store.js';
import type {Pod} from '../kube/types.js';
import {isTerminalPhase, setCondition} from '../kube/pod-status.js';
import {killGroupsSync} from './container-process.js';
import type {ImageMap} from './images.js';
import {createLoopbackIpPool, type LoopbackIpPool} from './loopback-ips.js';
import {createPodRecorder, type PodRecorder} from './pod-recorder.js';
import {createPodRuntime, type PodRuntime} from './pod-runtime.js';
import type {SecretData} from './pod-env.js';

export interface KubeletOptions {
  store: Store;
  images: ImageMap;
  /** Default `sim-node` (the store binds pods without a nodeName there). */
  nodeName?: string;
  ips?: LoopbackIpPool;
  /** Given to every container as KUBECONFIG (the service-account mount's stand-in). */
  kubeconfigPath?: string;
  recorder?: PodRecorder;
  restartBackoffMs?: number;
  /** Secrets by name, then key, for `valueFrom.secretKeyRef` (the simulated API server stores no Secrets). */
  secrets?: SecretData;
}

/** The eviction manager's grace for a hard threshold (pkg/kubelet/eviction/eviction_manager.go, immediateEvictionGracePeriodSeconds). */
export const HARD_EVICTION_GRACE_SECONDS = 1;

export interface EvictOptions {
  /**
   * Node-pressure eviction by a `hard` threshold (kubelet's defaults are all hard, e.g. memory.available<100Mi): 1 s
   * grace whatever the pod asks. A `soft` threshold: min(evictionMaxPodGracePeriod, terminationGracePeriodSeconds),
   * where a max of 0 (kubelet's default) leaves the pod's own grace period. Default `hard`.
   */
  threshold?: 'hard' | 'soft';
  /** kubelet's --eviction-max-pod-grace-period, for soft thresholds. Default 0. */
  maxPodGracePeriodSeconds?: number;
  /**
   * An explicit grace period instead of the eviction manager's rules: the other kubelet-initiated terminations
   * (graceful node shutdown's shutdownGracePeriod, activeDeadlineSeconds).
   */
  gracePeriodSeconds?: number;
  message?: string;
}

/**
 * The grace period a kubelet-initiated termination gets: the eviction manager's override
 * (pkg/kubelet/eviction/eviction_manager.go: hard → 1; soft → min(MaxPodGracePeriodSeconds, spec)), passed through the
 * pod worker (pkg/kubelet/pod_workers.go, calculateEffectiveGracePeriod: an override of 0 leaves the spec's value,
 * and nothing goes below 1 s).
 */
export function evictionGraceSeconds(specGraceSeconds: number | undefined, opts: EvictOptions = {}): number {
  const spec = specGraceSeconds ?? 30;
  let override: number;
  if (opts.gracePeriodSeconds !== undefined) override = opts.gracePeriodSeconds;
  else if ((opts.threshold ?? 'hard') === 'hard') override = HARD_EVICTION_GRACE_SECONDS;
  else override = Math.min(opts.maxPodGracePeriodSeconds ?? 0, spec);
  return Math.max(1, override > 0 ? override : spec);
}

export interface Kubelet {
  readonly nodeName: string;
  readonly nodeIp: string;
  readonly recorder: PodRecorder;
  /** The runtime of a pod this kubelet runs (or ran). */
  runtime(namespace: string, name: string): PodRuntime | undefined;
  /** Kubelet-initiated termination without deletionTimestamp; resolves when the pod's containers have all exited. */
  evict(namespace: string, name: string, opts?: EvictOptions): Promise<void>;
  /** Resolves once no pod is terminating (or after timeoutMs). */
  settled(timeoutMs?: number): Promise<boolean>;
  /** SIGKILLs every container and stops watching. */
  stop(): Promise<void>;
}

export class KubeletError extends Error {
  constructor(readonly code: 'POD_UNKNOWN', message: string) {
    super(message);
    this.name = 'KubeletError';
  }
}

export function createKubelet(opts: KubeletOptions): Kubelet {
  const {store, images} = opts;
  const nodeName = opts.nodeName ?? 'sim-node';
  const ips = opts.ips ?? createLoopbackIpPool();
  const nodeIp = ips.allocate();
  const recorder = opts.recorder ?? createPodRecorder();
  const runtimes = new Map<string, PodRuntime>();
  const uids = new Map<string, string | undefined>();
  const terminations = new Set<Promise<void>>();
  let stopped = false;

  const key = (ns: string, name: string): string => `${ns}/${name}`;
  const baseEnv: Record<string, string> = {PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'};

  const killOnExit = (): void => killGroupsSync([...runtimes.values()].flatMap((r) => r.pids()));
  process.on('exit', killOnExit);

  function track(p: Promise<void>): void {
    terminations.add(p);
    void p.finally(() => terminations.delete(p));
  }

  function admit(pod: Pod): void {
    const ns = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    const env: Record<string, string> = {...baseEnv, HOSTNAME: name};
    if (opts.kubeconfigPath && pod.spec.automountServiceAccountToken !== false) env.KUBECONFIG = opts.kubeconfigPath;
    const runtime = createPodRuntime(pod, {
      store,
      images,
      recorder,
      podIp: ips.allocate(),
      hostIp: nodeIp,
      baseEnv: env,
      restartBackoffMs: opts.restartBackoffMs,
      projectedKubeconfig: opts.kubeconfigPath,
      secrets: opts.secrets,
    });
    runtimes.set(key(ns, name), runtime);
    uids.set(key(ns, name), pod.metadata.uid);
    recorder.event({at: Date.now(), pod: name, type: 'created', detail: {uid: pod.metadata.uid, ip: runtime.ip}});
    void runtime.start();
  }

  function onPod(event: StoreEvent<Pod>): void {
    if (stopped) return;
    const pod = event.object;
    if ((pod.spec.nodeName ?? nodeName) !== nodeName) return;
    const ns = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    const k = key(ns, name);
    let runtime = runtimes.get(k);
    if (runtime && uids.get(k) !== pod.metadata.uid) {
      // Same name, new pod (StatefulSet-style reuse): the old runtime is history.
      if (!runtime.finished) track(runtime.kill());
      runtimes.delete(k);
      runtime = undefined;
    }
    if (event.type === 'DELETED') {
      if (runtime && !runtime.finished) {
        recorder.event({at: Date.now(), pod: name, type: 'force-deleted'});
        track(runtime.forceDelete());
      }
      return;
    }
    if (!runtime) {
      if (isTerminalPhase(pod)) return;
      if (pod.metadata.deletionTimestamp) {
        // Deleted before it ever ran: nothing to stop, finish the deletion.
        queueMicrotask(() => {
          try {
            store.removePod(ns, name);
          } catch {
            // gone already
          }
        });
        return;
      }
      // Started outside the store's dispatch (the runtime writes status as it goes); the placeholder holds the name.
      runtimes.set(k, placeholder(ns, name));
      uids.set(k, pod.metadata.uid);
      return;
    }
    if (pod.metadata.deletionTimestamp && !runtime.terminating) {
      const graceMs = (pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      const r = runtime;
      queueMicrotask(() => track(r.terminate('deleted', graceMs)));
    }
  }

  /** Marks a pod as taken between the event and the microtask that starts it. */
  function placeholder(ns: string, name: string): PodRuntime {
    const self: PodRuntime = {
      namespace: ns,
      name,
      ip: '',
      start: async () => {},
      terminate: async () => {},
      kill: async () => {},
      forceDelete: async () => {},
      pids: () => [],
      terminating: false,
      finished: false,
    };
    queueMicrotask(() => {
      // Replaced meanwhile (a new pod under the same name took over): that one is started by its own placeholder.
      if (runtimes.get(key(ns, name)) !== self) return;
      runtimes.delete(key(ns, name));
      const pod = store.getPod(ns, name);
      if (pod && !stopped) {
        admit(pod);
        // It may have been deleted while we were about to start it.
        if (pod.metadata.deletionTimestamp) onPod({type: 'MODIFIED', resource: 'pods', object: pod, resourceVersion: 0});
      }
    });
    return self;
  }

  const unsubscribe = store.on<Pod>('pods', onPod);
  for (const pod of store.list<Pod>('pods')) onPod({type: 'ADDED', resource: 'pods', object: pod, resourceVersion: 0});

  return {
    nodeName,
    nodeIp,
    recorder,
    runtime: (ns, name) => {
      const r = runtimes.get(key(ns, name));
      return r && r.ip !== '' ? r : undefined;
    },
    async evict(ns, name, evictOpts = {}) {
      const runtime = runtimes.get(key(ns, name));
      const pod = store.getPod(ns, name);
      if (!runtime || !pod) throw new KubeletError('POD_UNKNOWN', `pod ${ns}/${name} does not run on ${nodeName}`);
      store.patchPodStatus(ns, name, (status) => {
        setCondition(status, 'DisruptionTarget', 'True', {
          reason: 'TerminationByKubelet',
          message: evictOpts.message ?? 'The node was low on resource: memory.',
        });
      });
      const graceSeconds = evictionGraceSeconds(pod.spec.terminationGracePeriodSeconds, evictOpts);
      recorder.event({at: Date.now(), pod: name, type: 'evicted', detail: {gracePeriodSeconds: graceSeconds, threshold: evictOpts.gracePeriodSeconds === undefined ? (evictOpts.threshold ?? 'hard') : undefined}});
      const graceMs = graceSeconds * 1000;
      const p = runtime.terminate('evicted', graceMs);
      track(p);
      await p;
    },
    async settled(timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if (terminations.size === 0 && [...runtimes.values()].every((r) => !r.terminating || r.finished)) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      await Promise.all([...runtimes.values()].map((r) => r.kill()));
      process.off('exit', killOnExit);
    },
  };
}
