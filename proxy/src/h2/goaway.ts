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
 * node:http2 has both parts: `session.goaway(code, lastStreamID)` sends a GOAWAY with any last stream id without
 * closing anything, and `session.close()` sends the final GOAWAY (last stream id = nghttp2's last processed
 * stream), refuses new streams and destroys the session once its open streams have closed. (nghttp2's
 * `nghttp2_submit_shutdown_notice` is step 1; node does not expose it, goaway(0, 2^31-1) is the same frame.)
 * The same order is what Go's net/http2 server (`startGracefulShutdown`) and Envoy's drain do.
 */
import {constants, type Http2Session} from 'node:http2';

/** The largest HTTP/2 stream identifier: "every stream may still be processed" (RFC 9113 §6.8). */
export const MAX_STREAM_ID = 2 ** 31 - 1;

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
export function startGracefulGoaway(session: Http2Session, opts: {pingTimeoutMs?: number; onFinal?: (acked: boolean) => void} = {}): GracefulGoaway {
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
      session.goaway(constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
      // false: too many PINGs outstanding (the client is not acking): the timer decides.
      session.ping((err) => finish(!err));
    } catch {
      // The session went away between the check and the frames.
      finish(false);
    }
  });
  return {sent};
}
