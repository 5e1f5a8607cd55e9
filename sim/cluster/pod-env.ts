/**
 * A container's environment and command line as kubelet computes them, plus the simulation's network-namespace
 * emulation.
 *
 * Kubernetes rules kept: `env` entries in order, `value` with `$(VAR)` references to variables defined before it
 * (`$$` escapes, unknown references stay as written); Downward API `valueFrom.fieldRef` (metadata.name, namespace,
 * uid, labels['k'], annotations['k'], spec.nodeName, spec.serviceAccountName, status.podIP(s), status.hostIP(s));
 * `valueFrom.secretKeyRef` from the Secrets the kubelet was given;
 * `$(VAR)` expansion in `command` and `args`.
 * https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/
 * https://kubernetes.io/docs/concepts/workloads/pods/downward-api/
 *
 * Network namespace emulation (not Kubernetes, see docs/demo.md): all pods share the machine's network, so each pod
 * owns a loopback address and every container must bind that address instead of "all addresses" or 127.0.0.1:
 * - `HOST` is set to the pod IP (the demo-app binds it);
 * - `LAMEDUCK_LISTEN` / `LAMEDUCK_ADMIN_LISTEN` keep their port and get the pod IP as host;
 * - `127.0.0.1` / `localhost` as the host of a URL in any variable (e.g. `LAMEDUCK_UPSTREAM=http://127.0.0.1:3000`,
 *   `LAMEDUCK_APP_EXIT=http:POST http://localhost:3000/shutdown`) becomes the pod IP — "localhost" inside a pod is the
 *   pod's own network namespace.
 * An image's documented defaults for these variables are applied first, so an unset `LAMEDUCK_LISTEN` (default
 * `:8080`) also ends up on the pod IP rather than on every address of the machine.
 */
import type {Pod} from '../kube/types.js';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {fieldRef?: {fieldPath: string; apiVersion?: string}; secretKeyRef?: {name: string; key: string}; [other: string]: unknown};
}

/** Secret data by Secret name, then key (decoded). */
export type SecretData = Readonly<Record<string, Readonly<Record<string, string>>>>;

export class EnvResolutionError extends Error {
  readonly code = 'ENV_UNSUPPORTED';
  constructor(message: string) {
    super(message);
    this.name = 'EnvResolutionError';
  }
}

/** Expands `$(NAME)` from `vars`; `$$(NAME)` gives a literal `$(NAME)`; unknown names stay as written. */
export function expandVars(input: string, vars: ReadonlyMap<string, string>): string {
  return input.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return vars.has(name!) ? vars.get(name!)! : match;
  });
}

/** Downward API field paths (the ones `fieldRef` accepts for env). */
export function fieldRefValue(pod: Pod, fieldPath: string): string {
  const meta = pod.metadata;
  const status = pod.status ?? {};
  const keyed = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (keyed) return (keyed[1] === 'labels' ? meta.labels : meta.annotations)?.[keyed[2]!] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return (pod.spec.serviceAccountName as string | undefined) ?? '';
    case 'status.podIP':
      return status.podIP ?? '';
    case 'status.podIPs':
      return (status.podIPs ?? (status.podIP ? [{ip: status.podIP}] : [])).map((p) => p.ip).join(',');
    case 'status.hostIP':
      return status.hostIP ?? '';
    case 'status.hostIPs':
      return ((status.hostIPs as {ip: string}[] | undefined) ?? (status.hostIP ? [{ip: status.hostIP}] : [])).map((p) => p.ip).join(',');
  }
  throw new EnvResolutionError(`unsupported fieldRef fieldPath ${JSON.stringify(fieldPath)}`);
}

/** The container's `env` list resolved in order, as kubelet does (later entries see earlier ones). */
export function resolveEnvList(
  pod: Pod,
  env: readonly EnvVar[] | undefined,
  base: ReadonlyMap<string, string> = new Map(),
  secrets: SecretData = {},
): Map<string, string> {
  const vars = new Map(base);
  for (const e of env ?? []) {
    if (e.valueFrom?.secretKeyRef) {
      const {name, key} = e.valueFrom.secretKeyRef;
      const value = secrets[name]?.[key];
      // Kubelet refuses to start a container whose (non-optional) secretKeyRef does not resolve.
      if (value === undefined) throw new EnvResolutionError(`env ${e.name}: secret ${name} has no key ${key}`);
      vars.set(e.name, value);
    } else if (e.valueFrom) {
      if (!e.valueFrom.fieldRef) throw new EnvResolutionError(`env ${e.name}: only valueFrom.fieldRef and secretKeyRef are simulated`);
      vars.set(e.name, fieldRefValue(pod, e.valueFrom.fieldRef.fieldPath));
    } else {
      vars.set(e.name, expandVars(e.value ?? '', vars));
    }
  }
  return vars;
}

const BIND_VARS = ['LAMEDUCK_LISTEN', 'LAMEDUCK_ADMIN_LISTEN'];

/** `[host]:port` with a wildcard or loopback host → `podIp:port`. Other values (a specific foreign IP) are kept. */
function rebindListen(value: string, podIp: string): string {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(value.trim());
  if (!m) return value; // lameduck will reject it with a clear message; not ours to fix
  const host = m[1] ?? m[2] ?? '';
  if (['', '0.0.0.0', '::', '127.0.0.1', 'localhost', '::1'].includes(host)) return `${podIp}:${m[3]}`;
  return value;
}

/** Loopback hosts of URLs inside a value → the pod IP. */
export function rewriteLoopbackUrls(value: string, podIp: string): string {
  return value.replace(/(\/\/)(127\.0\.0\.1|localhost|\[::1\])(?=[:/?#]|$|\s)/g, `$1${podIp}`);
}

/** Applies the network-namespace emulation (see the file comment) in place. */
export function emulateNetns(vars: Map<string, string>, podIp: string): Map<string, string> {
  vars.set('HOST', podIp);
  for (const name of BIND_VARS) {
    const v = vars.get(name);
    if (v !== undefined) vars.set(name, rebindListen(v, podIp));
  }
  for (const [name, v] of vars) vars.set(name, rewriteLoopbackUrls(v, podIp));
  return vars;
}

export interface ContainerEnvInput {
  pod: Pod;
  env?: readonly EnvVar[];
  /** The image's documented defaults (applied first, so the netns rules also cover unset variables). */
  imageEnv?: Readonly<Record<string, string>>;
  /** What every container gets from the "node": PATH, HOSTNAME, KUBECONFIG (the service-account mount's stand-in). */
  base?: Readonly<Record<string, string>>;
  secrets?: SecretData;
}

/** The full environment of one container process. */
export function containerEnv(input: ContainerEnvInput): Record<string, string> {
  const podIp = input.pod.status?.podIP;
  if (!podIp) throw new EnvResolutionError(`pod ${input.pod.metadata.name} has no podIP yet`);
  const base = new Map(Object.entries({...input.base, ...input.imageEnv}));
  const vars = emulateNetns(resolveEnvList(input.pod, input.env, base, input.secrets), podIp);
  return Object.fromEntries(vars);
}

/** `$(VAR)` expansion of command and args with the container's environment. */
export function expandArgv(argv: readonly string[] | undefined, env: Readonly<Record<string, string>>): string[] | undefined {
  if (!argv) return undefined;
  const vars = new Map(Object.entries(env));
  return argv.map((a) => expandVars(a, vars));
}
