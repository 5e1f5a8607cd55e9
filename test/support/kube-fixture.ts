// Shared set-up of the kube-*.test.ts integration tests: the local API server (real HTTPS, real wire protocol), a
// lameduck Cluster talking to it with the credentials of a kubeconfig file (proxy/src/kube/kubeconfig.ts), captured
// JSON logs and metrics.
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {parseConfig} from '../../proxy/src/config.js';
import {createLogger} from '../../proxy/src/log.js';
import {createMetrics, type Metrics} from '../../proxy/src/metrics.js';
import {createCluster, type ClusterTuning, type KubeCluster} from '../../proxy/src/kube/index.js';
import {startApiServer, type ApiServer, type ApiServerOptions} from '../../sim/kube/apiserver.js';
import type {EndpointSlice, Endpoint, Pod, Service} from '../../sim/kube/types.js';
import {useSuiteResource} from './suite-resource.js';

export const NS = 'shop';
export const MANUAL = {'sim.lameduck.dev/manual-endpoints': 'true'};

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

/** Short timings so fallback, backoff and re-list paths run in a test's time; jitter kept to prove it is harmless. */
export const FAST: Partial<ClusterTuning> = {
  startJitterMs: 50,
  relistIntervalMs: 800,
  backoff: {initialMs: 50, maxMs: 400},
  requestTimeoutMs: 4_000,
  eventTimeoutMs: 4_000,
};

export interface Sidecar {
  cluster: KubeCluster;
  metrics: Metrics;
  logs: LogLine[];
  close(): void;
}

export interface Fixture {
  api: ApiServer;
  dir: string;
  kubeconfig: string;
  /** A lameduck Cluster for pod `name` (uid/ips from the store unless given). */
  sidecar(opts?: {
    name?: string;
    env?: Record<string, string>;
    tuning?: Partial<ClusterTuning>;
    serviceAccountDir?: string;
    clusterEnv?: Record<string, string>;
    kubeconfig?: string | null;
  }): Sidecar;
  cleanup(): Promise<void>;
}

export async function startFixture(opts: ApiServerOptions = {}): Promise<Fixture> {
  const api = await startApiServer(opts);
  const dir = mkdtempSync(join(tmpdir(), 'lameduck-kube-'));
  const kubeconfig = api.writeKubeconfig(dir, {namespace: NS});
  const sidecars: Sidecar[] = [];
  return {
    api,
    dir,
    kubeconfig,
    sidecar(o = {}) {
      const name = o.name ?? 'web-0';
      const pod = api.store.getPod(NS, name);
      const env: Record<string, string> = {
        POD_NAME: name,
        POD_NAMESPACE: NS,
        ...(pod?.metadata.uid ? {POD_UID: pod.metadata.uid} : {}),
        ...(pod?.status?.podIP ? {POD_IPS: pod.status.podIP} : {}),
        ...(o.kubeconfig === null ? {} : {KUBECONFIG: o.kubeconfig ?? kubeconfig}),
        ...o.env,
      };
      const logs: LogLine[] = [];
      const log = createLogger({level: 'debug', write: (line) => logs.push(JSON.parse(line) as LogLine)});
      const metrics = createMetrics({defaultMetrics: false});
      const cluster = createCluster({
        config: parseConfig(env),
        metrics,
        log,
        tuning: {...FAST, ...o.tuning},
        serviceAccountDir: o.serviceAccountDir,
        env: o.clusterEnv,
      });
      if (!cluster) throw new Error('no cluster: identity incomplete');
      const s = {cluster, metrics, logs, close: () => cluster.close()};
      sidecars.push(s);
      return s;
    },
    async cleanup() {
      for (const s of sidecars) s.close();
      await api.stop();
      rmSync(dir, {recursive: true, force: true});
    },
  };
}

/**
 * Registers a test file's fixture with jest: started before the file's tests; after them, `teardown` (for what the
 * file started against it) and then cleanup. The returned Fixture forwards to the running one, so tests use it like
 * the result of startFixture; using it outside a test or hook (at module load) throws.
 */
export function useFixture(o: {api?: ApiServerOptions; teardown?: () => Promise<void>} = {}): Fixture {
  const current = useSuiteResource('the kube fixture', () => startFixture(o.api), async (fx) => {
    await o.teardown?.();
    await fx?.cleanup();
  });
  return {
    get api() {
      return current().api;
    },
    get dir() {
      return current().dir;
    },
    get kubeconfig() {
      return current().kubeconfig;
    },
    sidecar: (opts) => current().sidecar(opts),
    cleanup: () => current().cleanup(),
  };
}

export function makePod(name: string, ip: string, labels: Record<string, string>, o: {ready?: boolean; nodeName?: string} = {}): Pod {
  return {
    metadata: {name, namespace: NS, labels},
    spec: {containers: [{name: 'app', ports: [{containerPort: 8080, name: 'http'}]}], ...(o.nodeName ? {nodeName: o.nodeName} : {})},
    status: {
      phase: 'Running',
      podIP: ip,
      conditions: [
        {type: 'Ready', status: o.ready === false ? 'False' : 'True'},
        {type: 'ContainersReady', status: o.ready === false ? 'False' : 'True'},
      ],
    },
  };
}

export function makeService(name: string, selector: Record<string, string>, o: {manual?: boolean; spec?: Record<string, unknown>} = {}): Service {
  return {
    metadata: {name, namespace: NS, ...(o.manual ? {annotations: MANUAL} : {})},
    spec: {selector, ports: [{port: 80, targetPort: 8080, name: 'http'}], ...o.spec},
  };
}

/** An endpoint for `pod` as the EndpointSlice controller writes it. */
export function endpointOf(pod: Pod, c: {ready: boolean; serving: boolean; terminating: boolean}): Endpoint {
  return {
    addresses: [pod.status!.podIP!],
    conditions: c,
    targetRef: {kind: 'Pod', namespace: NS, name: pod.metadata.name, uid: pod.metadata.uid},
    nodeName: pod.spec.nodeName,
  };
}

export function makeSlice(name: string, service: string, endpoints: Endpoint[]): EndpointSlice {
  return {
    metadata: {
      name,
      namespace: NS,
      labels: {'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'test'},
    },
    addressType: 'IPv4',
    endpoints,
    ports: [{name: 'http', port: 8080, protocol: 'TCP'}],
  };
}

export const READY = {ready: true, serving: true, terminating: false};
export const TERMINATING_SERVING = {ready: false, serving: true, terminating: true};
export const TERMINATING_DONE = {ready: false, serving: false, terminating: true};
export const NOT_READY = {ready: false, serving: false, terminating: false};

/**
 * Routes `pod` (already in the store, labelled app=`service`) through a Service of its own whose one EndpointSlice,
 * `<service>-a`, the test manages by hand: ready now; `flip()` turns the endpoint terminating and not serving, as
 * the EndpointSlice controller does after the pod's deletion.
 */
export function routeInOwnSlice(fx: Fixture, pod: Pod, service = pod.metadata.name!): {pod: Pod; flip(): void} {
  const {store} = fx.api;
  store.createService(makeService(service, {app: service}, {manual: true}));
  store.putEndpointSlice(makeSlice(`${service}-a`, service, [endpointOf(pod, READY)]));
  return {pod, flip: () => store.putEndpointSlice(makeSlice(`${service}-a`, service, [endpointOf(pod, TERMINATING_DONE)]))};
}

/** Sum of a counter's series matching `labels`. */
export async function counterValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const {values} = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An AbortSignal for the drain deadline that the test clears. */
export function deadline(ms: number): {signal: AbortSignal; cancel(): void} {
  const c = new AbortController();
  const t = setTimeout(() => c.abort(), ms);
  return {signal: c.signal, cancel: () => clearTimeout(t)};
}
