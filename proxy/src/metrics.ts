/**
 * Every Prometheus metric lameduck exports, on its own Registry (no globals: several sidecars can live in one
 * process in tests). Labelled series are created at 0 up front so `increase()` sees the first drain — a pod drains
 * once, in its last seconds. Hot-path helpers use pre-bound label children: no label objects per request.
 */
import {Counter, Gauge, Registry, collectDefaultMetrics} from 'prom-client';
import {GRPC_STATUS_CLASSES} from './h2/grpc-errors.js';
import {LabelledHistogram, Tally, tallies} from './hot-metrics.js';
import {PHASES, type Phase} from './phase.js';

export const METRIC_PREFIX = 'lameduck_';
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export const UPSTREAM_ERROR_REASONS = ['refused', 'timeout', 'reset', 'bad_response', 'other'] as const;
export type UpstreamErrorReason = (typeof UPSTREAM_ERROR_REASONS)[number];
/** Why a request was not forwarded: no upstream socket in time (503), or pipelined behind a closing response or past the per-connection limit. */
export const REFUSAL_REASONS = ['queue_full', 'queue_timeout', 'after_close', 'pipeline_limit'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];
/** send: the client stopped reading its response; body: it stopped sending its request body. */
export const CLIENT_TIMEOUT_KINDS = ['send', 'body'] as const;
export type ClientTimeoutKind = (typeof CLIENT_TIMEOUT_KINDS)[number];
export const CUT_KINDS = ['request', 'upgrade', 'connection'] as const;
export type CutKind = (typeof CUT_KINDS)[number];
export const FALLBACK_REASONS = ['no_identity', 'forbidden', 'unauthorized', 'unreachable', 'no_pod'] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];
export const TRIGGERS = ['signal', 'prestop', 'token', 'pod_watch'] as const;
export type Trigger = (typeof TRIGGERS)[number];
/** The client side of a traffic connection: HTTP/1.1, or HTTP/2 with prior knowledge. */
export const PROTOCOLS = ['http1', 'h2c'] as const;
export type Protocol = (typeof PROTOCOLS)[number];
/**
 * Why an HTTP/2 client connection was ended for misbehaving: flood (node's limits on SETTINGS, PING, RST_STREAM and
 * other frames that cost the server work), rapid_reset (lameduck's premature-reset rule), protocol (any other error
 * node reports on the session: bad preface, invalid frames).
 */
export const H2_CONNECTION_ERRORS = ['flood', 'rapid_reset', 'protocol'] as const;
export type H2ConnectionError = (typeof H2_CONNECTION_ERRORS)[number];
/** Why /prestop refused a drain the API did not confirm (prestop.ts). */
export const PRESTOP_REFUSALS = ['token_missing', 'token_wrong', 'token_not_configured'] as const;
export type PrestopRefusal = (typeof PRESTOP_REFUSALS)[number];
export const KUBE_RESOURCES = ['pods', 'endpointslices', 'services', 'events'] as const;
export const KUBE_VERBS = ['get', 'list', 'watch', 'create'] as const;

export interface Metrics {
  readonly registry: Registry;
  /** One finished request: phase at its start, status code, seconds. */
  observeRequest(phase: Phase, status: number, seconds: number): void;
  /** Counted in a plain number, set on the gauge when read (hot-metrics.ts). */
  requestsInFlight: {inc(): void; dec(): void};
  openConnections: Gauge;
  upgradedConnections: Gauge;
  drainedRequests: Counter;
  cut: Counter<'kind'>;
  upstreamErrors: Counter<'reason'>;
  upstreamRetries: Counter;
  clientAborts: Counter;
  badRequests: Counter;
  refusedRequests: Counter<'reason'>;
  clientTimeouts: Counter<'kind'>;
  drainTriggers: Counter<'trigger'>;
  prestopRefusals: Counter<'reason'>;
  deregistrationSeconds: Gauge;
  phaseSeconds: Gauge<'phase'>;
  drainSeconds: Gauge;
  fallbacks: Counter<'reason'>;
  kubeRequests: Counter<'resource' | 'verb' | 'code'>;
  watchRestarts: Counter;
  releaseActions: Counter<'action' | 'result'>;
  /** Per connection (never per request): accepted traffic connections by protocol. */
  connections: Counter<'protocol'>;
  h2Sessions: Gauge;
  h2Streams: Counter<'phase'>;
  /** h2Streams's children, counted in plain numbers (hot-metrics.ts): one inc() per finished stream. */
  h2StreamsByPhase: ReadonlyMap<Phase, {inc(): void}>;
  goaways: Counter;
  grpcResponses: Counter<'grpc_status'>;
  h2ConnectionErrors: Counter<'reason'>;
  setState(phase: Phase): void;
}

/** The index in STATUS_CLASSES of a status code's class. */
function statusClassIndex(status: number): number {
  const c = Math.floor(status / 100);
  return c <= 1 ? 0 : c >= 5 ? 4 : c - 1;
}

export function createMetrics(options: {defaultMetrics?: boolean} = {}): Metrics {
  const registry = new Registry();
  const p = METRIC_PREFIX;
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({register: registry, eventLoopMonitoringPrecision: 20});
    // prom-client exports these gauges with a `_total` suffix, which `promtool check metrics` rejects (only
    // counters may end in _total); the counts they carry are in nodejs_active_*_total's siblings anyway.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      registry.removeSingleMetric(name);
    }
  }

  // The per-request series are counted in plain numbers (hot-metrics.ts) and handed to prom-client when read.
  const requestSeries = PHASES.flatMap((phase) => STATUS_CLASSES.map((code) => [`${phase}:${code}`, {phase, code}] as const));
  const requestTallies = tallies(requestSeries);
  // Indexed by phase and status class: no key string per request.
  const requestByPhase = new Map(PHASES.map((phase) => [phase, STATUS_CLASSES.map((code) => requestTallies.byKey.get(`${phase}:${code}`)!)]));
  const requests = new Counter({
    name: `${p}requests_total`,
    help: 'Requests forwarded, by drain phase at arrival and status class.',
    labelNames: ['phase', 'code'] as const,
    registers: [registry],
    collect() {
      requestTallies.flushInto(this);
    },
  });
  for (const [, labels] of requestSeries) requests.inc(labels, 0);
  const duration = new LabelledHistogram(
    `${p}request_duration_seconds`,
    'Request duration through the proxy, by drain phase at arrival.',
    'phase',
    PHASES,
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registry,
  );
  const durationChildren = new Map(PHASES.map((phase) => [phase, duration.child(phase)]));
  const inFlight = new Tally();
  const streamTallies = tallies(PHASES.map((phase) => [phase, {phase}] as const));

  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], init: Record<L, readonly string[]>, collect?: (this: Counter<L>) => void) => {
    const c = new Counter<L>({name: `${p}${name}`, help, labelNames, registers: [registry], ...(collect ? {collect} : {})});
    // Initialise every combination of the known label values to 0.
    const combos = labelNames.reduce<Record<string, string>[]>(
      (acc, l) => acc.flatMap((partial) => init[l].map((v) => ({...partial, [l]: v}))),
      [{}],
    );
    if (labelNames.length === 0) c.inc(0);
    else for (const labels of combos) c.inc(labels as never, 0);
    return c;
  };
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = [], collect?: (this: Gauge<L>) => void) =>
    new Gauge<L>({name: `${p}${name}`, help, labelNames, registers: [registry], ...(collect ? {collect} : {})});

  const state = gauge('state', 'Current drain phase: 1 for the current one, 0 for the others.', ['state']);
  const setState = (phase: Phase): void => {
    for (const s of PHASES) state.set({state: s}, s === phase ? 1 : 0);
  };
  setState('serving');

  const phaseSeconds = gauge('phase_duration_seconds', 'Time spent in each drain phase of the current drain.', ['phase']);
  for (const phase of PHASES) phaseSeconds.set({phase}, 0);

  gauge('requests_in_flight', 'Requests being forwarded now.', [], function () {
    this.set(inFlight.n);
  });

  return {
    registry,
    observeRequest(phase, status, seconds) {
      requestByPhase.get(phase)![statusClassIndex(status)]!.inc();
      durationChildren.get(phase)!.observe(seconds);
    },
    requestsInFlight: inFlight,
    openConnections: gauge('open_connections', 'Client connections open on the traffic listener.'),
    upgradedConnections: gauge('upgraded_connections', 'Upgraded (WebSocket) connections open now.'),
    drainedRequests: counter('drained_requests_total', 'Requests that arrived after the drain was triggered and were served.', [], {}),
    cut: counter('cut_total', 'Requests, upgraded and idle connections destroyed at the drain deadline.', ['kind'], {kind: CUT_KINDS}),
    upstreamErrors: counter('upstream_errors_total', 'Requests that failed on the upstream side, by reason.', ['reason'], {
      reason: UPSTREAM_ERROR_REASONS,
    }),
    upstreamRetries: counter('upstream_retries_total', 'Idempotent requests retried once after a reset on a reused upstream socket.', [], {}),
    clientAborts: counter('client_aborts_total', 'Requests whose client went away before the response ended.', [], {}),
    badRequests: counter('bad_requests_total', 'Malformed requests refused by the HTTP parser.', [], {}),
    refusedRequests: counter('refused_requests_total', 'Requests not forwarded: no upstream socket free in time (queue_full, queue_timeout: 503), or pipelined behind a response that closed the connection (after_close) or past LAMEDUCK_MAX_PIPELINED (pipeline_limit).', ['reason'], {
      reason: REFUSAL_REASONS,
    }),
    clientTimeouts: counter('client_timeouts_total', 'Client connections cut because the client stopped reading its response (send) or sending its request body (body).', ['kind'], {
      kind: CLIENT_TIMEOUT_KINDS,
    }),
    drainTriggers: counter('drain_triggers_total', 'Drain triggers received (later ones are no-ops).', ['trigger'], {trigger: TRIGGERS}),
    prestopRefusals: counter(
      'prestop_refused_total',
      '/prestop calls that would have started a drain the API did not confirm, refused for want of the token.',
      ['reason'],
      {reason: PRESTOP_REFUSALS},
    ),
    deregistrationSeconds: gauge('deregistration_duration_seconds', 'Time from the trigger until no Service routed to the pod any more.'),
    phaseSeconds,
    drainSeconds: gauge('drain_duration_seconds', 'Time from the trigger to done, of the current drain.'),
    fallbacks: counter('fallbacks_total', 'Drains that used the timed fallback because the API could not tell.', ['reason'], {
      reason: FALLBACK_REASONS,
    }),
    kubeRequests: counter('kube_api_requests_total', 'Requests to the Kubernetes API, by resource, verb and result.', ['resource', 'verb', 'code'], {
      resource: KUBE_RESOURCES,
      verb: KUBE_VERBS,
      code: ['ok'],
    }),
    watchRestarts: counter('watch_restarts_total', 'EndpointSlice watch re-lists after an error, expiry or stall.', [], {}),
    releaseActions: counter('release_actions_total', 'App release actions taken at the end of a drain.', ['action', 'result'], {
      action: ['hook', 'signal', 'http'],
      result: ['ok', 'error'],
    }),
    connections: counter('connections_total', 'Traffic connections accepted, by protocol (http1, h2c).', ['protocol'], {protocol: PROTOCOLS}),
    h2Sessions: gauge('h2_sessions', 'HTTP/2 client sessions open now (also counted in open_connections).'),
    h2Streams: counter('h2_streams_total', 'HTTP/2 streams (requests) finished, by drain phase at arrival (also counted in requests_total).', ['phase'], {phase: PHASES}, function () {
      streamTallies.flushInto(this);
    }),
    h2StreamsByPhase: streamTallies.byKey,
    goaways: counter('goaways_total', 'Graceful GOAWAYs sent to HTTP/2 clients (the HTTP/2 form of Connection: close).', [], {}),
    grpcResponses: counter('grpc_responses_total', 'gRPC calls finished, by grpc-status class (missing: the call ended without a status).', ['grpc_status'], {
      grpc_status: GRPC_STATUS_CLASSES,
    }),
    h2ConnectionErrors: counter('h2_connection_errors_total', 'HTTP/2 client connections ended for a protocol violation: flood (too many SETTINGS, PING, RST_STREAM...), rapid_reset (most streams reset at once), protocol (other errors node reports).', ['reason'], {
      reason: H2_CONNECTION_ERRORS,
    }),
    setState,
  };
}
