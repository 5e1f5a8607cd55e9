/**
 * An ingress-like L7 load balancer (a cloud LB or an ingress controller in front of the Service's pods): clients talk
 * HTTP/1.1 to it, it picks a routable endpoint per request from its own lagged view (typically longer than
 * kube-proxy's: a cloud LB's target deregistration, an ingress controller's reload) and forwards the request over a
 * keep-alive pool per pod. A pod's `Connection: close` ends that pooled connection, so the next request dials again.
 *
 * Only Ready endpoints get traffic, as in ingress-nginx (internal/ingress/controller/endpointslices.go): unlike
 * kube-proxy there is no fallback to serving+terminating endpoints, so a Service whose last pod terminates answers 503
 * through the ingress at once (once the ingress has seen the change).
 *
 * Failures are passed on, not retried (a cloud LB answers 502 when its target resets or refuses; ingress-nginx would
 * retry idempotent requests on another upstream, which would hide exactly what the showdown measures): a refused or
 * reset upstream before the response → 502; a response cut in the middle → the client's connection is destroyed.
 */
import {Agent, createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server} from 'node:http';
import type {Socket} from 'node:net';
import type {EndpointView} from './endpoint-view.js';
import {listenDeep} from './listen.js';
import {pickEndpoint} from './routing.js';

export interface IngressStats {
  requests: number;
  byPod: Record<string, number>;
  /** 502s sent because the upstream refused or reset before answering. */
  badGateway: number;
  /** 503s sent because the view had no routable endpoint. */
  noEndpoint: number;
  /** Responses cut after their headers were sent. */
  cut: number;
}

export interface Ingress {
  readonly host: string;
  readonly port: number;
  readonly stats: IngressStats;
  close(): Promise<void>;
}

export interface IngressOptions {
  view: EndpointView;
  host: string;
  port?: number;
  /** Per pod. Default 64. */
  maxSocketsPerPod?: number;
  /** Idle pooled connections are closed after this (below the app's keep-alive timeout). Default 4000 ms. */
  idleTimeoutMs?: number;
  /** Upstream response timeout → 504. Default 30 000 ms. */
  upstreamTimeoutMs?: number;
  random?: () => number;
}

// RFC 9110 §7.6.1: connection-specific fields are not forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function forwardHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const listed = new Set((headers.connection ?? '').split(',').map((s) => s.trim().toLowerCase()));
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || listed.has(k)) continue;
    out[k] = v;
  }
  return out;
}

export async function startIngress(opts: IngressOptions): Promise<Ingress> {
  const stats: IngressStats = {requests: 0, byPod: {}, badGateway: 0, noEndpoint: 0, cut: 0};
  const agents = new Map<string, Agent>();
  const sockets = new Set<Socket>();
  const agentFor = (key: string): Agent => {
    let a = agents.get(key);
    if (!a) {
      a = new Agent({keepAlive: true, maxSockets: opts.maxSocketsPerPod ?? 64, timeout: opts.idleTimeoutMs ?? 4000, scheduling: 'lifo'});
      agents.set(key, a);
    }
    return a;
  };

  const server: Server = createServer((req, res) => {
    stats.requests++;
    // ingress-nginx balances over Ready endpoints only: no terminating fallback (see routing.ts).
    const endpoint = pickEndpoint(opts.view.endpoints(), opts.random, 'ready-only');
    if (!endpoint) {
      stats.noEndpoint++;
      res.writeHead(503, {'content-type': 'text/plain'}).end('no healthy upstream\n');
      return;
    }
    const pod = endpoint.pod ?? endpoint.ip;
    stats.byPod[pod] = (stats.byPod[pod] ?? 0) + 1;
    const headers = forwardHeaders(req.headers);
    const xff = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = (xff ? `${xff}, ` : '') + (req.socket.remoteAddress ?? '');
    const upstream = request({
      host: endpoint.ip,
      port: endpoint.port,
      method: req.method,
      path: req.url,
      headers,
      agent: agentFor(`${endpoint.ip}:${endpoint.port}`),
      timeout: opts.upstreamTimeoutMs ?? 30_000,
    });
    upstream.on('response', (ures) => {
      res.writeHead(ures.statusCode ?? 502, forwardHeaders(ures.headers));
      ures.pipe(res);
      ures.on('aborted', () => {
        stats.cut++;
        res.destroy();
      });
      ures.on('error', () => {
        stats.cut++;
        res.destroy();
      });
    });
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timeout')));
    upstream.on('error', (err) => {
      if (res.headersSent) {
        stats.cut++;
        res.destroy();
        return;
      }
      stats.badGateway++;
      const timeout = err.message === 'upstream timeout';
      res.writeHead(timeout ? 504 : 502, {'content-type': 'text/plain'}).end(timeout ? 'upstream timeout\n' : `bad gateway: ${(err as NodeJS.ErrnoException).code ?? err.message}\n`);
    });
    req.pipe(upstream);
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  });
  server.keepAliveTimeout = 75_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const port = await listenDeep(server, opts.host, opts.port);
  return {
    host: opts.host,
    port,
    stats,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      for (const a of agents.values()) a.destroy();
      await closed;
    },
  };
}
