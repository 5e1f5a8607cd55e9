/**
 * The admin listener (separate port; nothing here reaches the app): /healthz, /readyz, /status, /metrics and
 * /prestop — the app container's preStop hook (docs/design.md trigger 2; who may drain: prestop.ts).
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import type {Config} from './config.js';
import type {Drain, LoadingCluster} from './drain.js';
import type {Logger} from './log.js';
import type {Metrics} from './metrics.js';
import type {UpstreamCheck} from './upstream-check.js';
import {listenOn} from './listen.js';
import {createPrestopHandler} from './prestop.js';

export {TOKEN_HEADER, PRESTOP_RECHECK_MS, PRESTOP_RECHECK_INTERVAL_MS} from './prestop.js';

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

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, {'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body)});
  res.end(body);
}

export function createAdminServer(deps: AdminDeps): AdminServer {
  const {config, metrics, log, drain, cluster} = deps;
  const sockets = new Set<Socket>();

  const prestop = createPrestopHandler({config, metrics, log, drain, cluster, recheckMs: deps.prestopRecheckMs});

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (path === '/prestop') {
      if (method !== 'GET' && method !== 'POST') return send(res, 405, 'method not allowed\n');
      return prestop(req, res, (status, body) => send(res, status, body));
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
