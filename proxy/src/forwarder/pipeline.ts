/**
 * Pipelined requests (several requests sent on a connection before the first response): RFC 9112 §9.3.2 lets a
 * server process them in parallel only while they all have safe methods, and §9.6 says that after a response with
 * `Connection: close` it must not process any later request. node:http parses and emits every pipelined request at
 * once (and discards the responses after a close), so the order is kept here:
 *
 * - a request behind one whose response closes the connection (drain, the client's own `Connection: close`, an
 *   unread request body) is never forwarded: the client sends it again on a new connection;
 * - an unsafe request (POST, PUT, ...) waits until every request before it has ended, and nothing after it starts
 *   before it ends: the app never sees two of them at once, nor one that the client will retry;
 * - at most LAMEDUCK_MAX_PIPELINED requests in flight per connection: past that, the connection is closed after the
 *   answered ones (each held request is a small object, but a client could otherwise queue them without end).
 *
 * Nothing here runs for a request alone on its connection (almost all of them): the caller checks that first.
 */
import type {ServerResponse} from 'node:http';
import type {TrackedConnection} from '../connection-tracker.js';
import type {RefusalReason} from '../metrics.js';
import {forwardRequest} from './attempt.js';
import type {ForwarderContext} from './context.js';
import {kExchange, type Exchange, type TrackedResponse} from './exchange.js';

/** RFC 9110 §9.2.1. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

const exchangeOf = (res: ServerResponse): Exchange => (res as TrackedResponse)[kExchange]!;
const isUnsafe = (ex: Exchange): boolean => !SAFE.has(ex.req.method ?? '');
/** Refused here, never answered (a 503 for a full upstream queue is an answer: the connection goes on). */
const unanswered = (ex: Exchange): boolean => ex.refused === 'after_close' || ex.refused === 'pipeline_limit';

/** Some response among the first `n` on `conn` closes (or will close) the connection. */
function closesBefore(ctx: ForwarderContext, conn: TrackedConnection, n: number): boolean {
  if (conn.closing) return true;
  const drain = ctx.mustClose();
  for (let i = 0; i < n; i++) {
    const res = conn.responses[i]!;
    if (!res.shouldKeepAlive || (drain && !res.headersSent) || unanswered(exchangeOf(res))) return true;
  }
  return false;
}

function refuse(ctx: ForwarderContext, conn: TrackedConnection, ex: Exchange, reason: RefusalReason): void {
  ex.held = false;
  ex.refused = reason;
  // No request after this one will be forwarded: stop reading them (each would be one more object held until the
  // connection closes). The ones ahead still go out; continuePipeline closes the connection after the last of them.
  conn.socket.pause();
  ctx.metrics.refusedRequests.labels(reason).inc();
  ctx.throttle.warn('pipelined request not forwarded', {reason, method: ex.req.method, inFlightOnConnection: conn.responses.length - 1});
}

/**
 * For a request that arrived while others are in flight on its connection (it is the last in `conn.responses`):
 * true when it may be forwarded now; otherwise it was held or refused.
 */
export function admitPipelined(ctx: ForwarderContext, conn: TrackedConnection, ex: Exchange): boolean {
  const ahead = conn.responses.length - 1;
  if (ahead >= ctx.config.maxPipelined) {
    refuse(ctx, conn, ex, 'pipeline_limit');
    return false;
  }
  if (closesBefore(ctx, conn, ahead)) {
    refuse(ctx, conn, ex, 'after_close');
    return false;
  }
  let wait = isUnsafe(ex);
  for (let i = 0; i < ahead && !wait; i++) {
    const before = exchangeOf(conn.responses[i]!);
    wait = before.held || isUnsafe(before);
  }
  ex.held = wait;
  return !wait;
}

/** After a response on `conn` ended: forward the held requests that may go now, or refuse them behind a close. */
export function continuePipeline(ctx: ForwarderContext, conn: TrackedConnection): void {
  const responses = conn.responses;
  let unsafeAhead = false;
  for (let i = 0; i < responses.length; i++) {
    const res = responses[i]!;
    const ex = exchangeOf(res);
    if (unanswered(ex)) {
      // Everything before it is answered: close the connection (a response carrying `close` has done so already).
      if (i === 0) conn.socket.destroySoon();
      return;
    }
    if (ex.held) {
      if (closesBefore(ctx, conn, i)) {
        for (let j = i; j < responses.length; j++) {
          const later = exchangeOf(responses[j]!);
          if (later.held) refuse(ctx, conn, later, 'after_close');
        }
        if (i === 0) conn.socket.destroySoon();
        return;
      }
      if (i > 0 && (unsafeAhead || isUnsafe(ex))) return;
      ex.held = false;
      forwardRequest(ctx, ex.req, res, ex);
    }
    if (isUnsafe(ex)) unsafeAhead = true;
  }
}
