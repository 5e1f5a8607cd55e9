import {Agent, request, type ClientRequest, type IncomingMessage} from 'node:http';
import {createConnection} from 'node:net';
import {performance} from 'node:perf_hooks';

/**
 * An open-loop HTTP load generator for tests, the demo and benches.
 *
 * Arrivals come at a constant, jittered rate whatever the server does (a closed loop would slow down exactly when
 * the server misbehaves and hide the failures a drain test is looking for). Each request is one of:
 * - `keepalive`: over a pool of keep-alive connections (node:http Agent). A `Connection: close` from the server makes
 *   the Agent drop that socket, so the next request re-dials — through the current target.
 * - `fresh`: a new connection per request (`agent: false`).
 * - `slow` / `stream`: `/slow?ms=` and `/stream` over the keep-alive pool, to have long requests in flight.
 *
 * `setTarget()` models a load balancer catching up (kube-proxy, an ingress): new connections go to the new target,
 * while keep-alive connections already open stay where they are, as conntrack keeps their DNAT (docs/design.md, "Clients
 * with keep-alive connections keep sending on them after the endpoint change"), until the server closes them.
 */

/** `unavailable`: a gRPC call ended with status UNAVAILABLE (sim/grpc-load.ts; its DEADLINE_EXCEEDED is `timeout`). */
export type Outcome = 'ok' | 'refused' | 'reset' | '5xx' | '4xx' | 'timeout' | 'unavailable' | 'error';
/** `grpc-unary` / `grpc-stream`: calls of the gRPC load (sim/grpc-load.ts). */
export type RequestKind = 'keepalive' | 'fresh' | 'slow' | 'stream' | 'grpc-unary' | 'grpc-stream';

export interface RequestRecord {
  id: number;
  kind: RequestKind;
  path: string;
  /** Epoch milliseconds (sub-millisecond precision), comparable with Date.now(). */
  start: number;
  /** When the whole response body arrived, or the request failed. */
  end: number;
  outcome: Outcome;
  status?: number;
  /** From the `X-Pod-Name` response header (demo-app sets it). */
  pod?: string;
  error?: string;
  /** The response carried `Connection: close`. */
  connectionClose?: boolean;
  /** The target (host:port) of the connection that carried the request. */
  target?: string;
  /** gRPC calls: the status code the call ended with. */
  grpcCode?: number;
  /** gRPC server streams: messages received. */
  messages?: number;
  /**
   * gRPC calls that failed: whether the connection carrying the call had received a GOAWAY before the call broke,
   * i.e. the client had been told to reconnect elsewhere (RFC 9113 §6.8).
   */
  toldToReconnect?: boolean;
  /** gRPC server streams still open when the load stopped, cancelled by the load itself (not a failure). */
  cancelledAtStop?: boolean;
}

export interface LoadOptions {
  host: string;
  port: number;
  /** Arrivals per second. */
  rps: number;
  /** Share of the plain (non-slow, non-stream) requests sent over keep-alive connections; the rest are fresh. */
  keepAliveFraction?: number;
  /** Share of all requests that are `/slow?ms=slowMs`. Default 0. */
  slowFraction?: number;
  /** Default 1000. */
  slowMs?: number;
  /** Share of all requests that are `/stream?chunks=streamChunks&interval=streamIntervalMs`. Default 0. */
  streamFraction?: number;
  /** Default 5. */
  streamChunks?: number;
  /** Default 50. */
  streamIntervalMs?: number;
  /** Path of the plain requests. Default `/`. */
  path?: string;
  /** Per request, from start to the end of the body. Default 10 000. */
  timeoutMs?: number;
  /** Stops issuing by itself after this long. Default 120 000, so a forgotten load cannot run forever. */
  durationMs?: number;
  /** Stops issuing by itself after this many requests. */
  maxRequests?: number;
  /** Default `lameduck-load/1`. */
  userAgent?: string;
  /** Source address for every connection, e.g. to look like another client to a load balancer. */
  localAddress?: string;
  /**
   * Arrivals beyond this many requests in flight are not sent but recorded as outcome `error` (the generator
   * protecting itself, and the test seeing it). Default 4096.
   */
  maxInFlight?: number;
  /**
   * Where each new connection goes, instead of host:port (e.g. a DNS-caching client picking a pod IP). Undefined
   * means there is no address: the request fails at once with outcome `error` (a client whose lookup found nothing).
   */
  pickTarget?: () => {host: string; port: number} | undefined;
}

export interface LoadReport {
  records: RequestRecord[];
  total: number;
  ok: number;
  /** Every record whose outcome is not `ok`. */
  failed: number;
  byOutcome: Record<Outcome, number>;
  /** Latency percentiles in ms over `ok` keepalive, fresh and gRPC unary requests (slow and stream ones are long by design); NaN if none. */
  p50: number;
  p99: number;
}

export interface Load {
  /** Stops issuing, waits for what is in flight (bounded by timeoutMs), returns the report. Idempotent. */
  stop(): Promise<LoadReport>;
  /** Live: grows as requests complete. */
  records: RequestRecord[];
  /** Later connections go there: models a load balancer moving away. */
  setTarget(host: string, port: number): void;
  /** Resolves with the report once the load has ended, by stop() or by durationMs / maxRequests. */
  finished: Promise<LoadReport>;
  /** Requests issued so far (completed or not). */
  readonly issued: number;
  readonly inFlight: number;
}

const OUTCOMES: readonly Outcome[] = ['ok', 'refused', 'reset', '5xx', '4xx', 'timeout', 'unavailable', 'error'];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(records: RequestRecord[]): LoadReport {
  const byOutcome = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  const latencies: number[] = [];
  for (const r of records) {
    byOutcome[r.outcome]++;
    if (r.outcome === 'ok' && (r.kind === 'keepalive' || r.kind === 'fresh' || r.kind === 'grpc-unary')) latencies.push(r.end - r.start);
  }
  latencies.sort((a, b) => a - b);
  return {
    records,
    total: records.length,
    ok: byOutcome.ok,
    failed: records.length - byOutcome.ok,
    byOutcome,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** Maps a client-side error to an outcome. Exported for reuse by other load tools. */
export function classifyError(err: NodeJS.ErrnoException): Outcome {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
    case 'UND_ERR_SOCKET':
      return 'reset';
    case 'ETIMEDOUT':
      return 'timeout';
  }
  if (/socket hang up|aborted/i.test(err.message)) return 'reset';
  return 'error';
}

/** `host:port`, an IPv6 address in brackets (RFC 3986 §3.2.2): a Host header, a gRPC target. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const now = (): number => performance.timeOrigin + performance.now();

export function startLoad(opts: LoadOptions): Load {
  if (!(opts.rps > 0) || !Number.isFinite(opts.rps)) throw new RangeError(`rps must be a positive number, got ${opts.rps}`);
  const keepAliveFraction = opts.keepAliveFraction ?? 0.5;
  const slowFraction = opts.slowFraction ?? 0;
  const streamFraction = opts.streamFraction ?? 0;
  const slowMs = opts.slowMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const durationMs = opts.durationMs ?? 120_000;
  const maxRequests = opts.maxRequests ?? Infinity;
  const maxInFlight = opts.maxInFlight ?? 4096;
  const plainPath = opts.path ?? '/';
  const slowPath = `/slow?ms=${slowMs}`;
  const streamPath = `/stream?chunks=${opts.streamChunks ?? 5}&interval=${opts.streamIntervalMs ?? 50}`;
  const userAgent = opts.userAgent ?? 'lameduck-load/1';
  const {localAddress} = opts;

  let target = {host: opts.host, port: opts.port};

  // One keep-alive pool whose new sockets dial the *current* target: requests always name the first target, so
  // the Agent keeps a single pool key and reuses sockets wherever they were dialled (like conntrack), while a
  // socket it has to open (none free, or the server said Connection: close) goes to wherever the "LB" points now.
  const agent = new Agent({keepAlive: true, maxSockets: 256, scheduling: 'lifo'});
  agent.createConnection = (_options, callback) => {
    const dest = opts.pickTarget ? opts.pickTarget() : target;
    if (!dest) {
      callback?.(new Error('no address for the name'), undefined as never);
      return undefined as never;
    }
    const socket = createConnection({host: dest.host, port: dest.port, localAddress});
    socket.setNoDelay(true);
    (socket as unknown as {lameduckTarget: string}).lameduckTarget = hostPort(dest.host, dest.port);
    return socket;
  };

  const records: RequestRecord[] = [];
  const inFlight = new Set<ClientRequest>();
  let nextId = 0;
  let stopped = false;
  let arrivalTimer: NodeJS.Timeout | undefined;
  let durationTimer: NodeJS.Timeout | undefined;
  const startedAt = now();
  const meanIntervalMs = 1000 / opts.rps;
  let nextArrival = startedAt;

  let resolveFinished!: (r: LoadReport) => void;
  const finished = new Promise<LoadReport>((resolve) => (resolveFinished = resolve));

  function settleIfIdle(): void {
    if (inFlight.size > 0) return;
    if (stopped) {
      agent.destroy();
      resolveFinished(summarize(records));
    }
  }

  function pickKind(): RequestKind {
    const r = Math.random();
    if (r < slowFraction) return 'slow';
    if (r < slowFraction + streamFraction) return 'stream';
    return Math.random() < keepAliveFraction ? 'keepalive' : 'fresh';
  }

  function issue(): void {
    const id = nextId++;
    const kind = pickKind();
    const path = kind === 'slow' ? slowPath : kind === 'stream' ? streamPath : plainPath;
    const start = now();
    if (inFlight.size >= maxInFlight) {
      records.push({id, kind, path, start, end: start, outcome: 'error', error: `load generator: more than ${maxInFlight} in flight`});
      return;
    }
    let done = false;
    let timedOut = false;
    let response: IncomingMessage | undefined;
    let socketTarget: string | undefined;

    const finish = (outcome: Outcome, error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const record: RequestRecord = {id, kind, path, start, end: now(), outcome};
      if (response) {
        record.status = response.statusCode;
        const pod = response.headers['x-pod-name'];
        if (typeof pod === 'string') record.pod = pod;
        if (/\bclose\b/i.test(response.headers.connection ?? '')) record.connectionClose = true;
      }
      if (socketTarget) record.target = socketTarget;
      if (error !== undefined) record.error = error;
      records.push(record);
      inFlight.delete(req);
      // Let the request's own events finish before deciding whether we are idle.
      setImmediate(settleIfIdle);
    };

    const fresh = kind === 'fresh';
    const picked = fresh && opts.pickTarget ? opts.pickTarget() : target;
    if (!picked) {
      records.push({id, kind, path, start, end: now(), outcome: 'error', error: 'no address for the name'});
      return;
    }
    const dest = fresh ? picked : {host: opts.host, port: opts.port};
    const req = request({
      host: dest.host,
      port: dest.port,
      path,
      method: 'GET',
      agent: fresh ? false : agent,
      localAddress: fresh ? localAddress : undefined,
      headers: {host: hostPort(target.host, target.port), 'user-agent': userAgent},
    });
    inFlight.add(req);
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(new Error(`timeout after ${timeoutMs} ms`));
    }, timeoutMs);

    if (fresh) socketTarget = hostPort(picked.host, picked.port);
    req.on('socket', (s) => {
      const t = (s as unknown as {lameduckTarget?: string}).lameduckTarget;
      if (t) socketTarget = t;
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish(timedOut ? 'timeout' : classifyError(err), err.message));
    req.on('response', (res) => {
      response = res;
      res.on('error', (err: NodeJS.ErrnoException) => finish(timedOut ? 'timeout' : classifyError(err), err.message));
      res.on('aborted', () => finish(timedOut ? 'timeout' : 'reset', 'response aborted'));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        finish(status >= 500 ? '5xx' : status >= 400 ? '4xx' : 'ok');
      });
      // A body cut short by the server surfaces as 'aborted'/'error' above, never as 'end'.
      res.on('close', () => {
        if (!res.complete) finish(timedOut ? 'timeout' : 'reset', 'response closed before its end');
      });
      res.resume();
    });
    req.end();
  }

  function stopIssuing(): void {
    if (stopped) return;
    stopped = true;
    clearTimeout(arrivalTimer);
    clearTimeout(durationTimer);
    setImmediate(settleIfIdle);
  }

  function tick(): void {
    arrivalTimer = undefined;
    const t = now();
    // Issue every arrival that is due (timers are coarse; at high rates several are due per tick).
    while (!stopped && nextArrival <= t) {
      // Arrivals are on a schedule, so a late timer neither adds nor drops any: the count stays rate × duration.
      if (nextId >= maxRequests || nextArrival - startedAt >= durationMs) return stopIssuing();
      issue();
      // Uniform jitter of ±50% around the mean keeps the rate while avoiding lock-step arrivals.
      nextArrival += meanIntervalMs * (0.5 + Math.random());
    }
    if (nextId >= maxRequests) return stopIssuing();
    if (!stopped) arrivalTimer = setTimeout(tick, Math.max(0, nextArrival - now()));
  }

  durationTimer = setTimeout(stopIssuing, durationMs);
  arrivalTimer = setTimeout(tick, 0);

  async function stop(): Promise<LoadReport> {
    stopIssuing();
    // Every request has its own timeout; this guard only catches what would slip past it.
    const guard = setTimeout(() => {
      for (const req of inFlight) req.destroy(new Error('load stopped'));
    }, timeoutMs + 1000);
    try {
      return await finished;
    } finally {
      clearTimeout(guard);
    }
  }

  return {
    stop,
    records,
    finished,
    setTarget(host: string, port: number) {
      target = {host, port};
    },
    get issued() {
      return nextId;
    },
    get inFlight() {
      return inFlight.size;
    },
  };
}
