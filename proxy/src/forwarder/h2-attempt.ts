/**
 * An HTTP/1.1 request to an h2c app (`LAMEDUCK_UPSTREAM=h2c://`): one stream on the pooled upstream sessions
 * (../h2/h2-upstream.ts), the body piped both ways with flow control. Accounting, failures and `Connection: close`
 * are the HTTP/1.1 path's (exchange.ts); no retry: a stream the app refused (REFUSED_STREAM, not processed) gets
 * 502 like a reset, since the HTTP/1.1 client's body may already be consumed.
 */
import {constants, type IncomingHttpHeaders} from 'node:http2';
import type {IncomingMessage, ServerResponse} from 'node:http';
import {h1ToH2RequestHeaders} from '../h2/h2-headers.js';
import type {H2Upstream} from '../h2/h2-upstream.js';
import {stripRequestHopByHop} from '../hop-by-hop.js';
import {hasBody} from '../request-guard.js';
import {classifyUpstreamError, UPSTREAM_FAILURES} from '../upstream-errors.js';
import type {ForwarderContext} from './context.js';
import {fail, type Exchange} from './exchange.js';

export function forwardToH2(ctx: ForwarderContext, upstream: H2Upstream, req: IncomingMessage, res: ServerResponse, ex: Exchange): void {
  stripRequestHopByHop(req.headers, false);
  const withBody = hasBody(req);
  const opened = upstream.open(h1ToH2RequestHeaders(req.method!, req.url!, req.headers, ctx.upstreamAuthority, req.socket.remoteAddress), {
    endStream: !withBody,
    waitForTrailers: false,
  });
  if (!opened.ok) return fail(ctx, req, res, ex, UPSTREAM_FAILURES.other, opened.error ?? new Error(`upstream ${opened.reason}`));
  const up = opened.stream;
  ex.attempt = {
    abort: () => {
      if (!up.closed && !up.destroyed) up.close(constants.NGHTTP2_CANCEL);
    },
  };
  const onError = (err: NodeJS.ErrnoException): void => {
    if (ex.failed || ex.closed || res.destroyed || ctx.state.destroying) return;
    const cause = err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause !== undefined ? err.cause : err;
    const failure = err.code === 'ERR_HTTP2_STREAM_ERROR' ? UPSTREAM_FAILURES.reset : classifyUpstreamError(cause, false);
    fail(ctx, req, res, ex, ex.responded && failure.reason !== 'timeout' ? UPSTREAM_FAILURES.reset : failure, err);
  };
  up.on('error', onError);
  if (ctx.config.upstreamTimeoutMs > 0) {
    up.setTimeout(ctx.config.upstreamTimeoutMs, () => {
      if (!ex.failed && !ex.closed) fail(ctx, req, res, ex, UPSTREAM_FAILURES.timeout, new Error('upstream stream timeout'));
      up.close(constants.NGHTTP2_CANCEL);
    });
  }
  if (withBody) {
    req.once('error', () => ex.failed || res.destroy());
    req.pipe(up);
  }
  up.once('response', (h: IncomingHttpHeaders) => {
    if (ex.failed || ex.closed || res.destroyed) return ex.attempt?.abort();
    const list: string[] = [];
    for (const name in h) {
      if (name[0] === ':') continue;
      const value = h[name];
      if (Array.isArray(value)) for (const v of value) list.push(name, v);
      else if (value !== undefined) list.push(name, String(value));
    }
    if (ctx.mustClose() || (!req.complete && withBody)) list.push('connection', 'close');
    try {
      res.writeHead(Number(h[':status']), list);
    } catch (err) {
      ex.attempt?.abort();
      return fail(ctx, req, res, ex, UPSTREAM_FAILURES.bad_response, err);
    }
    ex.responded = true;
    res.on('error', ctx.onResponseError);
    // Trailers (before 'end'): sent when node frames the response chunked (no Content-Length from the app).
    up.once('trailers', (t: IncomingHttpHeaders) => {
      if (res.chunkedEncoding) res.addTrailers(t as Record<string, string>);
    });
    up.pipe(res);
  });
}
