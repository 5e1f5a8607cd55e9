/**
 * The showdown's scenarios: the same demo-app Deployment behind the same Service, shut down seven ways.
 *
 * - `bare`: the legacy app alone (kind (a): SIGTERM kills it at once with whatever is in flight).
 * - `sleep`: the common workaround, an app `preStop: sleep N` (PodLifecycleSleepAction), guessing the propagation lag.
 * - `lameduck`: lameduck as a classic sidecar (the Service targets its port); the app's preStop is `httpGet /prestop`
 *   on lameduck's admin port, so kubelet holds the app until the drain is done.
 * - `lameduck-native`: the same as a native sidecar (initContainers[] with restartPolicy Always, LAMEDUCK_MODE=native).
 * - `lameduck-injected`: the `bare` Deployment, only annotated `lameduck.io/inject: "true"`: the API server's mutating
 *   admission calls the real `lameduck webhook`, which adds lameduck to every pod it creates and takes over the app's
 *   port name, so the unchanged Service (targetPort `http`) reaches lameduck (docs/injection.md).
 * - `lameduck-noapi`: classic lameduck whose API access is denied (RBAC 403 on everything): only its timed fallback
 *   (LAMEDUCK_FALLBACK_DELAY) stands between the trigger and settling.
 * - `legacy-b-bare`: the legacy app of kind (b), a PID 1 that ignores SIGTERM: the pod hangs until SIGKILL at the end
 *   of the grace period. The figure is the pod's termination time.
 * - `headless-bare` / `headless-lameduck`: the legacy app alone / behind classic lameduck, behind a headless Service
 *   (`clusterIP: None`) whose clients resolve its name through the cluster DNS, cache the answer for its TTL (30 s, as
 *   CoreDNS's default Corefile) and connect to pod IPs directly (cluster-dns.ts). No kube-proxy, no ingress, no
 *   terminating fallback: what a DNS-caching client sees of a pod going away.
 * - `grpc-bare` / `grpc-sleep` / `grpc-lameduck` / `grpc-lameduck-native`: the same four shutdowns of the demo-app
 *   in its gRPC mode (PROTOCOL=grpc), lameduck forwarding to it as `LAMEDUCK_UPSTREAM=h2c://…`. The load is gRPC
 *   clients holding long-lived channels to the Service's virtual IP (sim/grpc-load.ts), the way in-cluster gRPC clients
 *   dial a ClusterIP Service: kube-proxy balances per TCP connection, so each channel stays on one pod until that
 *   connection ends. No ingress: an L7 ingress would balance per call, a different problem. The bare app's readiness
 *   probe is a `tcpSocket` one (the app speaks no HTTP/1.1).
 * - `legacy-b-lameduck`: the same app behind classic lameduck with `LAMEDUCK_APP_EXIT=signal:SIGKILL` and
 *   `LAMEDUCK_APP_PROCESS` matching the app's command line: at release lameduck kills the app, so the pod goes as soon
 *   as the drain is done. (On a real cluster `signal:` needs `shareProcessNamespace: true` so the sidecar sees the
 *   app's process; that also stops the app being PID 1, so SIGTERM would do there. The simulated app ignores SIGTERM
 *   whatever its PID, so SIGKILL is the one signal that works for it — the stricter case. See docs/demo.md.)
 */
import type {Service} from '../kube/types.js';
import type {Lag} from '../kube/reconcile-queue.js';
import type {DeploymentSpec, PodTemplate} from './deployment-controller.js';
import {DEFAULT_NODE_PROXY_LAG, maxLagMs, type LagDistribution} from './propagation-lag.js';

export const SCENARIOS = [
  'bare',
  'sleep',
  'lameduck',
  'lameduck-native',
  'lameduck-injected',
  'lameduck-noapi',
  'legacy-b-bare',
  'legacy-b-lameduck',
  'headless-bare',
  'headless-lameduck',
  'grpc-bare',
  'grpc-sleep',
  'grpc-lameduck',
  'grpc-lameduck-native',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenarioName(s: string): s is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(s);
}

/** Container ports (fixed, as in a real pod spec; each pod has its own IP, so they never clash between pods). */
export const APP_PORT = 13000;
export const PROXY_PORT = 18080;
export const ADMIN_PORT = 19901;

export interface ScenarioParams {
  replicas: number;
  /** terminationGracePeriodSeconds. */
  gracePeriodSeconds: number;
  /** `sleep` scenario: the preStop sleep. */
  sleepSeconds: number;
  /** lameduck: LAMEDUCK_SETTLE / LAMEDUCK_QUIET / LAMEDUCK_FALLBACK_DELAY in ms. */
  settleMs: number;
  quietMs: number;
  fallbackDelayMs: number;
  maxSurge: number | string;
  maxUnavailable: number | string;
  /** Readiness probe period of the containers (seconds). */
  probePeriodSeconds: number;
}

export interface ScenarioDefinition {
  /** A scenario name, or any name for a custom definition. */
  name: string;
  /** One line for tables and `--help`. */
  description: string;
  /** Uses lameduck (needs dist/proxy/src/main.js). */
  lameduck: boolean;
  /** A headless Service: the load goes through DNS-caching clients to pod IPs. */
  headless?: boolean;
  /** The API server denies lameduck everything (403). */
  denyApi: boolean;
  /** The app serves gRPC (PROTOCOL=grpc) and the load is gRPC clients through the Service's virtual IP. */
  grpc?: boolean;
  /** The pods get lameduck from the admission webhook (`lameduck webhook`), not from their template. */
  injected?: boolean;
  /** The figure that matters is the pod's termination time (kind (b)), not only failed requests. */
  terminationFigure: boolean;
  deployment: DeploymentSpec;
  service: Service;
}

const ms = (n: number): string => `${Math.round(n)}ms`;

function appContainer(
  p: ScenarioParams,
  opts: {ignoreSigterm: boolean; preStop?: Record<string, unknown>; probe: boolean; marker: boolean; grpc?: boolean},
): Record<string, unknown> {
  const env: Record<string, unknown>[] = [
    {name: 'PORT', value: String(APP_PORT)},
    {name: 'POD_NAME', valueFrom: {fieldRef: {fieldPath: 'metadata.name'}}},
  ];
  if (opts.ignoreSigterm) env.push({name: 'IGNORE_SIGTERM', value: '1'});
  if (opts.grpc) env.push({name: 'PROTOCOL', value: 'grpc'});
  const portName = opts.grpc ? 'grpc' : 'http';
  const c: Record<string, unknown> = {
    name: 'app',
    image: 'lameduck-demo-app:dev',
    env,
    ports: [{name: portName, containerPort: APP_PORT}],
  };
  // A unique command-line marker lets lameduck's LAMEDUCK_APP_PROCESS find this pod's app and no other.
  if (opts.marker) c.args = ['--pod=$(POD_NAME)'];
  // A gRPC app answers no HTTP/1.1 GET: a tcpSocket probe, ready once it accepts connections.
  const check = opts.grpc ? {tcpSocket: {port: portName}} : {httpGet: {path: '/alive', port: portName}};
  if (opts.probe) c.readinessProbe = {...check, periodSeconds: p.probePeriodSeconds, failureThreshold: 1};
  if (opts.preStop) c.lifecycle = {preStop: opts.preStop};
  return c;
}

function lameduckContainer(p: ScenarioParams, opts: {mode: 'classic' | 'native'; grpc?: boolean; extraEnv?: Record<string, string>}): Record<string, unknown> {
  const env: Record<string, unknown>[] = [
    {name: 'POD_NAME', valueFrom: {fieldRef: {fieldPath: 'metadata.name'}}},
    {name: 'POD_NAMESPACE', valueFrom: {fieldRef: {fieldPath: 'metadata.namespace'}}},
    {name: 'POD_UID', valueFrom: {fieldRef: {fieldPath: 'metadata.uid'}}},
    {name: 'POD_IPS', valueFrom: {fieldRef: {fieldPath: 'status.podIPs'}}},
    {name: 'LAMEDUCK_MODE', value: opts.mode},
    {name: 'LAMEDUCK_LISTEN', value: `:${PROXY_PORT}`},
    {name: 'LAMEDUCK_ADMIN_LISTEN', value: `:${ADMIN_PORT}`},
    {name: 'LAMEDUCK_UPSTREAM', value: `${opts.grpc ? 'h2c' : 'http'}://127.0.0.1:${APP_PORT}`},
    {name: 'LAMEDUCK_SETTLE', value: ms(p.settleMs)},
    {name: 'LAMEDUCK_QUIET', value: ms(p.quietMs)},
    {name: 'LAMEDUCK_FALLBACK_DELAY', value: ms(p.fallbackDelayMs)},
  ];
  for (const [name, value] of Object.entries(opts.extraEnv ?? {})) env.push({name, value});
  const c: Record<string, unknown> = {
    name: 'lameduck',
    image: 'lameduck:dev',
    env,
    ports: [
      {name: 'proxy', containerPort: PROXY_PORT},
      {name: 'admin', containerPort: ADMIN_PORT},
    ],
    // /healthz, never /readyz: in native mode the app starts only after this probe passed.
    startupProbe: {httpGet: {path: '/healthz', port: 'admin'}, periodSeconds: 1, failureThreshold: 30},
    readinessProbe: {httpGet: {path: '/readyz', port: 'admin'}, periodSeconds: p.probePeriodSeconds, failureThreshold: 1},
  };
  if (opts.mode === 'native') c.restartPolicy = 'Always';
  return c;
}

const PRESTOP_HTTP = {httpGet: {path: '/prestop', port: ADMIN_PORT}};

export function defineScenario(name: ScenarioName, p: ScenarioParams): ScenarioDefinition {
  const labels = {app: 'web'};
  let containers: Record<string, unknown>[];
  let initContainers: Record<string, unknown>[] | undefined;
  let description: string;
  let lameduck = false;
  let targetPort = 'http';
  let grace = p.gracePeriodSeconds;
  let annotations: Record<string, string> | undefined;
  const headless = name.startsWith('headless-');
  const grpc = name.startsWith('grpc-');
  switch (name) {
    case 'bare':
    case 'headless-bare':
      description = headless ? 'headless Service, DNS-caching clients; the legacy app alone' : 'the legacy app alone: SIGTERM at once';
      containers = [appContainer(p, {ignoreSigterm: false, probe: true, marker: false})];
      break;
    case 'sleep':
      description = `app preStop sleep ${p.sleepSeconds}s, then SIGTERM`;
      containers = [appContainer(p, {ignoreSigterm: false, probe: true, marker: false, preStop: {sleep: {seconds: p.sleepSeconds}}})];
      break;
    case 'lameduck':
    case 'lameduck-noapi':
    case 'headless-lameduck':
      description =
        name === 'lameduck'
          ? 'lameduck classic sidecar, app preStop /prestop'
          : headless
            ? 'headless Service, DNS-caching clients; lameduck classic sidecar'
            : `lameduck without API access: ${p.fallbackDelayMs / 1000}s timed fallback`;
      lameduck = true;
      targetPort = 'proxy';
      containers = [
        appContainer(p, {ignoreSigterm: false, probe: false, marker: false, preStop: PRESTOP_HTTP}),
        lameduckContainer(p, {mode: 'classic'}),
      ];
      break;
    case 'lameduck-native':
      description = 'lameduck native sidecar, app preStop /prestop';
      lameduck = true;
      targetPort = 'proxy';
      initContainers = [lameduckContainer(p, {mode: 'native'})];
      containers = [appContainer(p, {ignoreSigterm: false, probe: false, marker: false, preStop: PRESTOP_HTTP})];
      break;
    case 'lameduck-injected':
      description = 'the bare app; lameduck added at pod creation by the admission webhook';
      lameduck = true;
      containers = [appContainer(p, {ignoreSigterm: false, probe: true, marker: false})];
      annotations = {
        'lameduck.io/inject': 'true',
        'lameduck.io/image': 'lameduck:dev',
        'lameduck.io/traffic-port': String(PROXY_PORT),
        'lameduck.io/admin-port': String(ADMIN_PORT),
        'lameduck.io/settle': ms(p.settleMs),
        'lameduck.io/quiet': ms(p.quietMs),
        'lameduck.io/fallback-delay': ms(p.fallbackDelayMs),
      };
      break;
    case 'legacy-b-bare':
      description = `PID-1 app ignoring SIGTERM, alone: waits for SIGKILL at ${grace}s`;
      containers = [appContainer(p, {ignoreSigterm: true, probe: true, marker: false})];
      break;
    case 'legacy-b-lameduck':
      description = 'PID-1 app ignoring SIGTERM behind lameduck (APP_EXIT=signal:SIGKILL)';
      lameduck = true;
      targetPort = 'proxy';
      containers = [
        appContainer(p, {ignoreSigterm: true, probe: false, marker: true, preStop: PRESTOP_HTTP}),
        lameduckContainer(p, {
          mode: 'classic',
          // $(POD_NAME) is expanded by kubelet from the container's env, so the pattern names this pod's app only.
          extraEnv: {LAMEDUCK_APP_EXIT: 'signal:SIGKILL', LAMEDUCK_APP_PROCESS: 'demo-app/src/main\\.js --pod=$(POD_NAME)$'},
        }),
      ];
      break;
    case 'grpc-bare':
      description = 'gRPC: the legacy app alone: SIGTERM at once';
      targetPort = 'grpc';
      containers = [appContainer(p, {ignoreSigterm: false, probe: true, marker: false, grpc})];
      break;
    case 'grpc-sleep':
      description = `gRPC: app preStop sleep ${p.sleepSeconds}s, then SIGTERM`;
      targetPort = 'grpc';
      containers = [appContainer(p, {ignoreSigterm: false, probe: true, marker: false, grpc, preStop: {sleep: {seconds: p.sleepSeconds}}})];
      break;
    case 'grpc-lameduck':
      description = 'gRPC: lameduck classic sidecar (h2c upstream), app preStop /prestop';
      lameduck = true;
      targetPort = 'proxy';
      containers = [
        appContainer(p, {ignoreSigterm: false, probe: false, marker: false, grpc, preStop: PRESTOP_HTTP}),
        lameduckContainer(p, {mode: 'classic', grpc}),
      ];
      break;
    case 'grpc-lameduck-native':
      description = 'gRPC: lameduck native sidecar (h2c upstream), app preStop /prestop';
      lameduck = true;
      targetPort = 'proxy';
      initContainers = [lameduckContainer(p, {mode: 'native', grpc})];
      containers = [appContainer(p, {ignoreSigterm: false, probe: false, marker: false, grpc, preStop: PRESTOP_HTTP})];
      break;
  }
  const template: PodTemplate = {
    metadata: {labels, ...(annotations ? {annotations} : {})},
    spec: {
      terminationGracePeriodSeconds: grace,
      containers: containers as unknown as PodTemplate['spec']['containers'],
      ...(initContainers ? {initContainers: initContainers as unknown as PodTemplate['spec']['containers']} : {}),
    },
  };
  return {
    name,
    description,
    lameduck,
    headless,
    grpc,
    denyApi: name === 'lameduck-noapi',
    injected: name === 'lameduck-injected',
    terminationFigure: name.startsWith('legacy-b'),
    deployment: {
      name: 'web',
      namespace: 'default',
      replicas: p.replicas,
      template,
      strategy: {maxSurge: p.maxSurge, maxUnavailable: p.maxUnavailable},
    },
    service: {
      metadata: {name: 'web', namespace: 'default'},
      spec: {
        selector: labels,
        ...(headless ? {clusterIP: 'None'} : {}),
        ports: [grpc ? {name: 'grpc', port: 50051, targetPort, protocol: 'TCP'} : {name: 'http', port: 80, targetPort, protocol: 'TCP'}],
      },
    },
  };
}

/** Lags as the showdown models them by default (docs/demo.md). */
export interface Lags {
  /** EndpointSlice controller reaction. Default 0–2 s. */
  controller: Lag;
  /**
   * kube-proxy propagation, drawn independently for each node's kube-proxy and each change. Default: 80 % in
   * 0.1–1 s, 20 % in 1–6 s (propagation-lag.ts) — a tail beyond lameduck's default settle (2 s).
   */
  loadBalancer: LagDistribution;
  /** Ingress / cloud LB, longer. Default 1–4 s. */
  ingress: LagDistribution;
  /** CoreDNS's kubernetes plugin (its informer). Default 0.1–1 s. */
  dns: LagDistribution;
}

export const DEFAULT_LAGS: Lags = {
  controller: {minMs: 0, maxMs: 2000},
  loadBalancer: DEFAULT_NODE_PROXY_LAG,
  ingress: {minMs: 1000, maxMs: 4000},
  dns: {minMs: 100, maxMs: 1000},
};

export function maxLag(lag: LagDistribution): number {
  return maxLagMs(lag);
}
