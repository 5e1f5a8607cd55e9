/**
 * The admin listener (separate port; nothing here reaches the app): /healthz, /readyz, /status, /metrics and
 * /prestop — the app container's preStop hook (docs/design.md trigger 2).
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import {timingSafeEqual, createHash} from 'node:crypto';
import {isTerminating} from './cluster.js';
import type {Config} from './config.js';
import {CLUSTER_LOAD_WAIT_MS, type Drain, type LoadingCluster} from './drain.js';
import type {Logger} from './log.js';
import type {Metrics} from './metrics.js';
import type {UpstreamCheck} from './upstream-check.js';
import {listenOn} from './listen.js';
import {sleep} from './wait.js';

export const TOKEN_HEADER = 'x-lameduck-token';
/** Status updates race the hooks (and a classic sidecar's SIGTERM arrives meanwhile): re-check this long. */
export const PRESTOP_RECHECK_MS = 2_000;
export const PRESTOP_RECHECK_INTERVAL_MS = 250;

export interface AdminDeps {
  config: Config;
  metrics: Metrics;
  log: Logger;
  drain: Drain;
  cluster: LoadingCluster | undefined;
  upstream: UpstreamCheck;
  /** Whether the traffic listener is bound and accepting. */
  trafficListening: () => boolean;
  /** Extra fields for /status (connection counters etc.). */
  statusExtra: () => Record<string, unknown>;
  prestopRecheckMs?: number;
}

export interface AdminServer {
  listen(): Promise<AddressInfo>;
  address(): AddressInfo | null;
  /** Stops accepting and ends idle sockets; /prestop waiters are answered by the drain before this is called. */
  close(): Promise<void>;
}

/** Constant-time comparison; hashing first makes the lengths equal so the length does not leak either. */
function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, {'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body)});
  res.end(body);
}

export function createAdminServer(deps: AdminDeps): AdminServer {
  const {config, metrics, log, drain, cluster} = deps;
  const recheckMs = deps.prestopRecheckMs ?? PRESTOP_RECHECK_MS;
  const sockets = new Set<Socket>();

  const waitForRelease = async (res: ServerResponse, trigger: string): Promise<void> => {
    await drain.released();
    send(res, 200, `released (${trigger})\n`);
  };

  const prestop = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Kubelet's grace period started before this request: the drain deadline runs from its arrival.
    const triggeredAt = performance.now();
    const given = req.headers[TOKEN_HEADER];
    if (typeof given === 'string' && given !== '') {
      if (config.prestopToken && tokenMatches(given, config.prestopToken)) {
        log.info('prestop with token: draining', {});
        void drain.drain({trigger: 'token', triggeredAt});
        return waitForRelease(res, 'token');
      }
      log.warn('prestop token rejected', {remote: req.socket.remoteAddress});
    }
    if (drain.started()) return waitForRelease(res, 'drain running');

    // Right after start-up the client library may still be importing: not API time, so not part of the re-check
    // window (else every lookup in it times out, and native mode would take that for an unreachable API).
    await cluster?.whenLoaded?.(AbortSignal.timeout(CLUSTER_LOAD_WAIT_MS));
    const deadline = performance.now() + recheckMs;
    for (let attempt = 0; ; attempt++) {
      if (drain.started()) return waitForRelease(res, 'drain running');
      if (cluster) {
        const remaining = Math.max(200, deadline - performance.now());
        // AbortSignal.timeout() throws a RangeError on a fractional delay (performance.now() arithmetic).
        const lookup = await cluster.getPod(AbortSignal.timeout(Math.ceil(Math.min(remaining, 1_000))));
        if (drain.started()) return waitForRelease(res, 'drain running');
        if (lookup.ok && isTerminating(lookup.pod)) {
          log.info('prestop: pod is terminating', {...lookup.pod});
          void drain.drain({trigger: 'prestop', pod: lookup.pod, triggeredAt});
          return waitForRelease(res, 'pod terminating');
        }
        if (!lookup.ok && config.mode === 'native') {
          // A native sidecar gets SIGTERM only after the app exited: releasing the app now would drop its traffic.
          log.warn('prestop: API cannot tell, native mode: fallback drain', {reason: lookup.reason});
          void drain.drain({trigger: 'prestop', triggeredAt});
          return waitForRelease(res, 'fallback');
        }
      } else if (config.mode === 'native') {
        log.warn('prestop: no pod identity, native mode: fallback drain', {});
        void drain.drain({trigger: 'prestop', triggeredAt});
        return waitForRelease(res, 'fallback');
      }
      if (performance.now() >= deadline) break;
      await sleep(Math.min(PRESTOP_RECHECK_INTERVAL_MS, deadline - performance.now()));
    }
    if (drain.started()) return waitForRelease(res, 'drain running');
    // A container restart after a failed liveness probe, or a stray caller: never take a healthy pod out of service.
    log.info('prestop: pod not terminating, nothing to drain', {remote: req.socket.remoteAddress});
    send(res, 200, 'not terminating: nothing to drain\n');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (path === '/prestop') {
      if (method !== 'GET' && method !== 'POST') return send(res, 405, 'method not allowed\n');
      return prestop(req, res);
    }
    if (method !== 'GET' && method !== 'HEAD') return send(res, 405, 'method not allowed\n');
    switch (path) {
      case '/healthz':
        return send(res, 200, 'ok\n');
      case '/readyz': {
        if (!drain.readinessAllowed()) return send(res, 503, `not ready: ${drain.state()}\n`);
        if (!deps.trafficListening()) return send(res, 503, 'not ready: traffic listener not open\n');
        if (!(await deps.upstream.ok())) return send(res, 503, 'not ready: upstream not answering\n');
        if (!drain.readinessAllowed()) return send(res, 503, `not ready: ${drain.state()}\n`);
        return send(res, 200, 'ready\n');
      }
      case '/status':
        return send(res, 200, JSON.stringify({...drain.status(), ...deps.statusExtra()}, null, 2) + '\n', 'application/json');
      case '/metrics': {
        const body = await metrics.registry.metrics();
        return send(res, 200, body, metrics.registry.contentType);
      }
      default:
        return send(res, 404, 'not found\n');
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      log.error('admin request failed', {path: req.url, error: err.message});
      send(res, 500, 'internal error\n');
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 0; // /prestop legitimately waits for the whole drain
  server.keepAliveTimeout = 5_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  return {
    listen: () => listenOn(server, config.adminListen, 'admin', (error) => log.error('admin listener error', {error})),
    address: () => server.address() as AddressInfo | null,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Give answered responses a moment to flush, then cut the rest (the process is about to exit).
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 200).unref();
      }),
  };
}
