/**
 * Answers written straight on a client socket, without an HTTP response object: requests node's parser rejected
 * (400/408/413/431, or a closed connection when a response is already under way), refused upgrades, and CONNECT.
 * Each malformed request is counted; none reaches the app complete.
 */
import {STATUS_CODES} from 'node:http';
import type {Socket} from 'node:net';
import type {Duplex} from 'node:stream';
import type {ForwarderContext} from './context.js';
import {kExchange, type TrackedResponse} from './exchange.js';

/**
 * The parser's rejections carry no body: the request's method is not known (it may have been a HEAD, whose answer
 * must not have one), and the connection closes after the answer anyway. The status says what was wrong.
 */
function bareResponse(status: number): Buffer {
  return Buffer.from(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, 'latin1');
}

export function textResponse(status: number, body: Buffer): Buffer {
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

export function text(status: number, message: string): Buffer {
  return Buffer.from(`${status} ${STATUS_CODES[status] ?? 'Error'}: ${message}\n`);
}

/** Raw answers written on a socket without an HTTP response object (parser errors, refused upgrades). */
const CLIENT_ERROR_RESPONSES = {
  400: bareResponse(400),
  408: bareResponse(408),
  413: bareResponse(413),
  431: bareResponse(431),
} as const;

function clientErrorStatus(code: string): keyof typeof CLIENT_ERROR_RESPONSES {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

/**
 * Requests are in flight on the connection and what follows them gets no answer: every request before is answered
 * in order, the last answer closes the connection, and nothing after it is read (an answer of its own would take the
 * place of a response the app is producing).
 */
function closeAfter(socket: Socket, last: TrackedResponse): void {
  socket.pause();
  if (!last.headersSent) {
    last[kExchange]!.closeAfter = true;
    last.shouldKeepAlive = false;
  } else last.once('finish', () => socket.destroySoon());
}

/** The server's `clientError` handler: node's parser rejected a request, or the client socket failed. */
export function createClientErrorHandler(ctx: ForwarderContext): (err: NodeJS.ErrnoException, duplex: Duplex) => void {
  return (err, duplex) => {
    const socket = duplex as Socket;
    const code = err.code ?? '';
    if ((!code.startsWith('HPE_') && code !== 'ERR_HTTP_REQUEST_TIMEOUT') || code === 'HPE_INVALID_EOF_STATE') {
      // A socket error (ECONNRESET, EPIPE...) or the client closing in the middle of a request (the parser's "EOF
      // state" error): the peer is gone, nothing to answer. A request in flight counts as a client abort.
      socket.destroy();
      return;
    }
    const current = (socket as Socket & {_httpMessage?: TrackedResponse | null})._httpMessage ?? undefined;
    if (code === 'HPE_CLOSED_CONNECTION') {
      // A request pipelined after one that asked for `Connection: close`: not processed (RFC 9112 §9.6), not
      // malformed either. The response in progress still goes out whole; its `close` ends the connection.
      ctx.metrics.refusedRequests.labels('after_close').inc();
      if (current === undefined) socket.destroySoon();
      else socket.pause();
      return;
    }
    ctx.metrics.badRequests.inc();
    if (ctx.debug) ctx.log.debug('malformed request', {code, reason: (err as {reason?: string}).reason});
    const responses = (ctx.tracker.get(socket)?.responses ?? []) as TrackedResponse[];
    let last = responses.at(-1);
    let lastEx = last?.[kExchange];
    if (last !== undefined && lastEx !== undefined && !lastEx.req.complete && last.writableEnded) {
      // The request whose body failed was answered already (refused, its answer closing the connection): that
      // answer goes out after the ones ahead of it, and ends the connection.
      socket.pause();
      return;
    }
    if (last !== undefined && lastEx !== undefined && !lastEx.req.complete && !last.headersSent && responses.length > 1) {
      // The request whose body failed is pipelined behind others: it is dropped unanswered, like a request behind a
      // close (its upstream request, if already under way, is aborted: the app never gets it whole), and the ones
      // ahead of it are answered before the connection closes.
      lastEx.bad = true;
      lastEx.refused = 'after_close';
      if (lastEx.held) lastEx.held = false;
      else lastEx.attempt?.abort();
      last = responses.at(-2);
      lastEx = last?.[kExchange];
    }
    if (last !== undefined && lastEx !== undefined && lastEx.req.complete) {
      // The bytes that failed come after the last complete request.
      closeAfter(socket, last);
      return;
    }
    const ex = current?.[kExchange];
    if (ex) ex.bad = true;
    const response = CLIENT_ERROR_RESPONSES[clientErrorStatus(code)];
    if (!socket.writable || current?.headersSent) {
      // A response is already under way on this connection: an answer now would corrupt it.
      socket.destroy();
    } else if (current) {
      // The rejected request is in flight (its body failed): answer, and drop it (its upstream request is aborted).
      socket.write(response);
      socket.destroy();
    } else {
      socket.write(response);
      socket.destroySoon();
    }
  };
}

/** CONNECT (a forward-proxy tunnel) is not something a reverse proxy offers. */
export function createConnectHandler(ctx: ForwarderContext): (req: unknown, duplex: Duplex) => void {
  return (_req, duplex) => {
    ctx.metrics.badRequests.inc();
    const last = ctx.tracker.get(duplex as Socket)?.responses.at(-1) as TrackedResponse | undefined;
    if (last?.[kExchange] !== undefined) closeAfter(duplex as Socket, last);
    else refuseConnect(duplex);
  };
}

function refuseConnect(duplex: Duplex): void {
  const s = duplex as Socket;
  if (s.writable) {
    s.write(textResponse(405, text(405, 'CONNECT is not supported')));
    s.destroySoon();
  } else s.destroy();
}
