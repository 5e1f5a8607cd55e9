/**
 * One attempt at the upstream for a plain request, and the retry rule: an idempotent request without a body that
 * meets a reset on a *reused* pooled connection before any response byte is retried once on a fresh connection (the
 * app closed an idle socket just as we picked it, and nothing reached the app: RFC 9110 §9.2.2 allows the retry).
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import type {Dispatcher} from 'undici';
import {upstreamRequestHeaders} from '../forwarded-headers.js';
import {responseHeaders} from '../hop-by-hop.js';
import {hasBody} from '../request-guard.js';
import {classifyUpstreamError, UPSTREAM_FAILURES} from '../upstream-errors.js';
import type {LeaseRequester, QueueRejection, UpstreamLease} from '../upstream-pool.js';
import type {ForwarderContext} from './context.js';
import {text} from './client-errors.js';
import {bodyStarted, sendBlocked, sendResumed} from './client-timeouts.js';
import {fail, sendLocal, type Exchange} from './exchange.js';

/** Methods whose retry cannot change anything the first attempt did (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * One attempt at the upstream, on a pooled connection; the retry (attempt 2) on a fresh one, since after a burst's
 * idle gap every pooled connection may be as stale as the one that just failed.
 */
export function forwardRequest(ctx: ForwarderContext, req: IncomingMessage, res: ServerResponse, ex: Exchange): void {
  const attempt = new Attempt(ctx, req, res, ex);
  ex.attempt = attempt;
  attempt.cancelWait = ctx.pool.lease(attempt, ex.attempts > 1);
}

const QUEUE_BODIES: Readonly<Record<QueueRejection, Buffer>> = {
  queue_full: text(503, 'too many requests waiting for the app, retry'),
  queue_timeout: text(503, 'no connection to the app became free in time, retry'),
};
/** How soon a client may retry after a 503 for a full queue: the queue moves in well under a second when the app does. */
const RETRY_AFTER = ['Retry-After', '1'];

/** The app sent only informational responses (102 Processing...) until the upstream timeout: a 504 like any silence. */
function onInformationalTimeout(attempt: Attempt): void {
  attempt.abortWith(Object.assign(new Error('no final response within the upstream timeout'), {code: 'UND_ERR_HEADERS_TIMEOUT'}));
}

/**
 * undici's handler for one attempt (the raw-header callbacks: the response head arrives as the app wrote it, case,
 * order and repeated fields kept, without a parsed copy). One object per attempt.
 */
class Attempt implements Dispatcher.DispatchHandler, LeaseRequester {
  /** The connection, once the pool handed one out. */
  lease: UpstreamLease | undefined;
  /** Drops the request from the pool's queue while it waits for a connection (a no-op once it has one). */
  cancelWait: (() => void) | undefined;
  /** The client went away (or the deadline) before undici took the request. */
  cancelled = false;
  private abortUpstream: ((err?: Error) => void) | undefined;
  private keepTrailer = false;
  private resumeUpstream: (() => void) | undefined;
  /** When the request went to the app: the upstream timeout bounds the whole wait for a final response from here. */
  private sentAt = 0;
  /** Set at the first informational response only (almost no request gets one). */
  private informationalTimer: NodeJS.Timeout | undefined;
  /** The `drain` listener while the client is not reading (bound once, on the first backpressure). */
  private onDrain: (() => void) | undefined;
  constructor(
    private readonly ctx: ForwarderContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly ex: Exchange,
  ) {}

  /** Aborts the upstream request (the client went away, or the deadline): the app sees its connection close. */
  abort(): void {
    this.cancelled = true;
    this.clearInformationalTimer();
    this.cancelWait?.();
    this.abortUpstream?.();
  }

  /** Aborts the upstream request with a reason that onError classifies. */
  abortWith(err: Error): void {
    this.abortUpstream?.(err);
  }

  onLease(lease: UpstreamLease): void {
    const {ctx, req, res, ex} = this;
    this.lease = lease;
    // The client left while the request waited for a connection (all maxSockets busy): nothing to send.
    if (this.cancelled || ex.closed || res.destroyed) {
      lease.release();
      return;
    }
    const withBody = ex.attempts === 1 && hasBody(req);
    if (withBody) {
      // The client's request stream failing (a reset mid-body) is not the upstream's fault: nothing to answer, unless
      // the upstream's failure was answered already (undici then destroys the body with that failure).
      req.once('error', () => ex.failed || res.destroy());
      bodyStarted(ctx, req, res, ex);
    }
    this.sentAt = ctx.now();
    lease.dispatch(
      {
        path: req.url!,
        method: req.method as Dispatcher.HttpMethod,
        headers: upstreamRequestHeaders({method: req.method, raw: req.rawHeaders, host: req.headers.host, remoteAddress: req.socket.remoteAddress, upstreamAuthority: ctx.upstreamAuthority, listenPort: req.socket.localPort}),
        body: withBody ? req : null,
      },
      this,
    );
  }

  /** No upstream socket in time, or too many waiting: a fast 503 the client can retry, counted and logged. */
  onQueueRejected(reason: QueueRejection): void {
    const {ctx, req, res, ex} = this;
    if (ex.closed || res.destroyed || res.headersSent) return;
    ex.refused = reason;
    ctx.metrics.refusedRequests.labels(reason).inc();
    ctx.throttle.warn('no upstream connection free', {
      reason,
      method: req.method,
      maxSockets: ctx.config.upstreamMaxSockets,
      maxQueue: ctx.config.upstreamMaxQueue,
      queueTimeoutMs: ctx.config.upstreamQueueTimeoutMs,
    });
    sendLocal(res, 503, QUEUE_BODIES[reason], ctx.mustClose() || (!req.complete && hasBody(req)), RETRY_AFTER);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    // Gone while undici was connecting: the request is never written to the app.
    if (this.cancelled) abort();
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    const {ctx, req, res, ex} = this;
    if (status < 200) {
      // An informational response (102 Processing, 103 Early Hints): not relayed, the final one follows. undici
      // restarts its head timer at each, so an app sending them forever would hold the request forever: the
      // upstream timeout bounds the whole wait from the request's dispatch.
      const ms = ctx.config.upstreamTimeoutMs;
      if (ms > 0 && this.informationalTimer === undefined) {
        this.informationalTimer = setTimeout(onInformationalTimeout, Math.max(1, ms - (ctx.now() - this.sentAt)), this);
      }
      return true;
    }
    this.clearInformationalTimer();
    if (ex.failed || ex.timedOut || res.destroyed) {
      this.abort();
      return false;
    }
    if (status > 599) {
      // Three digits, but no status class HTTP defines (RFC 9110 §15): not something to pass on.
      fail(ctx, req, res, ex, UPSTREAM_FAILURES.bad_response, new Error(`upstream status ${status}`));
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
    const close = ctx.mustClose() || (!req.complete && hasBody(req)) || ex.conn?.closing === true || ex.closeAfter;
    if (close && ex.conn) ex.conn.closing = true;
    try {
      // undici decodes the reason phrase as UTF-8; the wire form is bytes (RFC 9112 §4), which node writes as latin1.
      res.writeHead(status, statusText ? Buffer.from(statusText).toString('latin1') : undefined, responseHeaders(headers, this.keepTrailer, close));
    } catch (err) {
      // node refused to relay the head (e.g. an invalid status code): the response is malformed for the client too.
      if (res.headersSent) res.destroy();
      else fail(ctx, req, res, ex, UPSTREAM_FAILURES.bad_response, err);
      this.abort();
      return false;
    }
    ex.responded = true;
    // A write after the client went away must not take the sidecar down.
    res.on('error', ctx.onResponseError);
    this.resumeUpstream = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    const res = this.res;
    if (res.destroyed) return true; // the close handler aborts the upstream
    if (res.write(chunk)) return true;
    // Backpressure: undici stops reading from the app until the client has taken this chunk; the send timeout runs.
    res.once('drain', (this.onDrain ??= this.drained.bind(this)));
    sendBlocked(this.ctx, res, this.ex);
    return false;
  }

  private drained(): void {
    sendResumed(this.ctx, this.res, this.ex);
    this.resumeUpstream!();
  }

  private clearInformationalTimer(): void {
    if (this.informationalTimer === undefined) return;
    clearTimeout(this.informationalTimer);
    this.informationalTimer = undefined;
  }

  onComplete(trailers: Buffer[] | string[] | null): void {
    this.lease?.release();
    this.clearInformationalTimer();
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
    this.clearInformationalTimer();
    const {ctx, req, res, ex} = this;
    // Answered already, the client is gone or timed out (counted at close), an earlier attempt's late error, or the
    // deadline (the client side is being cut; counted there).
    if (ex.failed || ex.timedOut || res.destroyed || ex.attempt !== this || ctx.state.destroying) return;
    const failure = classifyUpstreamError(err, false);
    if (ex.responded) {
      // The upstream died (or went silent) in the middle of the body: the client must not take a truncated body
      // for a complete one, so its connection is cut.
      fail(ctx, req, res, ex, failure.reason === 'timeout' ? UPSTREAM_FAILURES.timeout : UPSTREAM_FAILURES.reset, err);
      return;
    }
    if (ex.attempts === 1 && failure.reason === 'reset' && this.lease?.reused === true && IDEMPOTENT.has(req.method ?? '') && !hasBody(req)) {
      ex.attempts = 2;
      ctx.metrics.upstreamRetries.inc();
      if (ctx.debug) ctx.log.debug('retrying after a reset on a reused upstream connection', {method: req.method, url: req.url, code: (err as NodeJS.ErrnoException).code});
      forwardRequest(ctx, req, res, ex);
      return;
    }
    fail(ctx, req, res, ex, failure, err);
  }
}
