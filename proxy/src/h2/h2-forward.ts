/**
 * Forwarding one client stream to the app: over HTTP/2 (`LAMEDUCK_UPSTREAM=h2c://`, h2-upstream.ts) or HTTP/1.1
 * (`http://`, not for gRPC). Bodies are piped both ways (flow control follows the slower side); trailers pass both
 * ways; an upstream REFUSED_STREAM is passed on as such (RFC 9113 §8.7).
 */
import {constants, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream} from 'node:http2';
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

export function toH2(ctx: H2Context, ex: Exchange, headers: IncomingHttpHeaders, remote: string | undefined): void {
  const {config, metrics} = ctx;
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
  const up = opened.stream;
  ex.cancel = () => {
    if (up.closed || up.destroyed) return;
    // close() ends the request body first: node flushes that END_STREAM before the RST_STREAM, and the app would
    // take a cut upload for a complete one. destroy() resets the stream (NO_ERROR) without ending it.
    if (up.writableEnded) up.close(NGHTTP2_CANCEL);
    else up.destroy();
  };
  up.on('error', (err: NodeJS.ErrnoException) => onUpError(ctx, ex, err, up.rstCode));
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
  if (!ex.grpc && config.upstreamTimeoutMs > 0) {
    // Non-gRPC: no byte either way for this long is a timeout (504). gRPC calls carry their own deadline
    // (grpc-timeout), which the app enforces; a long-lived stream is not a timeout.
    up.setTimeout(config.upstreamTimeoutMs, () => {
      failUpstream(ctx, ex, UPSTREAM_FAILURES.timeout, new Error('upstream stream timeout'));
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
      armSendTimeout(ctx, ex);
    } catch (err) {
      ex.responded = false;
      up.close(NGHTTP2_CANCEL);
      return failUpstream(ctx, ex, UPSTREAM_FAILURES.bad_response, err);
    }
    up.once('trailers', (t: IncomingHttpHeaders) => {
      ex.grpcStatus = t['grpc-status'];
      ex.trailers = trailerHeaders(t);
    });
    up.pipe(stream);
  });
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
      if (!noBody) armSendTimeout(ctx, ex);
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
