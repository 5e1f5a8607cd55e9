/**
 * The data plane (docs/design.md "Data plane"): an HTTP/1.1 reverse proxy in front of the app, with the counts and
 * controls the drain needs.
 *
 * - Plain requests: node:http's server takes them, undici's client sends them upstream (upstream-pool.ts; the header
 *   list built in one pass by forwarded-headers.ts); WebSocket upgrades go through http-proxy-3. Why not http-proxy-3
 *   for everything: in the same run it cost ~25–30 µs of CPU per request over a bare node:http forward, and
 *   node:http's client in turn ~1.5× undici's per request (docs/performance.md "The request path").
 * - Streams bodies both ways (pipes with backpressure, never buffered); X-Forwarded-For/-Port/-Proto/-Host; hop-by-hop
 *   headers removed both ways (hop-by-hop.ts). HTTP/2 and h2c are not supported yet.
 * - Upstream through a keep-alive pool (upstream-pool.ts). An idempotent request without a body that meets a reset
 *   on a *reused* pooled connection before any response byte is retried once on a fresh connection: the app closed an idle
 *   socket just as we picked it, and nothing reached the app (RFC 9110 §9.2.2 allows the retry).
 * - Upstream failures: refused 502, timeout 504, reset or malformed response 502, a one-line text body, a metric by
 *   reason and a rate-limited warning. A failure after the response head was sent can only cut the client connection.
 * - A client that goes away aborts its upstream request (destroyed when the response closes unfinished, so the app
 *   sees `close`); counted as a client abort.
 * - Hardened server: header/request/keep-alive timeouts, header size and count limits, strict parser; malformed
 *   requests get 400/408/413/431 (or a closed connection when a response is already under way), never reach the app
 *   complete, and are counted.
 * - Drain: from the trigger (`phase() !== 'serving'`) every response carries `Connection: close`, so keep-alive
 *   clients re-dial through their load balancer, while new connections are still accepted. `close()` is the closing
 *   phase; `destroy()` is the deadline.
 *
 * Requests read `phase()` twice (at arrival for the metrics label, at the response head for `Connection: close`); no
 * logging per request above debug; per request one small state object and one close listener.
 */
import {createServer, STATUS_CODES, type IncomingMessage, type ServerResponse} from 'node:http';
import type {Dispatcher} from 'undici';
import type {AddressInfo, Socket} from 'node:net';
import type {Duplex} from 'node:stream';
import type {ProxyServer, ServerOptions} from 'http-proxy-3';
import type {Config} from './config.js';
import {createConnectionTracker, type TrackedConnection} from './connection-tracker.js';
import {LameduckError} from './errors.js';
import {forwardedFor, upstreamRequestHeaders} from './forwarded-headers.js';
import {responseHeaders, stripRequestHopByHop} from './hop-by-hop.js';
import {listenOn} from './listen.js';
import {createLogThrottle} from './log-throttle.js';
import type {Logger} from './log.js';
import {UPSTREAM_ERROR_REASONS, type Metrics, type UpstreamErrorReason} from './metrics.js';
import type {Phase} from './phase.js';
import {createProbeMatcher} from './probe-requests.js';
import {checkRequest, hasBody, MAX_HEADERS_COUNT} from './request-guard.js';
import {normalizeRequestTarget} from './request-target.js';
import {createUpstreamPool, type UpstreamLease} from './upstream-pool.js';
import {classifyUpstreamError, UPSTREAM_FAILURES, type UpstreamFailure} from './upstream-errors.js';

export interface ForwarderDeps {
  config: Config;
  metrics: Metrics;
  log: Logger;
  /** Current drain phase, read per request: label for metrics; any phase other than 'serving' => every response carries `Connection: close`. */
  phase: () => Phase;
  /** Monotonic ms clock (default performance.now). */
  now?: () => number;
}

/** A type alias rather than an interface so that it is assignable to `Record<string, unknown>` (sidecar.ts's ForwarderLike). */
export type ForwarderStats = {
  openConnections: number;
  idleConnections: number;
  inFlight: number;
  upgraded: number;
  served: number;
  drained: number;
  cut: {requests: number; upgrades: number; connections: number};
};

export interface Forwarder {
  /** Binds config.listen. Empty host => dual-stack '::' (ipv6Only false), falling back to '0.0.0.0' when IPv6 is unavailable. Rejects with LameduckError('LISTEN_FAILED') naming the address. */
  listen(): Promise<AddressInfo>;
  address(): AddressInfo | null;
  stats(): ForwarderStats;
  /** now() of the newest request that counts as traffic; probes (User-Agent starting `kube-probe/`, `ELB-HealthChecker/`, `GoogleHC/`, or path in config.quietIgnorePaths) do not count. 0 if none yet. */
  lastTrafficAt(): number;
  /** The `closing` phase: stop accepting new connections, close idle keep-alive sockets now, close each busy one right after its response ends; resolves when no request is in flight and no upgraded socket is open. Idempotent (same promise). */
  close(): Promise<void>;
  /** The deadline: destroy every remaining socket (in-flight requests, upgraded sockets, any connection), count them in metrics.cut by kind and in stats().cut, and return them. Idempotent. */
  destroy(): {requests: number; upgrades: number; connections: number};
}

/** Methods whose retry cannot change anything the first attempt did (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * The status recorded for a request that got no complete response because the client went away or the deadline cut
 * it (nginx's convention for "client closed request"); it lands in the 4xx class of lameduck_requests_total.
 */
export const STATUS_CLIENT_CLOSED = 499;

const kExchange = Symbol('lameduck.exchange');

/** Per-request state: one small object, also reached from the response (the clientError handler only has the socket). */
interface Exchange {
  readonly start: number;
  /** Phase at arrival: the metrics label, and whether the request counts as drained. */
  readonly phase: Phase;
  readonly conn: TrackedConnection | undefined;
  attempts: number;
  /** The current upstream attempt (undici's handler), to abort it when the client goes away. */
  attempt: {abort(): void} | undefined;
  /** The upstream response head arrived (from then on, failures can only cut the client connection). */
  responded: boolean;
  /** An upstream failure was answered (or cut): do not count the end as a client abort, do not answer twice. */
  failed: UpstreamFailure | undefined;
  /** node's parser rejected the rest of this request (bad chunked body, request timeout): not a client abort. */
  bad: boolean;
  /** The response closed and was accounted for (guards against a second `close`, see abandonResponses). */
  closed: boolean;
}
type TrackedResponse = ServerResponse & {[kExchange]?: Exchange};

/** Per WebSocket handshake. */
interface UpgradeState {
  readonly start: number;
  readonly phase: Phase;
  /** pending: waiting for the upstream; open: 101 relayed, a byte pipe now; answered: upstream sent a plain response. */
  state: 'pending' | 'open' | 'answered' | 'failed';
  timedOut: boolean;
}

const WS_OPTIONS: ServerOptions = Object.freeze({agent: false}); // a fresh connection per WebSocket: no pooled-socket race
const EMPTY = Buffer.alloc(0);

function textResponse(status: number, body: Buffer): Buffer {
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

function text(status: number, message: string): Buffer {
  return Buffer.from(`${status} ${STATUS_CODES[status] ?? 'Error'}: ${message}\n`);
}

/** Raw answers written on a socket without an HTTP response object (parser errors, refused upgrades). */
const CLIENT_ERROR_RESPONSES = {
  400: textResponse(400, text(400, 'malformed request')),
  408: textResponse(408, text(408, 'request not received in time')),
  413: textResponse(413, text(413, 'chunk extensions too large')),
  431: textResponse(431, text(431, 'request header fields too large')),
} as const;

function clientErrorStatus(code: string): keyof typeof CLIENT_ERROR_RESPONSES {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

/** How often node:http checks header and request timeouts (default 30 s would let slowloris sockets live too long). */
function checkingInterval(config: Config): number {
  const limits = [config.headersTimeoutMs, config.requestTimeoutMs].filter((ms) => ms > 0);
  if (limits.length === 0) return 30_000;
  return Math.max(100, Math.min(5_000, Math.floor(Math.min(...limits) / 4)));
}

export function createForwarder(deps: ForwarderDeps): Forwarder {
  const {config, metrics, phase} = deps;
  const log = deps.log.child({component: 'forwarder'});
  const now = deps.now ?? (() => performance.now());
  const debug = log.isEnabled('debug');
  const isProbe = createProbeMatcher(config.quietIgnorePaths);
  const throttle = createLogThrottle({log, now});
  const upstreamErrors = new Map<UpstreamErrorReason, {inc(): void}>(UPSTREAM_ERROR_REASONS.map((r) => [r, metrics.upstreamErrors.labels(r)]));

  let inFlight = 0;
  let served = 0;
  let drained = 0;
  let lastTraffic = 0;
  let closing = false;
  let destroying = false;
  let closePromise: Promise<void> | undefined;
  let resolveClose: (() => void) | undefined;
  let cut: {requests: number; upgrades: number; connections: number} | undefined;

  const pool = createUpstreamPool(config);
  const upgrades = new WeakMap<Socket, UpgradeState>();

  const checkDrained = (): void => {
    if (resolveClose === undefined || inFlight > 0 || tracker.upgradedCount() > 0) return;
    const resolve = resolveClose;
    resolveClose = undefined;
    // Nothing will be forwarded any more: release the pooled upstream sockets rather than wait for their idle timeout.
    pool.destroy();
    resolve();
  };

  /**
   * node 20 never emits `close` for a response still queued behind another on a pipelining connection when that
   * connection dies (node 24 does): those requests would stay in flight forever, keep close() waiting until the
   * deadline, and leave their upstream requests running. Close them as node would have.
   */
  const abandonResponses = (conn: TrackedConnection): void => {
    for (const res of [...conn.responses]) {
      if ((res as TrackedResponse)[kExchange]?.closed !== false) continue;
      res.destroy();
      res.emit('close');
    }
  };

  const tracker = createConnectionTracker({
    metrics,
    onClose: (conn) => {
      // After node's own close handling of the response that owned the socket.
      if (conn.responses.length > 0) setImmediate(abandonResponses, conn);
      if (conn.upgraded && closing) checkDrained();
    },
  });

  // WebSocket upgrades only (plain requests: forwardRequest below). http-proxy-3 (with follow-redirects and debug) is
  // loaded when the first WebSocket arrives: ~2 MB of idle RSS that a pod without WebSockets does not pay (docs/performance.md).
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
  // On the dual-stack `::` listener an IPv4 client's address reads `::ffff:10.1.2.3`; X-Forwarded-For carries the
  // plain IPv4 form that apps and allow-lists expect (as nginx and Envoy write it). Runs after http-proxy's XHeaders.
  const plainForwardedFor = (req: IncomingMessage): void => {
    const remote = req.socket.remoteAddress;
    const xff = req.headers['x-forwarded-for'];
    if (remote === undefined || typeof xff !== 'string' || !xff.endsWith(remote)) return;
    req.headers['x-forwarded-for'] = xff.slice(0, xff.length - remote.length) + forwardedFor(remote);
  };

  const upstreamAuthority = config.upstream.host;

  /** Whether this response must close its connection: any drain phase, or closing. */
  const mustClose = (): boolean => closing || phase() !== 'serving';

  const sendLocal = (res: ServerResponse, status: number, body: Buffer, close: boolean): void => {
    const headers = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(body.length)];
    if (close) headers.push('Connection', 'close');
    res.writeHead(status, headers);
    res.end(body);
  };

  const fail = (req: IncomingMessage, res: ServerResponse, ex: Exchange, failure: UpstreamFailure, err: unknown): void => {
    ex.failed = failure;
    upstreamErrors.get(failure.reason)!.inc();
    throttle.warn('upstream request failed', {
      reason: failure.reason,
      status: failure.status,
      method: req.method,
      error: new LameduckError(failure.code, failure.message, {cause: err}),
    });
    if (!res.headersSent && !res.destroyed) {
      // A request body the upstream did not take is still on the client connection: close it after the answer.
      sendLocal(res, failure.status, failure.body, mustClose() || (!req.complete && hasBody(req)));
    } else {
      res.destroy();
    }
  };

  const onResponseClose = (req: IncomingMessage, res: ServerResponse, ex: Exchange): void => {
    if (ex.closed) return;
    ex.closed = true;
    const conn = ex.conn;
    if (conn) {
      // Usually the first one: responses end in order.
      const i = conn.responses.indexOf(res);
      if (i >= 0) conn.responses.splice(i, 1);
    }
    inFlight--;
    metrics.requestsInFlight.dec();
    // The client went away (or the deadline cut it): the app's request is aborted too, so the app sees `close`.
    if (!res.writableFinished) ex.attempt?.abort();
    let status: number;
    if (res.writableFinished) {
      status = res.statusCode;
      served++;
      // "Drained" means the app served it after the trigger: a local 502/504 or a refused malformed request is not.
      if (ex.phase !== 'serving' && !ex.failed && !ex.bad) {
        drained++;
        metrics.drainedRequests.inc();
      }
    } else if (ex.failed) {
      status = ex.failed.status;
    } else {
      status = STATUS_CLIENT_CLOSED;
      if (!destroying && !ex.bad) metrics.clientAborts.inc();
    }
    metrics.observeRequest(ex.phase, status, (now() - ex.start) / 1000);
    if (debug) log.debug('request', {method: req.method, url: req.url, status, ms: Math.round(now() - ex.start), phase: ex.phase});
    if (closing) {
      // A response that started before `closing` went out keep-alive: close its connection now that it is done.
      if (conn && conn.responses.length === 0 && !conn.upgraded && !conn.socket.destroyed) conn.socket.destroySoon();
      checkDrained();
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const start = now();
    const conn = tracker.get(req.socket as Socket);
    const ex: Exchange = {start, phase: phase(), conn, attempts: 0, attempt: undefined, responded: false, failed: undefined, bad: false, closed: false};
    (res as TrackedResponse)[kExchange] = ex;
    if (conn) conn.responses.push(res);
    inFlight++;
    metrics.requestsInFlight.inc();
    res.once('close', () => onResponseClose(req, res, ex));

    const target = normalizeRequestTarget(req);
    if (!isProbe(req)) lastTraffic = start;
    if (target !== 'origin') {
      const close = mustClose() || hasBody(req);
      // `OPTIONS *` asks about the server as a whole (RFC 9110 §9.3.7): the proxy answers it.
      if (target === 'asterisk') sendLocal(res, 200, EMPTY, close);
      else sendLocal(res, 400, text(400, 'invalid request target'), close);
      return;
    }
    const refusal = checkRequest(req);
    if (refusal) {
      metrics.badRequests.inc();
      sendLocal(res, refusal.status, refusal.body, true);
      return;
    }
    ex.attempts = 1;
    forwardRequest(req, res, ex);
  };

  /**
   * One attempt at the upstream, on a pooled connection; the retry (attempt 2) on a fresh one, since after a burst's
   * idle gap every pooled connection may be as stale as the one that just failed.
   */
  const forwardRequest = (req: IncomingMessage, res: ServerResponse, ex: Exchange): void => {
    const attempt = new Attempt(req, res, ex);
    ex.attempt = attempt;
    attempt.cancelWait = pool.lease((lease) => {
      attempt.lease = lease;
      // The client left while the request waited for a connection (all maxSockets busy): nothing to send.
      if (attempt.cancelled || ex.closed || res.destroyed) {
        lease.release();
        return;
      }
      const withBody = ex.attempts === 1 && hasBody(req);
      // The client's request stream failing (a reset mid-body) is not the upstream's fault: nothing to answer, unless
      // the upstream's failure was answered already (undici then destroys the body with that failure).
      if (withBody) req.once('error', () => ex.failed || res.destroy());
      lease.dispatch(
        {
          path: req.url!,
          method: req.method as Dispatcher.HttpMethod,
          headers: upstreamRequestHeaders({method: req.method, raw: req.rawHeaders, host: req.headers.host, remoteAddress: req.socket.remoteAddress, upstreamAuthority}),
          body: withBody ? req : null,
        },
        attempt,
      );
    }, ex.attempts > 1);
  };

  /**
   * undici's handler for one attempt (the raw-header callbacks: the response head arrives as the app wrote it, case,
   * order and repeated fields kept, without a parsed copy). One object per attempt.
   */
  class Attempt implements Dispatcher.DispatchHandler {
    /** The connection, once the pool handed one out. */
    lease: UpstreamLease | undefined;
    /** Drops the request from the pool's queue while it waits for a connection (a no-op once it has one). */
    cancelWait: (() => void) | undefined;
    /** The client went away (or the deadline) before undici took the request. */
    cancelled = false;
    private abortUpstream: ((err?: Error) => void) | undefined;
    private keepTrailer = false;
    private resumeUpstream: (() => void) | undefined;
    constructor(
      private readonly req: IncomingMessage,
      private readonly res: ServerResponse,
      private readonly ex: Exchange,
    ) {}

    /** Aborts the upstream request (the client went away, or the deadline): the app sees its connection close. */
    abort(): void {
      this.cancelled = true;
      this.cancelWait?.();
      this.abortUpstream?.();
    }

    onConnect(abort: (err?: Error) => void): void {
      this.abortUpstream = abort;
      // Gone while undici was connecting: the request is never written to the app.
      if (this.cancelled) abort();
    }

    onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
      // An informational response (103 Early Hints, ...): not relayed, the final one follows.
      if (status < 200) return true;
      const {req, res, ex} = this;
      if (ex.failed || res.destroyed) {
        this.abort();
        return false;
      }
      const headers = new Array<string>(raw.length);
      let trailer = false;
      let length = false;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!.toString('latin1');
        headers[i] = name;
        headers[i + 1] = raw[i + 1]!.toString('latin1');
        if (name.length === 7 && name.toLowerCase() === 'trailer') trailer = true;
        else if (name.length === 14 && name.toLowerCase() === 'content-length') length = true;
      }
      // A `Trailer` declaration can only be honoured when node will send the response chunked.
      this.keepTrailer = trailer && !length && res.useChunkedEncodingByDefault && req.method !== 'HEAD' && status !== 204 && status !== 304;
      // The app answered before the request body was all sent: undici stops sending it (and destroys the request
      // stream), so the rest of the body on the client connection can never be read: close it after this response.
      const close = mustClose() || (!req.complete && hasBody(req));
      try {
        // undici decodes the reason phrase as UTF-8; the wire form is bytes (RFC 9112 §4), which node writes as latin1.
        res.writeHead(status, statusText ? Buffer.from(statusText).toString('latin1') : undefined, responseHeaders(headers, this.keepTrailer, close));
      } catch (err) {
        // node refused to relay the head (e.g. an invalid status code): the response is malformed for the client too.
        if (res.headersSent) res.destroy();
        else fail(req, res, ex, UPSTREAM_FAILURES.bad_response, err);
        this.abort();
        return false;
      }
      ex.responded = true;
      // A write after the client went away must not take the sidecar down.
      res.on('error', onResponseError);
      this.resumeUpstream = resume;
      return true;
    }

    onData(chunk: Buffer): boolean {
      const res = this.res;
      if (res.destroyed) return true; // the close handler aborts the upstream
      if (res.write(chunk)) return true;
      // Backpressure: undici stops reading from the app until the client has taken this chunk.
      res.once('drain', this.resumeUpstream!);
      return false;
    }

    onComplete(trailers: Buffer[] | string[] | null): void {
      this.lease?.release();
      const res = this.res;
      if (res.destroyed) return;
      if (this.keepTrailer && trailers !== null && trailers.length > 0 && res.chunkedEncoding) {
        const list: [string, string][] = [];
        for (let i = 0; i < trailers.length; i += 2) list.push([trailers[i]!.toString('latin1'), trailers[i + 1]!.toString('latin1')]);
        res.addTrailers(list);
      }
      res.end();
    }

    onError(err: Error): void {
      this.lease?.release();
      const {req, res, ex} = this;
      // Answered already, the client is gone (counted at close), an earlier attempt's late error, or the deadline
      // (the client side is being cut; counted there).
      if (ex.failed || res.destroyed || ex.attempt !== this || destroying) return;
      const failure = classifyUpstreamError(err, false);
      if (ex.responded) {
        // The upstream died (or went silent) in the middle of the body: the client must not take a truncated body
        // for a complete one, so its connection is cut.
        fail(req, res, ex, failure.reason === 'timeout' ? UPSTREAM_FAILURES.timeout : UPSTREAM_FAILURES.reset, err);
        return;
      }
      if (ex.attempts === 1 && failure.reason === 'reset' && this.lease?.reused === true && IDEMPOTENT.has(req.method ?? '') && !hasBody(req)) {
        ex.attempts = 2;
        metrics.upstreamRetries.inc();
        if (debug) log.debug('retrying after a reset on a reused upstream connection', {method: req.method, url: req.url, code: (err as NodeJS.ErrnoException).code});
        forwardRequest(req, res, ex);
        return;
      }
      fail(req, res, ex, failure, err);
    }
  }

  function onResponseError(this: ServerResponse, err: Error): void {
    if (debug) log.debug('response error', {error: err});
    this.destroy();
  }

  // ---- WebSocket (and other) upgrades ----

  const rejectUpgrade = (socket: Socket, st: UpgradeState | undefined, status: number, body: Buffer): void => {
    if (st) metrics.observeRequest(st.phase, status, (now() - st.start) / 1000);
    if (socket.writable) {
      socket.write(textResponse(status, body));
      socket.destroySoon();
    } else socket.destroy();
  };

  const onUpgrade = (req: IncomingMessage, duplex: Duplex, head: Buffer): void => {
    const socket = duplex as Socket;
    const start = now();
    const conn = tracker.get(socket);
    // From the handshake on, the connection belongs to the upgrade: close() waits for it until it closes.
    if (conn) tracker.markUpgraded(conn);
    const st: UpgradeState = {start, phase: phase(), state: 'pending', timedOut: false};
    const target = normalizeRequestTarget(req);
    if (!isProbe(req)) lastTraffic = start;
    if (target !== 'origin') return rejectUpgrade(socket, st, 400, text(400, 'invalid request target'));
    if (req.rawHeaders.length >= MAX_HEADERS_COUNT * 2) {
      metrics.badRequests.inc();
      return rejectUpgrade(socket, st, 431, text(431, 'too many header fields'));
    }
    // A new WebSocket after `closing` began would hold the drain until the deadline: the client reconnects elsewhere.
    if (closing) return rejectUpgrade(socket, st, 503, text(503, 'shutting down, reconnect'));
    // Only WebSocket is proxied (http-proxy would silently drop anything else, e.g. an h2c upgrade).
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      return rejectUpgrade(socket, st, 400, text(400, 'only WebSocket upgrades are supported'));
    }
    upgrades.set(socket, st);
    stripRequestHopByHop(req.headers, true);
    // Until the proxy pipes it, the socket buffers (node leaves an upgraded socket paused).
    loadWsProxy().then(
      (proxy) => {
        if (socket.destroyed) {
          // The client left while the module loaded: nothing reached the app.
          metrics.observeRequest(st.phase, STATUS_CLIENT_CLOSED, (now() - st.start) / 1000);
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

  const setUpWsProxy = (proxy: ProxyServer): ProxyServer => {
    proxy.before('ws', 'stream', plainForwardedFor);
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
        metrics.observeRequest(st.phase, 101, (now() - st.start) / 1000);
      });
      proxyReq.once('response', (proxyRes: IncomingMessage) => {
        st.state = 'answered';
        metrics.observeRequest(st.phase, proxyRes.statusCode ?? 502, (now() - st.start) / 1000);
      });
    });
    // Errors http-proxy emits outside the callbacks: client socket errors during an upgrade. The socket closes itself.
    proxy.on('error', (err) => {
      if (debug) log.debug('proxy socket error', {error: err});
    });
    return proxy;
  };

  const onWsError = (err: Error, _req: IncomingMessage, resOrSocket: ServerResponse | Socket): void => {
    const socket = resOrSocket as Socket;
    const st = upgrades.get(socket);
    if (!st) return;
    if (st.state !== 'pending') {
      // Past the handshake the connection is a byte pipe: never inject an HTTP response into it, just close it
      // (http-proxy does). An upstream reset of an open WebSocket still counts as an upstream error.
      if (st.state === 'open' && !destroying) upstreamErrors.get('reset')!.inc();
      return;
    }
    st.state = 'failed';
    const failure = classifyUpstreamError(err, st.timedOut);
    upstreamErrors.get(failure.reason)!.inc();
    throttle.warn('upstream upgrade failed', {reason: failure.reason, status: failure.status, error: new LameduckError(failure.code, failure.message, {cause: err})});
    metrics.observeRequest(st.phase, failure.status, (now() - st.start) / 1000);
    // http-proxy calls socket.destroySoon() right after this callback: the answer is flushed before the close.
    if (socket.writable) socket.write(textResponse(failure.status, failure.body));
  };

  // ---- the server ----

  const server = createServer({
    maxHeaderSize: config.maxHeaderSize,
    insecureHTTPParser: false,
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: config.headersTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    connectionsCheckingInterval: checkingInterval(config),
    noDelay: true,
    requireHostHeader: true,
  });
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  // node drops fields past this count from req.headers (see request-guard.ts: such requests are refused).
  server.maxHeadersCount = MAX_HEADERS_COUNT;

  server.on('connection', (socket: Socket) => {
    tracker.add(socket);
  });
  server.on('request', onRequest);
  server.on('upgrade', onUpgrade);
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    // CONNECT (a forward-proxy tunnel) is not something a reverse proxy offers.
    const s = socket as Socket;
    if (s.writable) {
      s.write(textResponse(405, text(405, 'CONNECT is not supported')));
      s.destroySoon();
    } else s.destroy();
  });
  server.on('clientError', (err: NodeJS.ErrnoException, duplex: Duplex) => {
    const socket = duplex as Socket;
    const code = err.code ?? '';
    if ((!code.startsWith('HPE_') && code !== 'ERR_HTTP_REQUEST_TIMEOUT') || code === 'HPE_INVALID_EOF_STATE') {
      // A socket error (ECONNRESET, EPIPE...) or the client closing in the middle of a request (the parser's "EOF
      // state" error): the peer is gone, nothing to answer. A request in flight counts as a client abort.
      socket.destroy();
      return;
    }
    metrics.badRequests.inc();
    if (debug) log.debug('malformed request', {code, reason: (err as {reason?: string}).reason});
    const current = (socket as Socket & {_httpMessage?: TrackedResponse | null})._httpMessage ?? undefined;
    const ex = current?.[kExchange];
    if (ex) ex.bad = true;
    const response = CLIENT_ERROR_RESPONSES[clientErrorStatus(code)];
    if (!socket.writable || current?.headersSent) {
      // A response is already under way on this connection: an answer now would corrupt it.
      socket.destroy();
    } else if (current) {
      // The rejected request is in flight (its body failed): answer, and drop it (its upstream request is aborted).
      socket.write(response);
      socket.destroy();
    } else {
      socket.write(response);
      socket.destroySoon();
    }
  });

  const startClose = (): Promise<void> => {
    if (closePromise) return closePromise;
    closing = true;
    closePromise = new Promise<void>((resolve) => (resolveClose = resolve));
    if (server.listening) server.close();
    // Keep-alive sockets between requests (node ≥ 19 does this inside close(); explicit for clarity). It spares
    // connections with a request in progress, and also those that have not sent a byte yet (their header timer runs):
    // nothing is in progress on those either, so they are closed here too. A partly sent head is left to finish (and
    // answered with Connection: close) or to be cut at the deadline.
    server.closeIdleConnections();
    for (const conn of tracker.all()) {
      if (conn.responses.length === 0 && !conn.upgraded && conn.socket.bytesRead === 0) conn.socket.destroy();
    }
    checkDrained();
    return closePromise;
  };

  return {
    async listen() {
      return listenOn(server, config.listen, 'traffic', (error) => log.error('traffic listener error', {error}));
    },
    address() {
      const a = server.address();
      return a !== null && typeof a === 'object' ? a : null;
    },
    stats() {
      const c = tracker.counts();
      return {
        openConnections: c.open,
        idleConnections: c.idle,
        inFlight,
        upgraded: c.upgraded,
        served,
        drained,
        cut: cut ? {...cut} : {requests: 0, upgrades: 0, connections: 0},
      };
    },
    lastTrafficAt: () => lastTraffic,
    close: startClose,
    destroy() {
      if (cut) return {...cut};
      destroying = true;
      void startClose();
      let requests = 0;
      let upgraded = 0;
      let connections = 0;
      for (const conn of [...tracker.all()]) {
        if (conn.upgraded) upgraded++;
        else if (conn.responses.length > 0) requests += conn.responses.length;
        else connections++;
        conn.socket.destroy();
      }
      cut = {requests, upgrades: upgraded, connections};
      if (requests > 0) metrics.cut.inc({kind: 'request'}, requests);
      if (upgraded > 0) metrics.cut.inc({kind: 'upgrade'}, upgraded);
      if (connections > 0) metrics.cut.inc({kind: 'connection'}, connections);
      pool.destroy();
      throttle.dispose();
      if (requests + upgraded + connections > 0) log.info('cut connections at the deadline', {...cut});
      return {...cut};
    },
  };
}
