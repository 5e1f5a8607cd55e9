/**
 * One request through the forwarder and its accounting: the per-request state object, the counts the drain reads
 * (in flight, served, drained), the metrics by phase at arrival and status, and the end of every request (served,
 * failed upstream, refused, or abandoned by its client).
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import type {TrackedConnection} from '../connection-tracker.js';
import {LameduckError} from '../errors.js';
import type {ClientTimeoutKind, RefusalReason} from '../metrics.js';
import type {Phase} from '../phase.js';
import {hasBody} from '../request-guard.js';
import type {UpstreamFailure} from '../upstream-errors.js';
import type {ForwarderContext} from './context.js';
import {STATUS_CLIENT_CLOSED} from './types.js';

export const kExchange = Symbol('lameduck.exchange');

/** Per-request state: one small object, also reached from the response (the clientError handler only has the socket). */
export interface Exchange {
  readonly req: IncomingMessage;
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
  /** Pipelined behind requests it must not run beside (pipeline.ts): forwarded when they are done. */
  held: boolean;
  /** Not forwarded: no upstream socket in time (answered 503), or pipelined behind a close (never answered). */
  refused: RefusalReason | undefined;
  /** The client stopped reading its response (send) or sending its body (body): cut, counted (client-timeouts.ts). */
  timedOut: ClientTimeoutKind | undefined;
  /** The response waits for the client to read it: the send timeout runs. */
  sendBlocked: boolean;
  /** The request body is being read and forwarded: the body timeout runs. */
  bodyPending: boolean;
  /**
   * Bytes after this complete request could not be parsed: its response closes the connection (the malformed bytes
   * get no answer of their own, which would take this response's place).
   */
  closeAfter: boolean;
}
export type TrackedResponse = ServerResponse & {[kExchange]?: Exchange};

/** Starts the accounting of a request that has just arrived: in flight until its response closes. */
export function openExchange(ctx: ForwarderContext, req: IncomingMessage, res: ServerResponse, start: number): Exchange {
  const conn = ctx.tracker.get(req.socket);
  const ex: Exchange = {
    req,
    start,
    phase: ctx.phase(),
    conn,
    attempts: 0,
    attempt: undefined,
    responded: false,
    failed: undefined,
    bad: false,
    closed: false,
    closeAfter: false,
    held: false,
    refused: undefined,
    timedOut: undefined,
    sendBlocked: false,
    bodyPending: false,
  };
  (res as TrackedResponse)[kExchange] = ex;
  if (conn) conn.responses.push(res);
  ctx.state.inFlight++;
  ctx.metrics.requestsInFlight.inc();
  res.once('close', () => onResponseClose(ctx, req, res, ex));
  return ex;
}

/** A response the proxy writes itself (a refusal, an upstream failure): one line of text. */
export function sendLocal(res: ServerResponse, status: number, body: Buffer, close: boolean, extra?: readonly string[]): void {
  const headers = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(body.length)];
  if (extra !== undefined) headers.push(...extra);
  const ex = (res as TrackedResponse)[kExchange];
  if (close || ex?.closeAfter === true) {
    headers.push('Connection', 'close');
    if (ex?.conn) ex.conn.closing = true;
  }
  res.writeHead(status, headers);
  res.end(body);
}

/** An upstream failure: counted by reason, logged (rate-limited), answered, or the client connection cut once a response is under way. */
export function fail(ctx: ForwarderContext, req: IncomingMessage, res: ServerResponse, ex: Exchange, failure: UpstreamFailure, err: unknown): void {
  ex.failed = failure;
  ctx.upstreamErrors.get(failure.reason)!.inc();
  ctx.throttle.warn('upstream request failed', {
    reason: failure.reason,
    status: failure.status,
    method: req.method,
    error: new LameduckError(failure.code, failure.message, {cause: err}),
  });
  if (!res.headersSent && !res.destroyed) {
    // A request body the upstream did not take is still on the client connection: close it after the answer.
    sendLocal(res, failure.status, failure.body, ctx.mustClose() || (!req.complete && hasBody(req)));
  } else {
    res.destroy();
  }
}

function onResponseClose(ctx: ForwarderContext, req: IncomingMessage, res: ServerResponse, ex: Exchange): void {
  if (ex.closed) return;
  ex.closed = true;
  const {metrics, state} = ctx;
  const conn = ex.conn;
  if (conn) {
    // Usually the first one: responses end in order.
    const i = conn.responses.indexOf(res);
    if (i >= 0) conn.responses.splice(i, 1);
  }
  state.inFlight--;
  metrics.requestsInFlight.dec();
  // The client went away (or the deadline cut it): the app's request is aborted too, so the app sees `close`.
  if (!res.writableFinished) ex.attempt?.abort();
  let status: number;
  if (res.writableFinished) {
    status = res.statusCode;
    state.served++;
    // "Drained" means the app served it after the trigger: a local 502/503/504 or a refused request is not.
    if (ex.phase !== 'serving' && !ex.failed && !ex.bad && !ex.refused && !ex.timedOut) {
      state.drained++;
      metrics.drainedRequests.inc();
    }
  } else if (ex.failed) {
    status = ex.failed.status;
  } else if (ex.refused) {
    // Pipelined behind a response that closed the connection: never processed, the client sends it again.
    status = 503;
  } else if (ex.timedOut) {
    status = ex.timedOut === 'body' ? 408 : STATUS_CLIENT_CLOSED;
  } else {
    status = STATUS_CLIENT_CLOSED;
    if (!state.destroying && !ex.bad) metrics.clientAborts.inc();
  }
  metrics.observeRequest(ex.phase, status, (ctx.now() - ex.start) / 1000);
  if (ctx.debug) ctx.log.debug('request', {method: req.method, url: req.url, status, ms: Math.round(ctx.now() - ex.start), phase: ex.phase});
  // Requests pipelined behind this one may go now (or, behind a close, never).
  if (conn && conn.responses.length > 0 && !conn.socket.destroyed) ctx.continuePipeline(conn);
  if (state.closing) {
    // A response that started before `closing` went out keep-alive: close its connection now that it is done.
    if (conn && conn.responses.length === 0 && !conn.upgraded && !conn.socket.destroyed) conn.socket.destroySoon();
    ctx.checkDrained();
  }
}

/**
 * node 20 never emits `close` for a response still queued behind another on a pipelining connection when that
 * connection dies (node 24 does): those requests would stay in flight forever, keep close() waiting until the
 * deadline, and leave their upstream requests running. Close them as node would have.
 */
export function abandonResponses(conn: TrackedConnection): void {
  for (const res of [...conn.responses]) {
    if ((res as TrackedResponse)[kExchange]?.closed !== false) continue;
    res.destroy();
    res.emit('close');
  }
}
