/**
 * Every setting's name, default and help line: the public contract (README's Configuration table, `--help`, the
 * chart). config.ts parses them.
 */

export interface Setting {
  /** Env var name; the flag is derived: LAMEDUCK_SETTLE -> --settle. */
  readonly env: string;
  readonly default: string | undefined;
  readonly help: string;
  readonly boolean?: boolean;
}

/** Every setting, in `--help` order. Names and defaults are the public contract (README, chart). */
export const SETTINGS = [
  {env: 'LAMEDUCK_LISTEN', default: ':8080', help: 'traffic listener [host]:port; empty host = all IPv4 and IPv6 addresses (the Service targetPort)'},
  {env: 'LAMEDUCK_UPSTREAM', default: 'http://127.0.0.1:3000', help: 'the app: http://host:port (HTTP/1.1) or h2c://host:port (HTTP/2 with prior knowledge, e.g. a gRPC server)'},
  {env: 'LAMEDUCK_ADMIN_LISTEN', default: ':9901', help: 'admin listener: /healthz /readyz /prestop /status /metrics'},
  {env: 'LAMEDUCK_MODE', default: 'classic', help: '`classic` or `native` sidecar (the chart sets it)'},
  {env: 'LAMEDUCK_SETTLE', default: '2s', help: 'extra serving time after deregistration (propagation to kube-proxy, ingress, cloud LBs)'},
  {env: 'LAMEDUCK_QUIET', default: '1s', help: 'then serve until no new request has arrived for this long'},
  {env: 'LAMEDUCK_QUIET_IGNORE_PATHS', default: undefined, help: 'comma-separated health-check paths that do not count as traffic'},
  {env: 'LAMEDUCK_IGNORE_SERVICES', default: undefined, help: 'comma-separated Services whose endpoints do not hold the drain'},
  {env: 'LAMEDUCK_DNS_SETTLE', default: '35s', help: "least settle when a headless Service had the pod: its clients cache the address (CoreDNS's default cache and TTL are 30s)"},
  {env: 'LAMEDUCK_FALLBACK_DELAY', default: '15s', help: 'serving time when the API cannot tell whether the pod is still routed'},
  {env: 'LAMEDUCK_DRAIN_TIMEOUT', default: undefined, help: "hard deadline from the trigger (default: the pod's grace period minus the exit margin, else 25s)"},
  {env: 'LAMEDUCK_EXIT_MARGIN', default: '5s', help: 'time left to the app after release'},
  {env: 'LAMEDUCK_APP_EXIT', default: 'hook', help: '`hook`, `signal:SIGTERM` (or another signal), `http:POST http://127.0.0.1:3000/shutdown`'},
  {env: 'LAMEDUCK_APP_PROCESS', default: undefined, help: 'regex on /proc/*/cmdline to find the app for `signal:`'},
  {env: 'LAMEDUCK_PRESTOP_TOKEN', default: undefined, help: 'token in X-Lameduck-Token that /prestop requires for a drain the API does not confirm: the native-mode fallback drain (GET), a forced drain (POST); none: no such drains'},
  {env: 'LAMEDUCK_WATCH_POD', default: 'false', help: 'watch the own Pod and start the drain when it is terminating', boolean: true},
  {env: 'LAMEDUCK_LOG_LEVEL', default: 'info', help: 'debug, info, warn or error; JSON logs on stdout'},
  {env: 'LAMEDUCK_KEEPALIVE_TIMEOUT', default: '75s', help: 'client keep-alive idle timeout (longer than common LB idle timeouts)'},
  {env: 'LAMEDUCK_HEADERS_TIMEOUT', default: '20s', help: 'time a client has to send complete request headers (slowloris)'},
  {env: 'LAMEDUCK_REQUEST_TIMEOUT', default: '5m', help: 'time a client has to send a complete request'},
  {env: 'LAMEDUCK_MAX_HEADER_SIZE', default: '16384', help: 'maximum request header bytes'},
  {env: 'LAMEDUCK_UPSTREAM_TIMEOUT', default: '60s', help: 'upstream response timeout (504 after it)'},
  {env: 'LAMEDUCK_UPSTREAM_IDLE_TIMEOUT', default: '4s', help: "idle time after which a pooled upstream socket is closed; keep it below the app's keep-alive timeout (Node: 5s)"},
  {env: 'LAMEDUCK_UPSTREAM_MAX_SOCKETS', default: '256', help: 'maximum concurrent upstream sockets'},
  {env: 'LAMEDUCK_UPSTREAM_MAX_QUEUE', default: '1024', help: 'requests that may wait for an upstream socket when all are busy; beyond it 503 with Retry-After'},
  {env: 'LAMEDUCK_UPSTREAM_QUEUE_TIMEOUT', default: '5s', help: 'longest wait for an upstream socket, then 503 with Retry-After (0 = no limit)'},
  {env: 'LAMEDUCK_SEND_TIMEOUT', default: '60s', help: 'a response the client does not read for this long is cut and its upstream request aborted (0 = off)'},
  {env: 'LAMEDUCK_CLIENT_BODY_TIMEOUT', default: '60s', help: 'longest pause in a request body the client is sending, then 408 and the upstream request aborted (0 = off)'},
  {env: 'LAMEDUCK_MAX_PIPELINED', default: '32', help: 'requests one connection may have in flight when the client pipelines; the connection closes after the answered ones beyond it'},
] as const satisfies readonly Setting[];

export type SettingName = (typeof SETTINGS)[number]['env'];

export function flagName(env: string): string {
  return '--' + env.replace(/^LAMEDUCK_/, '').toLowerCase().replace(/_/g, '-');
}

export function helpText(): string {
  const lines = [
    'lameduck — Kubernetes-aware sidecar reverse proxy: keeps serving until no Service routes to the pod, drains, then lets the app exit.',
    '',
    'Usage: lameduck [--flag=value ...]   (every flag is also an environment variable; the flag wins)',
    '       lameduck inject [flags] [FILE|DIR|-]...   add the sidecar to manifests (lameduck inject --help)',
    '       lameduck webhook [flags]                  the mutating admission webhook (lameduck webhook --help)',
    '',
  ];
  for (const s of SETTINGS as readonly Setting[]) {
    lines.push(`  ${flagName(s.env)}  (${s.env})`);
    lines.push(`      ${s.help}. Default: ${s.default === undefined ? '(none)' : JSON.stringify(s.default)}`);
  }
  lines.push('', 'Pod identity (Downward API): POD_NAME, POD_NAMESPACE, POD_UID, POD_IPS (or POD_IP). API access: KUBECONFIG, else the in-cluster service account.');
  return lines.join('\n');
}
