/**
 * Forwarding one client stream to the app: over HTTP/2 (`LAMEDUCK_UPSTREAM=h2c://`, h2-upstream.ts) or HTTP/1.1
 * (`http://`, not for gRPC). Bodies are piped both ways (flow control follows the slower side); trailers pass both
 * ways; an upstream REFUSED_STREAM is passed on as such (RFC 9113 §8.7).
 */
import {constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream} from 'node:http2';
import type {Writable} from 'node:stream';
import {request as httpRequest, type IncomingMessage} from 'node:http';
import {classifyUpstreamError, UPSTREAM_FAILURES} from '../upstream-errors.js';
import {GRPC_FAILURES} from './grpc-errors.js';
import type {Exchange, H2Context} from './h2-context.js';
import {h1RequestHeaders, h1ToH2ResponseHeaders, h2RequestHeaders, h2ResponseHeaders, trailerHeaders} from './h2-headers.js';
import {armSendTimeout} from './h2-client-timeouts.js';
import {failLocal, failUpstream, trailerOptions} from './h2-respond.js';

const {NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_FLAG_END_STREAM} = constants;

// ---- to an HTTP/2 app ----

const kExchange = Symbol('lameduck.h2Exchange');
/** The app's stream, carrying its exchange: the listeners are shared by every stream (no closures per stream). */
type UpStream = ClientHttp2Stream & {[kExchange]: Exchange};

export function toH2(ctx: H2Context, ex: Exchange, headers: IncomingHttpHeaders, remote: string | undefined): void {
  const {config, metrics, forwardHandlers: on} = ctx;
  const {stream} = ex;
  const endStream = stream.endAfterHeaders;
  // Request trailers are relayed when the client declares them (`Trailer`); gRPC clients send none.
  const requestTrailers = !endStream && headers.trailer !== undefined;
  const opened = ctx.h2().open(h2RequestHeaders(headers, remote), {endStream, waitForTrailers: requestTrailers});
  if (!opened.ok) {
    if (opened.reason === 'overloaded') {
      metrics.upstreamErrors.inc({reason: 'other'});
      return failLocal(ex, 503, 'too many requests waiting for the upstream', GRPC_FAILURES.overloaded);
    }
    return failUpstream(ctx, ex, UPSTREAM_FAILURES.other, opened.error);
  }
  const up = opened.stream as UpStream;
  up[kExchange] = ex;
  ex.upstream = up;
  ex.cancel = cancelUpstream;
  up.on('error', on.error);
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
  if (!endStream) pipeBody(stream, up);
  // Non-gRPC: no byte either way for this long is a timeout (504). gRPC calls carry their own deadline
  // (grpc-timeout), which the app enforces; a long-lived stream is not a timeout.
  if (!ex.grpc && config.upstreamTimeoutMs > 0) {
    ex.lateUpstream = up;
    ctx.late.wake();
  }
  // 'on', not 'once': each fires at most once per stream, and once() costs a wrapper and a removal.
  up.on('response', on.response);
}

/** `ex.cancel` of a stream to an HTTP/2 app: shared by every exchange (no closure per stream). */
function cancelUpstream(this: Exchange): void {
  const up = this.upstream;
  if (up === undefined || up.closed || up.destroyed) return;
  // close() ends the request body first: node flushes that END_STREAM before the RST_STREAM, and the app would
  // take a cut upload for a complete one. destroy() resets the stream (NO_ERROR) without ending it.
  if (up.writableEnded) up.close(NGHTTP2_CANCEL);
  else up.destroy();
}

/** The listeners of every stream to the app and the late timer arming, bound to the server's context once. */
export interface ForwardHandlers {
  readonly error: (this: ClientHttp2Stream, err: NodeJS.ErrnoException) => void;
  readonly response: (this: ClientHttp2Stream, h: IncomingHttpHeaders, flags: number) => void;
  readonly timeout: (this: ClientHttp2Stream) => void;
}

export function createForwardHandlers(getCtx: () => H2Context): ForwardHandlers {
  return {
    error(err) {
      onUpError(getCtx(), (this as UpStream)[kExchange], err, this.rstCode);
    },
    response(h, flags) {
      onUpResponse(getCtx(), this as UpStream, h, flags);
    },
    timeout() {
      const ex = (this as UpStream)[kExchange];
      failUpstream(getCtx(), ex, UPSTREAM_FAILURES.timeout, new Error('upstream stream timeout'));
      this.close(NGHTTP2_CANCEL);
    },
  };
}

/**
 * The late arming (late-timers.ts): the idle timeouts of the streams in flight that started before `olderThan`;
 * returns whether a younger one still waits.
 */
export function armLate(ctx: H2Context, olderThan: number): boolean {
  let waiting = false;
  for (const st of ctx.sessions.values()) {
    for (const ex of st.streams) {
      if (ex.lateUpstream === undefined && !ex.lateSend) continue;
      if (ex.start > olderThan) {
        waiting = true;
        continue;
      }
      const up = ex.lateUpstream;
      ex.lateUpstream = undefined;
      if (up !== undefined && !up.closed && !up.destroyed) {
        up.on('timeout', ctx.forwardHandlers.timeout);
        up.setTimeout(ctx.config.upstreamTimeoutMs);
      }
      if (ex.lateSend) {
        ex.lateSend = false;
        if (!ex.closed && !ex.failed) armSendTimeout(ctx, ex);
      }
    }
  }
  return waiting;
}

function onUpResponse(ctx: H2Context, up: UpStream, h: IncomingHttpHeaders, flags: number): void {
  const ex = up[kExchange];
  const {stream} = ex;
  if (ex.closed || ex.failed || stream.destroyed) return up.close(NGHTTP2_CANCEL);
  ex.responded = true;
  ex.status = Number(h[':status']);
  const grpcStatus = h['grpc-status'];
  const declaresTrailers = h.trailer !== undefined;
  const out = h2ResponseHeaders(h);
  try {
    if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) {
      // No body and no trailers: a trailers-only gRPC response (the status is in these headers) stays one frame.
      ex.grpcStatus = grpcStatus;
      stream.respond(out, {endStream: true});
      return;
    }
    const options = trailerOptions(ex, declaresTrailers);
    stream.respond(out, options);
    if (!ex.grpc) {
      ex.lateSend = true;
      ctx.late.wake();
    }
    // The app's trailers are only kept when they will be sent (trailerOptions says when).
    if (options.waitForTrailers) up.on('trailers', onUpTrailers);
  } catch (err) {
    ex.responded = false;
    up.close(NGHTTP2_CANCEL);
    return failUpstream(ctx, ex, UPSTREAM_FAILURES.bad_response, err);
  }
  relay(up);
}

function onUpTrailers(this: UpStream, t: IncomingHttpHeaders): void {
  const ex = this[kExchange];
  ex.grpcStatus = t['grpc-status'];
  ex.trailers = trailerHeaders(t);
}

/**
 * The response body, app to client, as `up.pipe(stream)` would relay it but with shared listeners: each chunk is
 * written on at once; when the client's stream buffers past its high-water mark (its flow-control window is
 * closed), the app's stream pauses — its own window then closes on the app — until the client takes it.
 */
function relay(up: UpStream): void {
  up.on('data', onUpData);
  up.on('end', onUpEnd);
}

function onUpData(this: UpStream, chunk: Buffer): void {
  const {stream} = this[kExchange];
  if (stream.destroyed) return;
  if (!stream.write(chunk)) {
    this.pause();
    stream.once('drain', () => this.resume());
  }
}

function onUpEnd(this: UpStream): void {
  const {stream} = this[kExchange];
  if (!stream.destroyed && !stream.writableEnded) stream.end();
}

function onUpError(ctx: H2Context, ex: Exchange, err: NodeJS.ErrnoException, rstCode: number | undefined): void {
  if (ex.closed || ex.failed || ctx.state.destroying) return;
  const {stream} = ex;
  if (err.code === 'ERR_HTTP2_STREAM_ERROR' && rstCode !== undefined) {
    // The app reset the stream. REFUSED_STREAM means it was not processed: pass it on, the client retries
    // (RFC 9113 §8.7; gRPC clients retry such streams transparently).
    if (rstCode === NGHTTP2_REFUSED_STREAM || ex.responded) {
      ex.failed = true;
      ctx.metrics.upstreamErrors.inc({reason: 'reset'});
      if (!stream.closed) stream.close(rstCode === NGHTTP2_NO_ERROR ? NGHTTP2_INTERNAL_ERROR : rstCode);
      return;
    }
    return failUpstream(ctx, ex, UPSTREAM_FAILURES.reset, err);
  }
  // A stream that never left (the session failed to connect) carries the session's error as its cause.
  const cause = err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause !== undefined ? err.cause : err;
  failUpstream(ctx, ex, classifyUpstreamError(cause, false), err);
}

// ---- to an HTTP/1.1 app (requests other than gRPC) ----

export function toH1(ctx: H2Context, ex: Exchange, headers: IncomingHttpHeaders, remote: string | undefined): void {
  const {config} = ctx;
  const {stream} = ex;
  const method = headers[':method'] ?? 'GET';
  let timedOut = false;
  const req = httpRequest({
    agent: ctx.h1Agent(),
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
  req.on('error', (err) => failUpstream(ctx, ex, classifyUpstreamError(err, timedOut), err));
  req.once('response', (res: IncomingMessage) => {
    if (ex.closed || ex.failed) return res.destroy();
    ex.responded = true;
    ex.status = res.statusCode ?? 502;
    const noBody = method === 'HEAD' || ex.status === 204 || ex.status === 304;
    try {
      stream.respond(h1ToH2ResponseHeaders(ex.status, res.rawHeaders), noBody ? {endStream: true} : trailerOptions(ex, res.headers.trailer !== undefined));
      if (!noBody) {
        ex.lateSend = true;
        ctx.late.wake();
      }
    } catch (err) {
      ex.responded = false;
      res.destroy();
      return failUpstream(ctx, ex, UPSTREAM_FAILURES.bad_response, err);
    }
    if (noBody) {
      res.resume();
      return;
    }
    res.once('end', () => {
      if (res.rawTrailers.length > 0) ex.trailers = h1ToH2ResponseTrailers(res.rawTrailers);
    });
    res.on('error', (err) => failUpstream(ctx, ex, UPSTREAM_FAILURES.reset, err));
    // An app that closes in the middle of the body: the client must not see a complete response.
    res.once('aborted', () => failUpstream(ctx, ex, UPSTREAM_FAILURES.reset, new Error('upstream aborted the response')));
    res.pipe(stream);
  });
  if (stream.endAfterHeaders) req.end();
  else pipeBody(stream, req);
}

/**
 * The client's request body to the app, ended only when the client ended it: node ends the readable side of a reset
 * stream too, and a plain pipe would then send the app END_STREAM (or the last chunk): a cut upload taken for a
 * complete one.
 */
function pipeBody(stream: ServerHttp2Stream, dest: Writable): void {
  stream.pipe(dest, {end: false});
  stream.once('end', () => {
    if (stream.rstCode === NGHTTP2_NO_ERROR && !dest.writableEnded) dest.end();
  });
}

/** An HTTP/1.1 app's trailer fields (chunked) as an HTTP/2 trailer block. */
function h1ToH2ResponseTrailers(raw: readonly string[]): OutgoingHttpHeaders {
  const out = h1ToH2ResponseHeaders(0, raw);
  delete out[':status'];
  return out;
}
