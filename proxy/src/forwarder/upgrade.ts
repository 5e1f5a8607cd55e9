/**
 * WebSocket (and other) upgrades. Only WebSocket is proxied, through http-proxy-3; anything else is refused, and a
 * new upgrade after `closing` began gets 503 (it would hold the drain until the deadline). Once the upstream's 101 is
 * relayed the connection is a byte pipe: never an HTTP answer injected into it.
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import type {Socket} from 'node:net';
import type {Duplex} from 'node:stream';
import type {ProxyServer, ServerOptions} from 'http-proxy-3';
import {LameduckError} from '../errors.js';
import {forwardedFor, forwardedPort, forwardedProto} from '../forwarded-headers.js';
import {stripRequestHopByHop} from '../hop-by-hop.js';
import type {Phase} from '../phase.js';
import {checkRequest, REFUSALS} from '../request-guard.js';
import {normalizeRequestTarget} from '../request-target.js';
import {classifyUpstreamError} from '../upstream-errors.js';
import {text, textResponse} from './client-errors.js';
import type {ForwarderContext} from './context.js';
import {STATUS_CLIENT_CLOSED} from './types.js';

/** Per WebSocket handshake. */
interface UpgradeState {
  readonly start: number;
  readonly phase: Phase;
  /** pending: waiting for the upstream; open: 101 relayed, a byte pipe now; answered: upstream sent a plain response. */
  state: 'pending' | 'open' | 'answered' | 'failed';
  timedOut: boolean;
}

const WS_OPTIONS: ServerOptions = Object.freeze({agent: false}); // a fresh connection per WebSocket: no pooled-socket race

const kForwarded = Symbol('lameduck.forwarded');
type UpgradeRequest = IncomingMessage & {[kForwarded]?: {proto: string; port: string}};

// Runs after http-proxy's XHeaders pass, which appends to whatever the client sent. On the dual-stack `::` listener
// an IPv4 client's address reads `::ffff:10.1.2.3`; X-Forwarded-For carries the plain IPv4 form that apps and
// allow-lists expect (as nginx and Envoy write it). X-Forwarded-Proto/-Port become the single values a plain request
// gets (forwarded-headers.ts), taken before XHeaders ran.
function settleForwardedHeaders(req: UpgradeRequest): void {
  const forwarded = req[kForwarded];
  if (forwarded !== undefined) {
    req.headers['x-forwarded-proto'] = forwarded.proto;
    req.headers['x-forwarded-port'] = forwarded.port;
  }
  const remote = req.socket.remoteAddress;
  const xff = req.headers['x-forwarded-for'];
  if (remote === undefined || typeof xff !== 'string' || !xff.endsWith(remote)) return;
  req.headers['x-forwarded-for'] = xff.slice(0, xff.length - remote.length) + forwardedFor(remote);
}

/** The server's `upgrade` handler. */
export function createUpgradeHandler(ctx: ForwarderContext): (req: IncomingMessage, duplex: Duplex, head: Buffer) => void {
  const {config, metrics, log} = ctx;
  const upgrades = new WeakMap<Socket, UpgradeState>();

  const rejectUpgrade = (socket: Socket, st: UpgradeState | undefined, status: number, body: Buffer): void => {
    if (st) metrics.observeRequest(st.phase, status, (ctx.now() - st.start) / 1000);
    if (socket.writable) {
      socket.write(textResponse(status, body));
      socket.destroySoon();
    } else socket.destroy();
  };

  const onWsError = (err: Error, _req: IncomingMessage, resOrSocket: ServerResponse | Socket): void => {
    const socket = resOrSocket as Socket;
    const st = upgrades.get(socket);
    if (!st) return;
    if (st.state !== 'pending') {
      // Past the handshake the connection is a byte pipe: never inject an HTTP response into it, just close it
      // (http-proxy does). An upstream reset of an open WebSocket still counts as an upstream error.
      if (st.state === 'open' && !ctx.state.destroying) ctx.upstreamErrors.get('reset')!.inc();
      return;
    }
    st.state = 'failed';
    const failure = classifyUpstreamError(err, st.timedOut);
    ctx.upstreamErrors.get(failure.reason)!.inc();
    ctx.throttle.warn('upstream upgrade failed', {reason: failure.reason, status: failure.status, error: new LameduckError(failure.code, failure.message, {cause: err})});
    metrics.observeRequest(st.phase, failure.status, (ctx.now() - st.start) / 1000);
    // http-proxy calls socket.destroySoon() right after this callback: the answer is flushed before the close.
    if (socket.writable) socket.write(textResponse(failure.status, failure.body));
  };

  const setUpWsProxy = (proxy: ProxyServer): ProxyServer => {
    proxy.before('ws', 'stream', settleForwardedHeaders);
    proxy.on('proxyReqWs', (proxyReq, _req, socket) => {
      const st = upgrades.get(socket);
      if (!st) return;
      // http-proxy applies no timeout to the handshake; without one a silent upstream would hold the client forever.
      // (After the 101, http-proxy sets the socket timeout to 0: an idle WebSocket is not a timeout.)
      if (config.upstreamTimeoutMs > 0) {
        proxyReq.setTimeout(config.upstreamTimeoutMs, () => {
          st.timedOut = true;
          proxyReq.destroy();
        });
      }
      proxyReq.once('upgrade', () => {
        st.state = 'open';
        metrics.observeRequest(st.phase, 101, (ctx.now() - st.start) / 1000);
      });
      proxyReq.once('response', (proxyRes: IncomingMessage) => {
        st.state = 'answered';
        metrics.observeRequest(st.phase, proxyRes.statusCode ?? 502, (ctx.now() - st.start) / 1000);
      });
    });
    // Errors http-proxy emits outside the callbacks: client socket errors during an upgrade. The socket closes itself.
    proxy.on('error', (err) => {
      if (ctx.debug) log.debug('proxy socket error', {error: err});
    });
    return proxy;
  };

  // http-proxy-3 (with follow-redirects and debug) is loaded when the first WebSocket arrives: ~2 MB of idle RSS
  // that a pod without WebSockets does not pay (docs/performance.md).
  let wsProxy: Promise<ProxyServer> | undefined;
  const loadWsProxy = (): Promise<ProxyServer> =>
    (wsProxy ??= import('http-proxy-3').then(({ProxyServer}) =>
      setUpWsProxy(
        new ProxyServer({
          target: config.upstream,
          xfwd: true,
          // Passed through as req.url: no URL parsing and normalisation per request (the app sees the path as sent).
          toProxy: true,
          prependPath: false,
        }),
      ),
    ));

  return (req, duplex, head) => {
    const socket = duplex as Socket;
    const start = ctx.now();
    const conn = ctx.tracker.get(socket);
    // From the handshake on, the connection belongs to the upgrade: close() waits for it until it closes.
    if (conn) ctx.tracker.markUpgraded(conn);
    const st: UpgradeState = {start, phase: ctx.phase(), state: 'pending', timedOut: false};
    const target = normalizeRequestTarget(req);
    if (!ctx.isProbe(req)) ctx.state.lastTraffic = start;
    if (target !== 'origin') return rejectUpgrade(socket, st, 400, text(400, 'invalid request target'));
    // The same checks as a plain request (header count, version, Host, Transfer-Encoding); and a handshake is a GET
    // without a body (RFC 6455 §4.1): any Transfer-Encoding on it is refused rather than passed to the app.
    const refusal = checkRequest(req) ?? (req.headers['transfer-encoding'] !== undefined ? REFUSALS.badFraming : undefined);
    if (refusal) {
      metrics.badRequests.inc();
      return rejectUpgrade(socket, st, refusal.status, refusal.body);
    }
    // A new WebSocket after `closing` began would hold the drain until the deadline: the client reconnects elsewhere.
    if (ctx.state.closing) return rejectUpgrade(socket, st, 503, text(503, 'shutting down, reconnect'));
    // Only WebSocket is proxied (http-proxy would silently drop anything else, e.g. an h2c upgrade).
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      return rejectUpgrade(socket, st, 400, text(400, 'only WebSocket upgrades are supported'));
    }
    upgrades.set(socket, st);
    stripRequestHopByHop(req.headers, true);
    (req as UpgradeRequest)[kForwarded] = {
      proto: forwardedProto(req.headers['x-forwarded-proto']),
      port: forwardedPort(req.headers['x-forwarded-port'], socket.localPort),
    };
    // Until the proxy pipes it, the socket buffers (node leaves an upgraded socket paused).
    loadWsProxy().then(
      (proxy) => {
        if (socket.destroyed) {
          // The client left while the module loaded: nothing reached the app.
          metrics.observeRequest(st.phase, STATUS_CLIENT_CLOSED, (ctx.now() - st.start) / 1000);
          return;
        }
        proxy.ws(req, socket, head, WS_OPTIONS, onWsError);
      },
      (err: unknown) => {
        log.error('websocket proxy failed to load', {error: err});
        rejectUpgrade(socket, st, 502, text(502, 'websocket proxy unavailable'));
      },
    );
  };
}
