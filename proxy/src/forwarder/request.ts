/**
 * A plain request's way in: accounted from arrival (exchange.ts), then answered locally (asterisk-form, invalid
 * target, a request the guard refuses) or forwarded (attempt.ts), in the order pipelining allows (pipeline.ts).
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import {checkRequest, hasBody} from '../request-guard.js';
import {normalizeRequestTarget} from '../request-target.js';
import type {H2Upstream} from '../h2/h2-upstream.js';
import {forwardRequest} from './attempt.js';
import {forwardToH2} from './h2-attempt.js';
import {text} from './client-errors.js';
import type {ForwarderContext} from './context.js';
import {openExchange, sendLocal} from './exchange.js';
import {admitPipelined} from './pipeline.js';

const EMPTY = Buffer.alloc(0);

/** @param h2Upstream the pooled sessions to an h2c app (`LAMEDUCK_UPSTREAM=h2c://`); undefined for an HTTP/1.1 app. */
export function createRequestHandler(ctx: ForwarderContext, h2Upstream?: H2Upstream): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const start = ctx.now();
    const ex = openExchange(ctx, req, res, start);
    const target = normalizeRequestTarget(req);
    if (!ctx.isProbe(req)) ctx.state.lastTraffic = start;
    if (target !== 'origin') {
      const close = ctx.mustClose() || hasBody(req);
      // `OPTIONS *` asks about the server as a whole (RFC 9110 §9.3.7): the proxy answers it.
      if (target === 'asterisk') sendLocal(res, 200, EMPTY, close);
      else sendLocal(res, 400, text(400, 'invalid request target'), close);
      return;
    }
    const refusal = checkRequest(req);
    if (refusal) {
      ctx.metrics.badRequests.inc();
      sendLocal(res, refusal.status, refusal.body, true, refusal.headers);
      return;
    }
    ex.attempts = 1;
    // Pipelined behind requests still in flight on its connection: order and close rules (pipeline.ts).
    const conn = ex.conn;
    // Alone on its connection but read after a response that closed it (a refused request's body was still arriving
    // when that response ended): refused too, and the connection goes.
    if (conn !== undefined && (conn.responses.length > 1 || conn.closing) && !admitPipelined(ctx, conn, ex)) {
      if (conn.responses.length === 1) conn.socket.destroySoon();
      return;
    }
    if (h2Upstream) forwardToH2(ctx, h2Upstream, req, res, ex);
    else forwardRequest(ctx, req, res, ex);
  };
}
