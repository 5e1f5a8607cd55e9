/**
 * The graceful shutdown of a client HTTP/2 connection, in two steps (RFC 9113 §6.8):
 *
 * 1. GOAWAY with NO_ERROR and the largest stream id, 2^31-1, plus a PING. The client learns it must open a new
 *    connection for new requests (through its load balancer, so to another pod), while streams it already sent
 *    (still in flight towards us) are not refused.
 * 2. When the PING ack arrives — one round trip later, so every stream the client opened before it read the
 *    GOAWAY has reached us (TCP keeps order) — or after a bound when the client does not answer, the real GOAWAY
 *    with the last stream id actually processed. Streams already open run to their end; the session closes after
 *    the last one.
 *
 * Step 1 cannot go through node:http2. `session.goaway(code, 2^31-1)` sends the right frame, but nghttp2 then counts a
 * GOAWAY as sent and ignores every stream that arrives after it (`session_allow_incoming_new_stream` in
 * nghttp2_session.c checks the GOAWAY_SENT flag, whatever the last stream id said), so the streams step 1 exists to
 * admit are dropped, and the final GOAWAY reports them unprocessed: the client sees them refused. nghttp2's own
 * step 1, `nghttp2_submit_shutdown_notice`, does not set that flag, but node does not expose it. So step 1 is the
 * 17 bytes of that frame written on the connection's socket itself, between node's writes (node hands libuv whole
 * frames in each write, and libuv keeps the order of writes), and nghttp2 never learns of it. Where lameduck has no
 * raw socket, it falls back to `session.goaway()` and its refusals. Step 2 is `session.close()`: the final GOAWAY
 * (last stream id = nghttp2's last processed stream), no new streams, and the session destroyed once its open
 * streams have closed. The same order is what Go's net/http2 server (`startGracefulShutdown`) and Envoy's drain do.
 */
import {constants, type Http2Session} from 'node:http2';
import type {Socket} from 'node:net';

/** The largest HTTP/2 stream identifier: "every stream may still be processed" (RFC 9113 §6.8). */
export const MAX_STREAM_ID = 2 ** 31 - 1;

/** Step 1 as bytes (RFC 9113 §6.8): a GOAWAY frame on stream 0, last stream id 2^31-1, NO_ERROR, no debug data. */
export const SHUTDOWN_NOTICE_FRAME: Buffer = Buffer.from([0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/** How long step 2 waits for the PING ack before it sends the final GOAWAY anyway. */
export const GOAWAY_PING_TIMEOUT_MS = 1_000;

export interface GracefulGoaway {
  /** Resolves once the final GOAWAY is sent (or the session was already gone). */
  readonly sent: Promise<void>;
}

/**
 * Starts the two-step shutdown of a session. Safe on a session that is closing or destroyed (resolves at once).
 * @param onFinal called once, right before the final GOAWAY, with whether the PING was acknowledged.
 */
export function startGracefulGoaway(session: Http2Session, opts: {socket?: Socket; pingTimeoutMs?: number; onFinal?: (acked: boolean) => void} = {}): GracefulGoaway {
  if (session.destroyed || session.closed) return {sent: Promise.resolve()};
  const timeoutMs = opts.pingTimeoutMs ?? GOAWAY_PING_TIMEOUT_MS;
  const sent = new Promise<void>((resolve) => {
    let done = false;
    const finish = (acked: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.off('close', onGone);
      if (!session.destroyed && !session.closed) {
        opts.onFinal?.(acked);
        session.close();
      }
      resolve();
    };
    const onGone = (): void => finish(false);
    const timer = setTimeout(() => finish(false), timeoutMs);
    timer.unref?.();
    session.once('close', onGone);
    try {
      const socket = opts.socket;
      if (socket && socket.writable && !socket.destroyed) socket.write(SHUTDOWN_NOTICE_FRAME);
      else session.goaway(constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
      // false: too many PINGs outstanding (the client is not acking): the timer decides.
      session.ping((err) => finish(!err));
    } catch {
      // The session went away between the check and the frames.
      finish(false);
    }
  });
  return {sent};
}
