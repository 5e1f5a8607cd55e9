/**
 * Clients that hold resources without moving: a response the client does not read (the upstream socket stays leased
 * while undici is paused, and undici's body timeout does not run while paused), and a request body the client sends
 * too slowly (one byte a minute would hold an upstream socket for the whole request timeout).
 *
 * Both use the client socket's own idle timer (`socket.setTimeout`: one timer per socket, refreshed by node on every
 * read and write, and it does not fire while a blocked write is still draining: nginx's `send_timeout` and
 * `client_body_timeout` semantics, "between two successive operations"). It is armed only in those two states, never
 * while the request simply waits for the app (that is the upstream timeout's job), and node's own keep-alive timeout
 * (the same timer, set between requests) is left alone. On expiry: counted in lameduck_client_timeouts_total, a
 * warning (rate-limited), the upstream request aborted, the client connection closed (a 408 first when a body timed
 * out and no response has started).
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import type {Socket} from 'node:net';
import {CLIENT_TIMEOUT_KINDS, type ClientTimeoutKind} from '../metrics.js';
import {text} from './client-errors.js';
import type {ForwarderContext} from './context.js';
import {kExchange, sendLocal, type Exchange, type TrackedResponse} from './exchange.js';

const BODY_TIMEOUT = text(408, 'request body not received in time');
const kBodyExchange = Symbol('lameduck.bodyExchange');
type BodyRequest = IncomingMessage & {[kBodyExchange]?: {ctx: ForwarderContext; res: ServerResponse; ex: Exchange}};

/** The response could not take a chunk: the client is not reading. */
export function sendBlocked(ctx: ForwarderContext, res: ServerResponse, ex: Exchange): void {
  const ms = ctx.config.sendTimeoutMs;
  if (ms <= 0 || ex.sendBlocked) return;
  ex.sendBlocked = true;
  // A pipelined response not yet at the head of its connection has no socket of its own: the connection's.
  (res.socket ?? ex.req.socket).setTimeout(ms);
}

/** The blocked response drained. */
export function sendResumed(ctx: ForwarderContext, res: ServerResponse, ex: Exchange): void {
  if (!ex.sendBlocked) return;
  ex.sendBlocked = false;
  rearm(ctx, res, ex);
}

/** The request body starts flowing to the app: from now on the client is expected to keep sending it. */
export function bodyStarted(ctx: ForwarderContext, req: IncomingMessage, res: ServerResponse, ex: Exchange): void {
  const ms = ctx.config.clientBodyTimeoutMs;
  if (ms <= 0 || req.complete) return;
  ex.bodyPending = true;
  (req as BodyRequest)[kBodyExchange] = {ctx, res, ex};
  req.once('end', bodyEnded);
  if (!ex.sendBlocked) req.socket.setTimeout(ms);
}

function bodyEnded(this: BodyRequest): void {
  const state = this[kBodyExchange];
  if (state === undefined) return;
  this[kBodyExchange] = undefined;
  state.ex.bodyPending = false;
  rearm(state.ctx, state.res, state.ex);
}

/** The timer for what is still waiting on the client, or none; never over a finished response (node's keep-alive timer). */
function rearm(ctx: ForwarderContext, res: ServerResponse, ex: Exchange): void {
  const socket = ex.req.socket;
  if (res.writableFinished || socket.destroyed) return;
  if (ex.sendBlocked) socket.setTimeout(ctx.config.sendTimeoutMs);
  else if (ex.bodyPending) socket.setTimeout(ctx.config.clientBodyTimeoutMs);
  else socket.setTimeout(0);
}

/**
 * The server's `timeout` handler (a listener replaces node's default, which destroys the socket): the idle timer of a
 * client socket fired. Not one of ours (node's keep-alive timeout between requests): destroyed, as node would.
 */
export function createTimeoutHandler(ctx: ForwarderContext): (socket: Socket) => void {
  const counters = new Map<ClientTimeoutKind, {inc(): void}>(CLIENT_TIMEOUT_KINDS.map((k) => [k, ctx.metrics.clientTimeouts.labels(k)]));
  return (socket) => {
    const conn = ctx.tracker.get(socket);
    let res: ServerResponse | undefined;
    let ex: Exchange | undefined;
    for (const r of conn?.responses ?? []) {
      const e = (r as TrackedResponse)[kExchange];
      if (e !== undefined && (e.sendBlocked || e.bodyPending)) {
        res = r;
        ex = e;
        break;
      }
    }
    if (res === undefined || ex === undefined) {
      // Requests in flight but none waiting on the client (a timer left over from a response that finished while
      // blocked, with a pipelined one behind it): not a timeout. Otherwise node's keep-alive timeout: close, as node does.
      if (conn !== undefined && conn.responses.length > 0) socket.setTimeout(0);
      else socket.destroy();
      return;
    }
    const kind: ClientTimeoutKind = ex.sendBlocked ? 'send' : 'body';
    // The body stopped because the app is not reading it (undici paused the request stream): not the client's fault.
    if (kind === 'body' && (ex.req.isPaused() || ex.req.readableLength > 0)) {
      socket.setTimeout(ctx.config.clientBodyTimeoutMs);
      return;
    }
    ex.timedOut = kind;
    counters.get(kind)!.inc();
    ctx.throttle.warn(kind === 'send' ? 'client stopped reading the response' : 'client stopped sending the request body', {
      kind,
      method: ex.req.method,
      timeoutMs: kind === 'send' ? ctx.config.sendTimeoutMs : ctx.config.clientBodyTimeoutMs,
      remoteAddress: socket.remoteAddress,
    });
    ex.attempt?.abort();
    if (kind === 'body' && !res.headersSent && !res.destroyed) {
      sendLocal(res, 408, BODY_TIMEOUT, true);
      // The rest of the body will never be read: close once the answer is out.
      socket.destroySoon();
    } else {
      socket.destroy();
    }
  };
}
