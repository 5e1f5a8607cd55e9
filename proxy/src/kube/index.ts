/**
 * The `Cluster` the drain uses, backed by the Kubernetes API (credentials from kubeconfig.ts, our own counted and
 * bounded transport). Nothing here talks to the API until a method is called: zero requests while the
 * pod is serving (unless the caller starts `watchPod`), so thousands of idle sidecars cost the API server nothing.
 */
import type {Cluster} from '../cluster.js';
import type {Config} from '../config.js';
import type {Logger} from '../log.js';
import type {Metrics} from '../metrics.js';
import {createKubeClient} from './client.js';
import {createEndpointWatch} from './endpoint-watch.js';
import {createEventRecorder} from './events.js';
import {createKubeConfigLoader} from './kubeconfig.js';
import {createPodApi} from './pod.js';
import type {RoutingVerdict} from './routing.js';

export {DEFAULT_SERVICE_ACCOUNT_DIR} from './kubeconfig.js';
export type {RoutingVerdict} from './routing.js';

/** Timings a test (or a bench) may shorten; the defaults are the product's. */
export interface ClusterTuning {
  /** Random delay before the first EndpointSlice list (default 250 ms). */
  readonly startJitterMs: number;
  /** Periodic re-list while the watch is open (default 3 s). */
  readonly relistIntervalMs: number;
  /** Retry backoff after API errors (default 100 ms doubling to 2 s). */
  readonly backoff: {readonly initialMs: number; readonly maxMs: number};
  /** Per-request timeout (default 5 s). */
  readonly requestTimeoutMs: number;
  /** Budget of one Event, retries included (default 5 s). */
  readonly eventTimeoutMs: number;
}

export interface CreateClusterDeps {
  readonly config: Config;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** In-cluster credentials directory (default /var/run/secrets/kubernetes.io/serviceaccount). */
  readonly serviceAccountDir?: string;
  /** KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT for in-cluster access (main.ts passes process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Wall clock in ms (Event timestamps). */
  readonly now?: () => number;
  readonly tuning?: Partial<ClusterTuning>;
}

export interface KubeCluster extends Cluster {
  /** The latest routing verdict (which Services still route the pod, and why), for /status and tests. */
  lastVerdict(): RoutingVerdict | undefined;
  /**
   * Resolves once the credentials are read (or failed to), or when `signal` fires. Reading them is a one-time
   * start-up cost — small for a service account, 1-3 s on a busy node when a kubeconfig needs client-node's auth
   * plugins — that the first API call after start-up would otherwise spend inside its caller's time bound: a trigger
   * right after start-up then missed a confirmed deletion (readiness dropped at once, deadline not taken from the pod).
   */
  whenLoaded(signal: AbortSignal): Promise<void>;
}

/**
 * Returns undefined when the pod identity is incomplete (no POD_NAME/POD_NAMESPACE, or neither POD_UID nor POD_IPS):
 * the sidecar then runs standalone with the timed fallback.
 */
/** Delay before the credentials are read in the background (kubeconfig.ts). */
export const PRELOAD_DELAY_MS = 300;

export function createCluster(deps: CreateClusterDeps): KubeCluster | undefined {
  const {config, metrics} = deps;
  const {name, namespace, uid, ips} = config.identity;
  if (!name || !namespace || (!uid && ips.length === 0)) return undefined;
  const log = deps.log.child({component: 'kube'});
  const tuning = deps.tuning ?? {};
  const closed = new AbortController();

  const loader = createKubeConfigLoader({kubeconfig: config.kubeconfig, serviceAccountDir: deps.serviceAccountDir, env: deps.env});
  // Read the credentials in the background, at start-up rather than between the trigger and the first list — once
  // the listeners are up: a kubeconfig that needs client-node's auth plugins imports it (~0.5 s of CPU), which would
  // otherwise delay the first probes (docs/performance.md: ready in <= 300 ms). A trigger before then waits for it anyway.
  setTimeout(() => loader.preload(), PRELOAD_DELAY_MS).unref();
  const client = createKubeClient({loader, metrics, log, requestTimeoutMs: tuning.requestTimeoutMs, userAgent: 'lameduck'});
  const endpoints = createEndpointWatch({
    client,
    metrics,
    log,
    namespace,
    pod: {uid, ips},
    ignoreServices: config.ignoreServices,
    dnsSettleMs: config.dnsSettleMs,
    startJitterMs: tuning.startJitterMs,
    relistIntervalMs: tuning.relistIntervalMs,
    backoff: tuning.backoff,
    requestTimeoutMs: tuning.requestTimeoutMs,
    closeSignal: closed.signal,
  });
  const pod = createPodApi({client, log, namespace, name, requestTimeoutMs: tuning.requestTimeoutMs, closeSignal: closed.signal});
  const events = createEventRecorder({
    client,
    log,
    pod: {name, namespace, uid},
    now: deps.now,
    timeoutMs: tuning.eventTimeoutMs,
    closeSignal: closed.signal,
  });

  return {
    getPod: (signal) => pod.getPod(signal),
    awaitDeregistration: (options) => endpoints.awaitDeregistration(options),
    watchPod: (onTerminating) => pod.watchPod(onTerminating),
    recordEvent: (event) => events.record(event),
    lastVerdict: () => endpoints.lastVerdict(),
    whenLoaded: (signal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const done = (): void => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        signal.addEventListener('abort', done, {once: true});
        void loader.whenReady().then(done);
      }),
    close: () => closed.abort(),
  };
}
