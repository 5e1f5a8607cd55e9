/**
 * The forwarder's server and lifecycle: node:http's server with its hardening (timeouts, header limits, strict
 * parser), listen, and the drain hooks: close() is the `closing` phase, destroy() the deadline.
 *
 * - Drain: from the trigger (`phase() !== 'serving'`) every response carries `Connection: close`, so keep-alive
 *   clients re-dial through their load balancer, while new connections are still accepted. `close()` stops accepting,
 *   closes idle connections and each busy one right after its response; `destroy()` cuts what is left and counts it.
 */
import {createServer} from 'node:http';
import type {Socket} from 'node:net';
import type {Config} from '../config.js';
import {createH2Server, createH2UpstreamFor, type H2Server} from '../h2/h2-server.js';
import {createPrefaceSniffer} from '../h2/preface.js';
import {listenOn} from '../listen.js';
import {MAX_HEADERS_COUNT} from '../request-guard.js';
import {createClientErrorHandler, createConnectHandler} from './client-errors.js';
import {createContext, type ForwarderContext} from './context.js';
import {createTimeoutHandler} from './client-timeouts.js';
import {continuePipeline} from './pipeline.js';
import {createRequestHandler} from './request.js';
import type {Forwarder, ForwarderDeps} from './types.js';
import {createUpgradeHandler} from './upgrade.js';

/** How often node:http checks header and request timeouts (default 30 s would let slowloris sockets live too long). */
function checkingInterval(config: Config): number {
  const limits = [config.headersTimeoutMs, config.requestTimeoutMs].filter((ms) => ms > 0);
  if (limits.length === 0) return 30_000;
  return Math.max(100, Math.min(5_000, Math.floor(Math.min(...limits) / 4)));
}

export function createForwarder(deps: ForwarderDeps): Forwarder {
  const ctx = createContext(deps);
  const {config, state, tracker} = ctx;

  const server = createServer({
    maxHeaderSize: config.maxHeaderSize,
    insecureHTTPParser: false,
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: config.headersTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    connectionsCheckingInterval: checkingInterval(config),
    noDelay: true,
    // The guard refuses a missing Host itself (request-guard.ts): node's own 400 for it goes on parsing and handing
    // out the requests pipelined behind it, which would then reach the app unanswered.
    requireHostHeader: false,
  });
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  // node drops fields past this count from req.headers (see request-guard.ts: such requests are refused).
  server.maxHeadersCount = MAX_HEADERS_COUNT;

  server.on('connection', (socket: Socket) => {
    tracker.add(socket);
  });
  // One pool of upstream HTTP/2 sessions for HTTP/1.1 and HTTP/2 clients alike, when the app speaks h2c.
  const h2Upstream = config.upstreamProtocol === 'h2c' ? createH2UpstreamFor(config) : undefined;
  server.on('request', createRequestHandler(ctx, h2Upstream));
  server.on('upgrade', createUpgradeHandler(ctx));
  server.on('connect', createConnectHandler(ctx));
  server.on('clientError', createClientErrorHandler(ctx));
  // The client sockets' idle timer: node's keep-alive timeout, and the send and body timeouts (client-timeouts.ts).
  server.on('timeout', createTimeoutHandler(ctx));
  ctx.continuePipeline = (conn) => continuePipeline(ctx, conn);

  // HTTP/2 with prior knowledge beside HTTP/1.1 (h2/): the first bytes of each new connection decide, once per
  // connection; node:http's own connection handling (and the tracker above) runs for HTTP/1.1 connections only.
  const h2: H2Server = createH2Server({config, metrics: ctx.metrics, log: deps.log, phase: deps.phase, now: ctx.now, upstream: h2Upstream});
  const http1 = server.listeners('connection') as ((socket: Socket) => void)[];
  const http1Connections = ctx.metrics.connections.labels('http1');
  server.removeAllListeners('connection');
  const sniffer = createPrefaceSniffer({
    timeoutMs: config.headersTimeoutMs,
    onH1: (socket) => {
      http1Connections.inc();
      for (const listener of http1) listener.call(server, socket);
    },
    onH2: h2.handle,
    // Not yet classified, but open: counted (and closed at `closing`) like a connection that sent nothing yet.
    onWaiting: (delta) => ctx.metrics.openConnections.inc(delta),
  });
  server.on('connection', sniffer.accept);

  let closed: Promise<void> | undefined;
  const startClose = (): Promise<void> => (closed ??= Promise.all([startHttp1Close(), h2.close()]).then(() => h2Upstream?.destroy()));
  const startHttp1Close = (): Promise<void> => {
    if (state.closePromise) return state.closePromise;
    state.closing = true;
    sniffer.closePending();
    state.closePromise = new Promise<void>((resolve) => (state.resolveClose = resolve));
    if (server.listening) server.close();
    // Keep-alive sockets between requests (node ≥ 19 does this inside close(); explicit for clarity). It spares
    // connections with a request in progress, and also those that have not sent a byte yet (their header timer runs):
    // nothing is in progress on those either, so they are closed here too. A partly sent head is left to finish (and
    // answered with Connection: close) or to be cut at the deadline.
    server.closeIdleConnections();
    for (const conn of tracker.all()) {
      if (conn.responses.length === 0 && !conn.upgraded && conn.socket.bytesRead === 0) conn.socket.destroy();
    }
    ctx.checkDrained();
    return state.closePromise;
  };

  return {
    async listen() {
      return listenOn(server, config.listen, 'traffic', (error) => ctx.log.error('traffic listener error', {error}));
    },
    address() {
      const a = server.address();
      return a !== null && typeof a === 'object' ? a : null;
    },
    stats() {
      const c = tracker.counts();
      const s2 = h2.stats();
      return {
        openConnections: c.open + s2.sessions + sniffer.pending(),
        idleConnections: c.idle + sniffer.pending(),
        inFlight: state.inFlight + s2.streams,
        upgraded: c.upgraded,
        served: state.served + s2.served,
        drained: state.drained + s2.drained,
        cut: state.cut ? {...state.cut} : {requests: 0, upgrades: 0, connections: 0},
        h2: s2,
      };
    },
    lastTrafficAt: () => Math.max(state.lastTraffic, h2.lastTrafficAt()),
    drainStarted: () => h2.drain(),
    close: startClose,
    destroy: () => {
      if (state.cut) return {...state.cut};
      const streams = h2.destroy();
      h2Upstream?.destroy();
      const cut = cutEverything(ctx, startClose);
      // HTTP/2 streams are requests, idle sessions connections (h2-server.ts ended each stream with a status or a reset).
      if (streams.streams > 0) ctx.metrics.cut.inc({kind: 'request'}, streams.streams);
      if (streams.sessions > 0) ctx.metrics.cut.inc({kind: 'connection'}, streams.sessions);
      cut.requests += streams.streams;
      cut.connections += streams.sessions;
      state.cut = {...cut};
      return cut;
    },
  };
}

/** The deadline: destroy every remaining socket, count what was cut by kind. Idempotent. */
function cutEverything(ctx: ForwarderContext, startClose: () => Promise<void>): {requests: number; upgrades: number; connections: number} {
  const {state, metrics} = ctx;
  if (state.cut) return {...state.cut};
  state.destroying = true;
  void startClose();
  let requests = 0;
  let upgraded = 0;
  let connections = 0;
  for (const conn of [...ctx.tracker.all()]) {
    if (conn.upgraded) upgraded++;
    else if (conn.responses.length > 0) requests += conn.responses.length;
    else connections++;
    conn.socket.destroy();
  }
  const cut = {requests, upgrades: upgraded, connections};
  state.cut = cut;
  if (requests > 0) metrics.cut.inc({kind: 'request'}, requests);
  if (upgraded > 0) metrics.cut.inc({kind: 'upgrade'}, upgraded);
  if (connections > 0) metrics.cut.inc({kind: 'connection'}, connections);
  ctx.pool.destroy();
  ctx.throttle.dispose();
  if (requests + upgraded + connections > 0) ctx.log.info('cut connections at the deadline', {...cut});
  return {...cut};
}
