/**
 * A plain request's way in: accounted from arrival (exchange.ts), then answered locally (asterisk-form, invalid
 * target, a request the guard refuses) or forwarded (attempt.ts).
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import {checkRequest, hasBody} from '../request-guard.js';
import {normalizeRequestTarget} from '../request-target.js';
import {forwardRequest} from './attempt.js';
import {text} from './client-errors.js';
import type {ForwarderContext} from './context.js';
import {openExchange, sendLocal} from './exchange.js';

const EMPTY = Buffer.alloc(0);

export function createRequestHandler(ctx: ForwarderContext): (req: IncomingMessage, res: ServerResponse) => void {
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
      sendLocal(res, refusal.status, refusal.body, true);
      return;
    }
    ex.attempts = 1;
    forwardRequest(ctx, req, res, ex);
  };
}
