/**
 * Rapid reset (CVE-2023-44487, https://www.cve.org/CVERecord?id=CVE-2023-44487): a client opens streams and resets
 * each at once. node's own defence (nghttp2's RST_STREAM rate limit, burst 1000) ends such a client session only
 * after about a thousand streams — and a proxy turns each of them into a stream on its upstream session, opened and
 * reset: the app's HTTP/2 server (node's or nghttp2's, with the same limit) then takes lameduck's shared upstream
 * session for the attacker and closes it, failing every other client's streams on it.
 *
 * Two defences, both cheap per stream:
 * - Streams are forwarded from a `setImmediate` batch, after the whole socket read has been parsed: a stream whose
 *   RST_STREAM came in the same read (how the attack tools write HEADERS+RST_STREAM pairs) is gone by then and never
 *   reaches the app. One immediate per batch, not per stream.
 * - Envoy's premature-reset rule (`overload.premature_reset_total_stream_count`,
 *   https://www.envoyproxy.io/docs/envoy/latest/configuration/operations/overload_manager/overload_manager):
 *   a session whose client reset more than half of its streams within `H2_PREMATURE_RESET_MS` of opening them,
 *   once it has reset at least `H2_PREMATURE_RESET_MIN`, is ended with GOAWAY(ENHANCE_YOUR_CALM) (RFC 9113 §7):
 *   counted in `h2_connection_errors_total{reason="rapid_reset"}` and logged. A client that cancels some calls
 *   (deadlines, navigation) stays far below half.
 */
import {constants, type IncomingHttpHeaders} from 'node:http2';
import type {Exchange, H2Context, SessionState} from './h2-context.js';

/** A reset this soon after the stream opened is premature (Envoy's `premature_reset_min_stream_lifetime_seconds`: 1 s). */
export const H2_PREMATURE_RESET_MS = 1_000;
/**
 * Premature resets a session may make before the ratio is checked. Envoy waits for 500 streams; lower here because
 * the app's own limit (nghttp2: 1000 resets in a burst) is shared by every client behind lameduck's upstream session.
 */
export const H2_PREMATURE_RESET_MIN = 100;

type Dispatch = (ctx: H2Context, ex: Exchange, headers: IncomingHttpHeaders, remote: string | undefined) => void;

/** Forwards `ex` once the current read is parsed (see above), unless the client reset it meanwhile. */
export function dispatchSoon(ctx: H2Context, dispatch: Dispatch, ex: Exchange, headers: IncomingHttpHeaders, remote: string | undefined): void {
  const {batch} = ctx.state;
  if (batch.length === 0) setImmediate(runBatch, ctx, dispatch);
  batch.push(ex, headers, remote);
}

function runBatch(ctx: H2Context, dispatch: Dispatch): void {
  const batch = ctx.state.batch;
  ctx.state.batch = [];
  for (let i = 0; i < batch.length; i += 3) {
    const ex = batch[i] as Exchange;
    if (ex.closed || ex.cut || ex.responded || ex.stream.destroyed || ex.stream.closed) continue;
    dispatch(ctx, ex, batch[i + 1] as IncomingHttpHeaders, batch[i + 2] as string | undefined);
  }
}

/** A stream the client reset before its response ended: a premature reset when it was young; may end the session. */
export function clientReset(ctx: H2Context, ex: Exchange, st: SessionState | undefined, at: number): void {
  // A session being destroyed (by node for an error, or at the deadline) closes its streams with a code too: not the client's resets.
  if (st === undefined || st.session.destroyed || at - ex.start > H2_PREMATURE_RESET_MS) return;
  st.prematureResets++;
  if (st.abusive || st.prematureResets < H2_PREMATURE_RESET_MIN || st.prematureResets * 2 <= st.opened) return;
  st.abusive = true;
  ctx.connectionErrors.get('rapid_reset')!.inc();
  ctx.throttle.warn('client reset too many streams', {protocol: 'h2c', streams: st.opened, resets: st.prematureResets, remoteAddress: st.remoteAddress});
  // Its other streams go with it: a client that behaves like this is not served further on this connection.
  // The GOAWAY first, the close once it is written: a destroy() from inside the stream-close callback can end
  // the socket before nghttp2 flushed the frame.
  const {session} = st;
  session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
  setImmediate(() => session.destroy());
}
