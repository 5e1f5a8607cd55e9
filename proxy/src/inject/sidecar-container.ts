/**
 * The sidecar container exactly as the library chart renders it (charts/lameduck/templates/_container.tpl,
 * lameduck.container and lameduck.nativeSidecar): same ports, environment, probes, resources and securityContext.
 * A test renders the chart with a real helm and compares.
 */
import {settleOf, type InjectSettings} from './settings.js';
import type {AppProtocol} from './app-port.js';
import type {Container, EnvVar} from './types.js';

export interface SidecarPlacement {
  /** The port lameduck listens on, and its name (the app port's name it took over, or `trafficName`). */
  trafficPort: number;
  trafficName: string;
  /** The app's port: lameduck forwards to <appProtocol>://127.0.0.1:<appPort>. */
  appPort: number;
  appProtocol: AppProtocol;
  /** Mount a projected API token (the pod does not automount one). */
  projectToken: boolean;
}

export function tokenVolumeName(s: Readonly<InjectSettings>): string {
  return `${s.containerName}-kube-api-access`.slice(0, 63).replace(/-+$/, '');
}

function fieldRef(name: string, fieldPath: string): EnvVar {
  return {name, valueFrom: {fieldRef: {fieldPath}}};
}

function sidecarEnv(s: Readonly<InjectSettings>, p: SidecarPlacement): EnvVar[] {
  // Identity from the Downward API: the drain matches its endpoint by uid, or by IPs where targetRef is missing.
  const env: EnvVar[] = [
    fieldRef('POD_NAME', 'metadata.name'),
    fieldRef('POD_NAMESPACE', 'metadata.namespace'),
    fieldRef('POD_UID', 'metadata.uid'),
    fieldRef('POD_IPS', 'status.podIPs'),
    {name: 'LAMEDUCK_MODE', value: s.mode},
    {name: 'LAMEDUCK_LISTEN', value: `:${p.trafficPort}`},
    {name: 'LAMEDUCK_ADMIN_LISTEN', value: `:${s.adminPort}`},
    {name: 'LAMEDUCK_UPSTREAM', value: `${p.appProtocol}://127.0.0.1:${p.appPort}`},
    {name: 'LAMEDUCK_SETTLE', value: settleOf(s)},
    {name: 'LAMEDUCK_QUIET', value: s.quiet},
  ];
  if (s.quietIgnorePaths.length > 0) env.push({name: 'LAMEDUCK_QUIET_IGNORE_PATHS', value: s.quietIgnorePaths.join(',')});
  if (s.ignoreServices.length > 0) env.push({name: 'LAMEDUCK_IGNORE_SERVICES', value: s.ignoreServices.join(',')});
  env.push({name: 'LAMEDUCK_FALLBACK_DELAY', value: s.fallbackDelay});
  if (s.drainTimeout) env.push({name: 'LAMEDUCK_DRAIN_TIMEOUT', value: s.drainTimeout});
  env.push({name: 'LAMEDUCK_EXIT_MARGIN', value: s.exitMargin});
  if (s.prestopToken) {
    env.push({name: 'LAMEDUCK_PRESTOP_TOKEN', valueFrom: {secretKeyRef: {name: s.prestopToken.secretName, key: s.prestopToken.secretKey}}});
  }
  env.push({name: 'LAMEDUCK_WATCH_POD', value: String(s.watchPod)});
  env.push({name: 'LAMEDUCK_LOG_LEVEL', value: s.logLevel});
  return env;
}

/** The sidecar container; native mode adds `restartPolicy: Always` (an init container that is a sidecar, KEP-753). */
export function sidecarContainer(s: Readonly<InjectSettings>, p: SidecarPlacement): Container {
  const c: Container = {
    name: s.containerName,
    image: s.image,
    imagePullPolicy: s.pullPolicy,
    ports: [
      {name: p.trafficName, containerPort: p.trafficPort, protocol: 'TCP'},
      {name: s.adminName, containerPort: s.adminPort, protocol: 'TCP'},
    ],
    env: sidecarEnv(s, p),
    // Startup on /healthz, never /readyz: in native mode kubelet starts the app only after this probe passed.
    startupProbe: {
      httpGet: {path: '/healthz', port: s.adminName},
      periodSeconds: s.startupProbe.periodSeconds,
      failureThreshold: s.startupProbe.failureThreshold,
      timeoutSeconds: 1,
    },
    // Every second, threshold 1: a drain's 503 must turn the endpoint not-ready within a second.
    readinessProbe: {httpGet: {path: '/readyz', port: s.adminName}, periodSeconds: 1, failureThreshold: 1, successThreshold: 1, timeoutSeconds: 1},
  };
  if (s.livenessProbe.enabled) {
    c.livenessProbe = {
      httpGet: {path: '/healthz', port: s.adminName},
      periodSeconds: s.livenessProbe.periodSeconds,
      failureThreshold: s.livenessProbe.failureThreshold,
      timeoutSeconds: 2,
    };
  }
  c.resources = structuredClone(s.resources);
  c.securityContext = {
    allowPrivilegeEscalation: false,
    capabilities: {drop: ['ALL']},
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsGroup: s.runAsUser,
    runAsNonRoot: true,
    runAsUser: s.runAsUser,
    seccompProfile: {type: 'RuntimeDefault'},
  };
  if (p.projectToken) {
    // Where in-cluster config looks for token, ca.crt and namespace.
    c.volumeMounts = [{name: tokenVolumeName(s), mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true}];
  }
  if (s.mode === 'native') c.restartPolicy = 'Always';
  return c;
}

/** The projected token volume (the three files kubelet's automount provides), for the sidecar alone. */
export function tokenVolume(s: Readonly<InjectSettings>): {name: string} & Record<string, unknown> {
  return {
    name: tokenVolumeName(s),
    projected: {
      defaultMode: 0o444,
      sources: [
        {serviceAccountToken: {path: 'token', expirationSeconds: s.tokenExpirationSeconds}},
        {configMap: {name: 'kube-root-ca.crt', items: [{key: 'ca.crt', path: 'ca.crt'}]}},
        {downwardAPI: {items: [{path: 'namespace', fieldRef: {apiVersion: 'v1', fieldPath: 'metadata.namespace'}}]}},
      ],
    },
  };
}
