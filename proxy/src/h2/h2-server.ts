/**
 * The HTTP/2 side of the traffic listener (docs/design.md "Data plane", docs/http2.md): h2c with prior knowledge on
 * connections the listener's preface check (preface.ts) hands over. Each stream is one request, forwarded to the app
 * over HTTP/2 (h2-upstream.ts, `LAMEDUCK_UPSTREAM=h2c://`) or HTTP/1.1 (`http://`, not for gRPC).
 *
 * - Bodies are piped both ways: HTTP/2 flow control on each side follows what the other side takes, so a slow
 *   reader makes lameduck stop reading from the writer, never buffer without bound. Trailers pass both ways (gRPC's
 *   status is a trailer); a trailers-only response (one HEADERS frame with END_STREAM, how gRPC answers errors)
 *   stays trailers-only.
 * - A client's RST_STREAM (a cancelled gRPC call, a passed deadline) cancels the upstream stream; an upstream
 *   REFUSED_STREAM is passed on as such (the request was not processed: clients retry it, RFC 9113 §8.7).
 * - Errors lameduck makes for gRPC requests are gRPC statuses (grpc-errors.ts); for other requests 502/503/504 with a
 *   one-line text body, as on HTTP/1.1.
 * - Drain: `drain()` (from `deregistering` on) sends each session the two-step graceful GOAWAY (goaway.ts), so clients
 *   open new connections — through their load balancer, to other pods — while their streams in flight finish. A
 *   session that opens during the drain gets it right after its first stream arrives: it serves what it asked first
 *   (an h2 connection carries a request at once after its preface), as an HTTP/1.1 connection serves one
 *   request with `Connection: close`. `close()` is `closing`: every session not yet told gets the GOAWAY; resolves
 *   when no session remains. `destroy()` is the deadline: every open stream ends with a gRPC UNAVAILABLE status (gRPC)
 *   or a RST_STREAM(CANCEL), counted as cut.
 */
import {constants, createServer, type Http2Server, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream} from 'node:http2';
import {Agent, request as httpRequest, type IncomingMessage} from 'node:http';
import type {Socket} from 'node:net';
import type {Config} from '../config.js';
import {LameduckError} from '../errors.js';
import {createLogThrottle} from '../log-throttle.js';
import type {Logger} from '../log.js';
import type {Metrics} from '../metrics.js';
import {PHASES, type Phase} from '../phase.js';
import {createH2ProbeMatcher} from '../probe-requests.js';
import {classifyUpstreamError, UPSTREAM_FAILURES, type UpstreamFailure} from '../upstream-errors.js';
import {startGracefulGoaway} from './goaway.js';
import {GRPC_FAILURES, GRPC_STATUS_CLASSES, grpcStatusClass, grpcTrailers, grpcTrailersOnly, isGrpcRequest} from './grpc-errors.js';
import {h1RequestHeaders, h1ToH2ResponseHeaders, h2RequestHeaders, h2ResponseHeaders, trailerHeaders} from './h2-headers.js';
import {createH2Upstream, type H2Upstream} from './h2-upstream.js';

/** Concurrent streams a client may open on one session (SETTINGS_MAX_CONCURRENT_STREAMS; gRPC clients use ~100). */
export const H2_MAX_CONCURRENT_STREAMS = 256;
/** Upstream HTTP/2 sessions at most (each multiplexes up to the app's SETTINGS_MAX_CONCURRENT_STREAMS). */
export const H2_UPSTREAM_SESSIONS = 4;
/** The status recorded for a stream that got no complete response (nginx's "client closed request"). */
const STATUS_CLIENT_CLOSED = 499;

const {NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_FLAG_END_STREAM} = constants;

export interface H2ServerDeps {
  config: Config;
  metrics: Metrics;
  log: Logger;
  phase: () => Phase;
  now?: () => number;
  /** The pooled sessions to an h2c app, owned (and destroyed) by the caller; else created here when needed. */
  upstream?: H2Upstream;
  /** Called for every stream that counts as traffic (not a probe or health check): the quiet detector's clock. */
  onTraffic?: (at: number) => void;
}

export type H2Stats = {
  sessions: number;
  streams: number;
  served: number;
  drained: number;
  goaways: number;
  cut: number;
};

export interface H2Server {
  /** A connection whose first bytes were the HTTP/2 preface (put back on the socket). */
  handle(socket: Socket): void;
  /** The drain began: graceful GOAWAY to every session, and to each new one after its first stream. Idempotent. */
  drain(): void;
  /** Closing: GOAWAY to every session not yet told; resolves when no session is left. Idempotent. */
  close(): Promise<void>;
  /** The deadline: ends every open stream (gRPC UNAVAILABLE or RST_STREAM), closes every session; returns streams cut and idle sessions closed. Idempotent. */
  destroy(): {streams: number; sessions: number};
  stats(): H2Stats;
  lastTrafficAt(): number;
}

interface SessionState {
  readonly session: ServerHttp2Session;
  /** Read once per session: `session.socket` is a guarding Proxy, costly to go through per stream. */
  readonly remoteAddress: string | undefined;
  readonly streams: Set<Exchange>;
  goaway: boolean;
}

/** One stream: a request and its response. */
interface Exchange {
  readonly start: number;
  readonly phase: Phase;
  readonly grpc: boolean;
  /** The client accepts trailers (`TE: trailers`). */
  readonly teTrailers: boolean;
  readonly stream: ServerHttp2Stream;
  /** The upstream half, to cancel it when the client goes away. */
  cancel: (() => void) | undefined;
  /** Response headers sent to the client (then failures can only end it with trailers or a reset). */
  responded: boolean;
  status: number;
  /** Trailers to send when the client stream wants them (the app's, or a gRPC status lameduck sets). */
  trailers: OutgoingHttpHeaders | undefined;
  grpcStatus: unknown;
  /** lameduck answered (or reset) it itself: not an app response, not "drained". */
  failed: boolean;
  /** Cut at the deadline. */
  cut: boolean;
  closed: boolean;
}

const TEXT_HEADERS = {'content-type': 'text/plain; charset=utf-8'};
const NO_TRAILERS = Object.freeze({waitForTrailers: false});
const WAIT_TRAILERS = Object.freeze({waitForTrailers: true});

export function createH2Server(deps: H2ServerDeps): H2Server {
  const {config, metrics, phase} = deps;
  const log = deps.log.child({component: 'h2'});
  const now = deps.now ?? (() => performance.now());
  const debug = log.isEnabled('debug');
  const throttle = createLogThrottle({log, now});
  const isProbe = createH2ProbeMatcher(config.quietIgnorePaths);
  const h2Upstream = config.upstreamProtocol === 'h2c';
  // Pre-bound label children: no label objects per stream.
  const streamsByPhase = new Map(PHASES.map((p) => [p, metrics.h2Streams.labels(p)]));
  const grpcByClass = new Map(GRPC_STATUS_CLASSES.map((c) => [c, metrics.grpcResponses.labels(c)]));

  const sessions = new Map<ServerHttp2Session, SessionState>();
  let inFlight = 0;
  let served = 0;
  let drained = 0;
  let goaways = 0;
  let cutStreams = 0;
  let lastTraffic = 0;
  let draining = false;
  let closing = false;
  let destroying = false;
  let cutResult: {streams: number; sessions: number} | undefined;
  let closePromise: Promise<void> | undefined;
  let resolveClose: (() => void) | undefined;

  let upstream: H2Upstream | undefined;
  const h2 = (): H2Upstream => deps.upstream ?? (upstream ??= createH2UpstreamFor(config));
  let agent: Agent | undefined;
  const h1Agent = (): Agent =>
    (agent ??= new Agent({keepAlive: true, maxSockets: config.upstreamMaxSockets, timeout: config.upstreamIdleTimeoutMs, noDelay: true}));

  const server: Http2Server = createServer({
    maxSessionMemory: 10,
    maxHeaderListPairs: 128,
    settings: {
      maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
      maxHeaderListSize: config.maxHeaderSize,
      enablePush: false,
    },
  });

  const checkClosed = (): void => {
    if (resolveClose === undefined || sessions.size > 0) return;
    const resolve = resolveClose;
    resolveClose = undefined;
    upstream?.destroy();
    agent?.destroy();
    resolve();
  };

  const goaway = (st: SessionState): void => {
    if (st.goaway) return;
    st.goaway = true;
    goaways++;
    metrics.goaways.inc();
    if (debug) log.debug('goaway', {streams: st.streams.size});
    startGracefulGoaway(st.session);
  };

  server.on('session', (session: ServerHttp2Session) => {
    const st: SessionState = {session, remoteAddress: session.socket?.remoteAddress, streams: new Set(), goaway: false};
    sessions.set(session, st);
    metrics.openConnections.inc();
    metrics.h2Sessions.inc();
    metrics.connections.inc({protocol: 'h2c'});
    // A session left idle is closed like an idle keep-alive connection (gracefully: a stream may be on its way).
    session.setTimeout(config.keepAliveTimeoutMs, () => {
      if (st.streams.size === 0) goaway(st);
    });
    session.on('error', (error) => {
      if (debug) log.debug('h2 session error', {error});
    });
    session.once('close', () => {
      sessions.delete(session);
      metrics.openConnections.dec();
      metrics.h2Sessions.dec();
      if (closing) checkClosed();
    });
    if (closing) goaway(st);
  });
  server.on('sessionError', () => undefined);
  server.on('stream', onStream);

  function onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const start = now();
    const st = sessions.get(stream.session as ServerHttp2Session);
    const ex: Exchange = {
      start,
      phase: phase(),
      grpc: isGrpcRequest(headers),
      teTrailers: headers.te !== undefined,
      stream,
      cancel: undefined,
      responded: false,
      status: 0,
      trailers: undefined,
      grpcStatus: undefined,
      failed: false,
      cut: false,
      closed: false,
    };
    inFlight++;
    metrics.requestsInFlight.inc();
    st?.streams.add(ex);
    if (!isProbe(headers)) {
      lastTraffic = start;
      deps.onTraffic?.(start);
    }
    stream.on('error', onStreamError);
    stream.once('close', () => finish(ex, st));
    // The HTTP/2 form of `Connection: close`: a session that opens during the drain serves its first stream(s).
    if (st && (draining || closing) && !st.goaway) goaway(st);

    const method = headers[':method'];
    if (method === 'CONNECT') return failLocal(ex, 405, 'CONNECT is not supported', GRPC_FAILURES.other);
    const remote = st?.remoteAddress;
    if (h2Upstream) toH2(ex, headers, remote);
    else if (ex.grpc) failLocal(ex, 502, GRPC_FAILURES.h1Upstream.message, GRPC_FAILURES.h1Upstream);
    else toH1(ex, headers, remote);
  }

  function onStreamError(this: ServerHttp2Stream, error: Error): void {
    if (debug) log.debug('h2 stream error', {error});
  }

  /**
   * Once a plain (non-gRPC) response is under way: a client that stops reading it for LAMEDUCK_SEND_TIMEOUT — HTTP/2
   * flow control then holds the app's stream too — gets its stream reset and the upstream stream cancelled, as an
   * HTTP/1.1 client is cut. Not gRPC: an idle stream (a subscription, a watch) is normal there.
   */
  function armSendTimeout(ex: Exchange): void {
    if (ex.grpc || config.sendTimeoutMs <= 0) return;
    ex.stream.setTimeout(config.sendTimeoutMs, () => {
      if (ex.closed) return;
      metrics.clientTimeouts.inc({kind: 'send'});
      ex.failed = true;
      ex.stream.close(NGHTTP2_CANCEL);
    });
  }

  /**
   * Response options for a response that may end with trailers: gRPC always (its status is a trailer), otherwise
   * when the client said it accepts them (`TE: trailers`, RFC 9110 §10.1.4) or the app declared them (`Trailer`).
   * Other responses end with their last DATA frame: waiting for trailers costs an extra empty DATA frame and an
   * event per response, and undeclared trailers of a client that did not ask for them may be dropped (RFC 9110 §6.5.1).
   */
  function trailerOptions(ex: Exchange, declared: boolean): {waitForTrailers: boolean} {
    if (!ex.grpc && !ex.teTrailers && !declared) return NO_TRAILERS;
    ex.stream.once('wantTrailers', () => {
      try {
        ex.stream.sendTrailers(ex.trailers ?? {});
      } catch {
        ex.stream.close(NGHTTP2_INTERNAL_ERROR);
      }
    });
    return WAIT_TRAILERS;
  }

  /** Answers (or, past the response head, ends) a stream with an error lameduck makes itself. */
  function failLocal(ex: Exchange, status: number, message: string, grpc: {status: (typeof GRPC_FAILURES)[keyof typeof GRPC_FAILURES]['status']; message: string}): void {
    ex.failed = true;
    const {stream} = ex;
    if (stream.destroyed || stream.closed) return;
    if (!ex.responded && !stream.headersSent) {
      ex.responded = true;
      if (ex.grpc) {
        ex.status = 200;
        ex.grpcStatus = grpc.status;
        stream.respond(grpcTrailersOnly(grpc.status, grpc.message), {endStream: true});
      } else {
        ex.status = status;
        stream.respond({':status': status, ...TEXT_HEADERS});
        stream.end(`${status} ${message}\n`);
      }
      return;
    }
    if (ex.grpc && !stream.writableEnded) {
      // Headers went out with waitForTrailers: the status goes in the trailers.
      ex.grpcStatus = grpc.status;
      ex.trailers = grpcTrailers(grpc.status, grpc.message);
      stream.end();
      return;
    }
    // A body under way cannot be ended cleanly: the client must not take a truncated body for a complete one.
    stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  const failUpstream = (ex: Exchange, failure: UpstreamFailure, err: unknown): void => {
    if (ex.failed || ex.closed || destroying) return;
    metrics.upstreamErrors.inc({reason: failure.reason});
    throttle.warn('upstream request failed', {
      protocol: 'h2c',
      reason: failure.reason,
      status: failure.status,
      grpc: ex.grpc,
      error: new LameduckError(failure.code, failure.message, {cause: err}),
    });
    // Past the head a reset or timeout can only end the stream (trailers for gRPC, RST otherwise).
    failLocal(ex, failure.status, failure.message, GRPC_FAILURES[failure.reason]);
  };

  // ---- to an HTTP/2 app ----

  function toH2(ex: Exchange, headers: IncomingHttpHeaders, remote: string | undefined): void {
    const {stream} = ex;
    const endStream = stream.endAfterHeaders;
    // Request trailers are relayed when the client declares them (`Trailer`); gRPC clients send none.
    const requestTrailers = !endStream && headers.trailer !== undefined;
    const opened = h2().open(h2RequestHeaders(headers, remote), {endStream, waitForTrailers: requestTrailers});
    if (!opened.ok) {
      if (opened.reason === 'overloaded') {
        metrics.upstreamErrors.inc({reason: 'other'});
        return failLocal(ex, 503, 'too many requests waiting for the upstream', GRPC_FAILURES.overloaded);
      }
      return failUpstream(ex, UPSTREAM_FAILURES.other, opened.error);
    }
    const up = opened.stream;
    ex.cancel = () => {
      if (!up.closed && !up.destroyed) up.close(NGHTTP2_CANCEL);
    };
    up.on('error', (err: NodeJS.ErrnoException) => onUpError(ex, err, up.rstCode));
    if (requestTrailers) {
      let trailers: OutgoingHttpHeaders | undefined;
      stream.once('trailers', (t: IncomingHttpHeaders) => (trailers = trailerHeaders(t)));
      up.once('wantTrailers', () => {
        try {
          up.sendTrailers(trailers ?? {});
        } catch {
          up.close(NGHTTP2_CANCEL);
        }
      });
    }
    if (!endStream) stream.pipe(up);
    if (!ex.grpc && config.upstreamTimeoutMs > 0) {
      // Non-gRPC: no byte either way for this long is a timeout (504). gRPC calls carry their own deadline
      // (grpc-timeout), which the app enforces; a long-lived stream is not a timeout.
      up.setTimeout(config.upstreamTimeoutMs, () => {
        failUpstream(ex, UPSTREAM_FAILURES.timeout, new Error('upstream stream timeout'));
        up.close(NGHTTP2_CANCEL);
      });
    }
    up.once('response', (h: IncomingHttpHeaders, flags: number) => {
      if (ex.closed || ex.failed || stream.destroyed) return up.close(NGHTTP2_CANCEL);
      ex.responded = true;
      ex.status = Number(h[':status']);
      const out = h2ResponseHeaders(h);
      try {
        if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) {
          // No body and no trailers: a trailers-only gRPC response (the status is in these headers) stays one frame.
          ex.grpcStatus = h['grpc-status'];
          stream.respond(out, {endStream: true});
          return;
        }
        stream.respond(out, trailerOptions(ex, h.trailer !== undefined));
        armSendTimeout(ex);
      } catch (err) {
        ex.responded = false;
        up.close(NGHTTP2_CANCEL);
        return failUpstream(ex, UPSTREAM_FAILURES.bad_response, err);
      }
      up.once('trailers', (t: IncomingHttpHeaders) => {
        ex.grpcStatus = t['grpc-status'];
        ex.trailers = trailerHeaders(t);
      });
      up.pipe(stream);
    });
  }

  function onUpError(ex: Exchange, err: NodeJS.ErrnoException, rstCode: number | undefined): void {
    if (ex.closed || ex.failed || destroying) return;
    const {stream} = ex;
    if (err.code === 'ERR_HTTP2_STREAM_ERROR' && rstCode !== undefined) {
      // The app reset the stream. REFUSED_STREAM means it was not processed: pass it on, the client retries
      // (RFC 9113 §8.7; gRPC clients retry such streams transparently).
      if (rstCode === NGHTTP2_REFUSED_STREAM || ex.responded) {
        ex.failed = true;
        metrics.upstreamErrors.inc({reason: 'reset'});
        if (!stream.closed) stream.close(rstCode === NGHTTP2_NO_ERROR ? NGHTTP2_INTERNAL_ERROR : rstCode);
        return;
      }
      return failUpstream(ex, UPSTREAM_FAILURES.reset, err);
    }
    // A stream that never left (the session failed to connect) carries the session's error as its cause.
    const cause = err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause !== undefined ? err.cause : err;
    failUpstream(ex, classifyUpstreamError(cause, false), err);
  }

  // ---- to an HTTP/1.1 app (requests other than gRPC) ----

  function toH1(ex: Exchange, headers: IncomingHttpHeaders, remote: string | undefined): void {
    const {stream} = ex;
    const method = headers[':method'] ?? 'GET';
    let timedOut = false;
    const req = httpRequest({
      agent: h1Agent(),
      host: config.upstream.hostname.replace(/^\[|\]$/g, ''),
      port: Number(config.upstream.port || 80),
      method,
      path: headers[':path'] ?? '/',
      headers: h1RequestHeaders(headers, remote),
    });
    ex.cancel = () => req.destroy();
    if (config.upstreamTimeoutMs > 0) {
      req.setTimeout(config.upstreamTimeoutMs, () => {
        timedOut = true;
        req.destroy();
      });
    }
    req.on('error', (err) => failUpstream(ex, classifyUpstreamError(err, timedOut), err));
    req.once('response', (res: IncomingMessage) => {
      if (ex.closed || ex.failed) return res.destroy();
      ex.responded = true;
      ex.status = res.statusCode ?? 502;
      const noBody = method === 'HEAD' || ex.status === 204 || ex.status === 304;
      try {
        stream.respond(h1ToH2ResponseHeaders(ex.status, res.rawHeaders), noBody ? {endStream: true} : trailerOptions(ex, res.headers.trailer !== undefined));
        if (!noBody) armSendTimeout(ex);
      } catch (err) {
        ex.responded = false;
        res.destroy();
        return failUpstream(ex, UPSTREAM_FAILURES.bad_response, err);
      }
      if (noBody) {
        res.resume();
        return;
      }
      res.once('end', () => {
        if (res.rawTrailers.length > 0) ex.trailers = h1ToH2ResponseTrailers(res.rawTrailers);
      });
      res.on('error', (err) => failUpstream(ex, UPSTREAM_FAILURES.reset, err));
      // An app that closes in the middle of the body: the client must not see a complete response.
      res.once('aborted', () => failUpstream(ex, UPSTREAM_FAILURES.reset, new Error('upstream aborted the response')));
      res.pipe(stream);
    });
    if (stream.endAfterHeaders) req.end();
    else stream.pipe(req);
  }

  function finish(ex: Exchange, st: SessionState | undefined): void {
    if (ex.closed) return;
    ex.closed = true;
    st?.streams.delete(ex);
    inFlight--;
    metrics.requestsInFlight.dec();
    const {stream} = ex;
    const complete = ex.responded && stream.rstCode === NGHTTP2_NO_ERROR && stream.writableFinished !== false;
    if (!complete || ex.cut) ex.cancel?.();
    let status: number;
    if (ex.cut) status = ex.grpc ? 200 : STATUS_CLIENT_CLOSED;
    else if (complete) {
      status = ex.status;
      served++;
      if (ex.phase !== 'serving' && !ex.failed) {
        drained++;
        metrics.drainedRequests.inc();
      }
    } else if (ex.failed) status = ex.status || 502;
    else {
      status = STATUS_CLIENT_CLOSED;
      if (!destroying) metrics.clientAborts.inc();
    }
    metrics.observeRequest(ex.phase, status, (now() - ex.start) / 1000);
    streamsByPhase.get(ex.phase)!.inc();
    if (ex.grpc) grpcByClass.get(grpcStatusClass(complete || ex.failed || ex.cut ? ex.grpcStatus : undefined))!.inc();
    if (debug) log.debug('stream', {protocol: 'h2c', status, grpcStatus: ex.grpcStatus, ms: Math.round(now() - ex.start), phase: ex.phase});
  }

  function startClose(): Promise<void> {
    if (closePromise) return closePromise;
    closing = true;
    draining = true;
    closePromise = new Promise<void>((resolve) => (resolveClose = resolve));
    for (const st of sessions.values()) goaway(st);
    checkClosed();
    return closePromise;
  }

  return {
    handle(socket) {
      server.emit('connection', socket);
    },
    drain() {
      if (draining) return;
      draining = true;
      for (const st of sessions.values()) goaway(st);
    },
    close: startClose,
    destroy() {
      if (cutResult) return {...cutResult};
      destroying = true;
      void startClose();
      let streams = 0;
      let idle = 0;
      for (const st of [...sessions.values()]) {
        if (st.streams.size === 0) idle++;
        for (const ex of [...st.streams]) {
          streams++;
          ex.cut = true;
          cutDeadline(ex);
        }
        // The status frames go out first; then the session goes whatever the client does.
        const {session} = st;
        if (!session.closed) session.close();
        setTimeout(() => session.destroy(), 100).unref();
      }
      cutStreams = streams;
      cutResult = {streams, sessions: idle};
      upstream?.destroy();
      agent?.destroy();
      throttle.dispose();
      if (streams + idle > 0) log.info('cut HTTP/2 streams at the deadline', {...cutResult});
      return {...cutResult};
    },
    stats: () => ({sessions: sessions.size, streams: inFlight, served, drained, goaways, cut: cutStreams}),
    lastTrafficAt: () => lastTraffic,
  };

  /** The deadline for one open stream: a gRPC status the client can act on, else a reset. */
  function cutDeadline(ex: Exchange): void {
    const {stream} = ex;
    ex.cancel?.();
    if (stream.closed || stream.destroyed) return;
    if (ex.grpc && (!stream.headersSent || !stream.writableEnded)) {
      const grpc = GRPC_FAILURES.deadline;
      ex.grpcStatus = grpc.status;
      if (!stream.headersSent) {
        stream.respond(grpcTrailersOnly(grpc.status, grpc.message), {endStream: true});
      } else {
        ex.trailers = grpcTrailers(grpc.status, grpc.message);
        stream.end();
      }
      return;
    }
    stream.close(NGHTTP2_CANCEL);
  }
}

/** The upstream session pool for an h2c app with lameduck's bounds. */
export function createH2UpstreamFor(config: Config): H2Upstream {
  return createH2Upstream({
    upstream: config.upstream,
    idleTimeoutMs: config.upstreamIdleTimeoutMs,
    maxSessions: Math.min(H2_UPSTREAM_SESSIONS, config.upstreamMaxSockets),
    // Streams past the app's concurrency limits wait inside nghttp2: bounded like HTTP/1.1's queue for a socket.
    maxPending: config.upstreamMaxQueue,
  });
}

/** An HTTP/1.1 app's trailer fields (chunked) as an HTTP/2 trailer block. */
function h1ToH2ResponseTrailers(raw: readonly string[]): OutgoingHttpHeaders {
  const out = h1ToH2ResponseHeaders(0, raw);
  delete out[':status'];
  return out;
}
