/**
 * HTTP/2 clients that hold a stream without moving, the same two bounds HTTP/1.1 has (forwarder/client-timeouts.ts):
 *
 * - body (LAMEDUCK_CLIENT_BODY_TIMEOUT): no DATA for that long while the request body is still open. Without it a
 *   client sending one byte a minute holds the app's stream (and, to an HTTP/1.1 app, an upstream socket) for the
 *   whole upstream timeout. Answered `408` when no response has started (then the rest of the body is refused with
 *   RST_STREAM(NO_ERROR), RFC 9113 §8.1), else RST_STREAM(CANCEL); the app's stream is cancelled either way.
 * - send (LAMEDUCK_SEND_TIMEOUT): a plain response the client does not take for that long (its flow-control window
 *   stays closed, RFC 9113 §5.2, so the app's stream is held too): RST_STREAM(CANCEL), the app's stream cancelled.
 *
 * Neither applies to gRPC (`content-type: application/grpc*`): a client-streaming or bidi call idle between
 * messages (a chat, a subscription) is normal there, its deadline travels in `grpc-timeout` and the app enforces
 * it, and gRPC's own keepalive finds dead peers. docs/http2.md "Client bounds" gives the comparison with Envoy,
 * nginx and HAProxy.
 *
 * Both use the stream's own idle timer (`stream.setTimeout`: one timer per stream, refreshed by node on every DATA
 * frame read and every write, and not fired while a write is still draining), with one shared `timeout` listener:
 * no closure per stream. The timer runs only for streams with a request body or a response under way.
 *
 * A body the app is slow to take is not the client's fault: while the pipe to the app holds the stream paused, the
 * client's flow-control window stays closed and it cannot send. The body's idle time counts from when the client could
 * last send: the timer is re-armed when the stream resumes (node sends the WINDOW_UPDATE then, and the client needs a
 * round trip to answer it), and a timer that fires while the stream is still paused is re-armed.
 */
import {constants, type ServerHttp2Stream} from 'node:http2';
import type {ClientTimeoutKind} from '../metrics.js';
import type {Exchange, H2Context} from './h2-context.js';
import {GRPC_FAILURES} from './grpc-errors.js';
import {failLocal} from './h2-respond.js';

const {NGHTTP2_CANCEL, NGHTTP2_NO_ERROR} = constants;

const kExchange = Symbol('lameduck.h2Exchange');
type TimedStream = ServerHttp2Stream & {[kExchange]?: Exchange};

/** The request body is still arriving (a stream without one never had a readable side to wait for). */
const bodyOpen = (stream: ServerHttp2Stream): boolean => !stream.endAfterHeaders && !stream.readableEnded;

function listen(ctx: H2Context, ex: Exchange): void {
  const stream = ex.stream as TimedStream;
  if (stream[kExchange] !== undefined) return;
  stream[kExchange] = ex;
  stream.on('timeout', ctx.streamTimers.timeout);
  if (ctx.config.clientBodyTimeoutMs > 0 && bodyOpen(stream)) stream.on('resume', ctx.streamTimers.resume);
}

/** A plain request with a body is being forwarded: from now on the client is expected to keep sending it. */
export function armBodyTimeout(ctx: H2Context, ex: Exchange): void {
  const ms = ctx.config.clientBodyTimeoutMs;
  if (ex.grpc || ms <= 0 || ex.failed || ex.responded || !bodyOpen(ex.stream)) return;
  listen(ctx, ex);
  ex.stream.setTimeout(ms);
}

/** A plain response is under way: a client that stops taking it is cut after LAMEDUCK_SEND_TIMEOUT. */
export function armSendTimeout(ctx: H2Context, ex: Exchange): void {
  if (ex.grpc) return;
  const {sendTimeoutMs, clientBodyTimeoutMs} = ctx.config;
  // The body may still be open (a plain bidirectional stream): one timer serves both, the shorter bound.
  const bodyMs = clientBodyTimeoutMs > 0 && bodyOpen(ex.stream) ? clientBodyTimeoutMs : 0;
  const ms = sendTimeoutMs > 0 && bodyMs > 0 ? Math.min(sendTimeoutMs, bodyMs) : sendTimeoutMs || bodyMs;
  if (ms <= 0) return;
  listen(ctx, ex);
  ex.stream.setTimeout(ms);
}

/** The listeners every timed stream shares (bound to the server's context once): no closure per stream. */
export interface StreamTimerHandlers {
  readonly timeout: (this: ServerHttp2Stream) => void;
  /** The stream resumed after the app held its body back. */
  readonly resume: (this: ServerHttp2Stream) => void;
}

export function createStreamTimerHandlers(getCtx: () => H2Context): StreamTimerHandlers {
  return {
    timeout() {
      const ex = (this as TimedStream)[kExchange];
      if (ex !== undefined) onTimeout(getCtx(), ex);
    },
    resume() {
      const ex = (this as TimedStream)[kExchange];
      if (ex === undefined || ex.closed || ex.failed || this.destroyed || !bodyOpen(this)) return;
      // The client may send again only from now on (its window reopens): a full timeout from here.
      if (ex.responded) armSendTimeout(getCtx(), ex);
      else this.setTimeout(getCtx().config.clientBodyTimeoutMs);
    },
  };
}

function onTimeout(ctx: H2Context, ex: Exchange): void {
  const {stream} = ex;
  if (ex.closed || ex.failed || stream.destroyed) return;
  const {config} = ctx;
  const open = bodyOpen(stream);
  let kind: ClientTimeoutKind;
  if (ex.responded && (stream.writableLength > 0 || !open)) {
    kind = 'send';
  } else if (open && !ex.responded) {
    // The body stopped because the app is not taking it (the pipe paused the client stream, whose window then
    // closes): not the client's fault.
    if (stream.isPaused() || stream.readableLength > 0) {
      stream.setTimeout(config.clientBodyTimeoutMs);
      return;
    }
    kind = 'body';
  } else if (open) {
    // A response is flowing and the client reads it but sends nothing: both directions idle, the body is what waits.
    kind = stream.isPaused() || stream.readableLength > 0 ? 'send' : 'body';
  } else {
    // The body is complete and no response yet: the wait is the app's (LAMEDUCK_UPSTREAM_TIMEOUT's job).
    stream.setTimeout(0);
    return;
  }
  ctx.clientTimeouts.get(kind)!.inc();
  ctx.throttle.warn(kind === 'send' ? 'client stopped reading the response' : 'client stopped sending the request body', {
    protocol: 'h2c',
    kind,
    timeoutMs: kind === 'send' ? config.sendTimeoutMs : config.clientBodyTimeoutMs,
    remoteAddress: ctx.sessions.get(stream.session as never)?.remoteAddress,
  });
  ex.cancel?.();
  if (kind === 'body' && !ex.responded && !stream.headersSent) {
    // (never gRPC here: the gRPC failure is only the signature's.)
    failLocal(ex, 408, 'request body not received in time', GRPC_FAILURES.other);
    // The rest of the body will never be read: refuse it once the answer is out (RFC 9113 §8.1).
    stream.close(NGHTTP2_NO_ERROR);
    return;
  }
  ex.failed = true;
  stream.close(NGHTTP2_CANCEL);
}
