/**
 * Sessions of the HTTP/2 server and their end: the graceful GOAWAY the drain sends each session (goaway.ts), an idle
 * session closed like an idle keep-alive connection, and close() resolving once no session is left.
 */
import type {ServerHttp2Session} from 'node:http2';
import {startGracefulGoaway} from './goaway.js';
import type {H2Context, SessionState} from './h2-context.js';

/** A new session: tracked, counted, and told to go away at once when the server is already closing. */
export function onSession(ctx: H2Context, session: ServerHttp2Session): void {
  const {config, metrics, log, debug, sessions, state} = ctx;
  const st: SessionState = {session, remoteAddress: session.socket?.remoteAddress, streams: new Set(), goaway: false, rawSocket: state.arriving, opened: 0, prematureResets: 0, abusive: false};
  sessions.set(session, st);
  metrics.openConnections.inc();
  metrics.h2Sessions.inc();
  metrics.connections.inc({protocol: 'h2c'});
  // Until its first stream a session has LAMEDUCK_HEADERS_TIMEOUT to ask something, as an HTTP/1.1 connection has
  // for its first request: this also ends a session nghttp2 has given up on (node sends the GOAWAY for a frame it
  // cannot parse, e.g. HTTP/1.1 text after the preface, but neither closes the socket nor reports it). Then a
  // session left idle is closed like an idle keep-alive connection (gracefully: a stream may be on its way).
  session.setTimeout(config.headersTimeoutMs > 0 ? config.headersTimeoutMs : config.keepAliveTimeoutMs, () => {
    if (st.opened === 0) session.destroy();
    else if (st.streams.size === 0) goaway(ctx, st);
  });
  session.on('error', (error: NodeJS.ErrnoException) => {
    // nghttp2 ended the session for the client's behaviour (NGHTTP2_ERR_FLOODED: too many SETTINGS, PING,
    // RST_STREAM or empty frames; else a bad preface or an invalid frame): counted, logged. Socket errors are not.
    if (error.code === 'ERR_HTTP2_ERROR') {
      // node may report one violation more than once (the frame, then the session's end): counted once.
      if (st.abusive) return;
      st.abusive = true;
      const reason = error.message.includes('Flooding') ? 'flood' : 'protocol';
      ctx.connectionErrors.get(reason)!.inc();
      ctx.throttle.warn('h2 connection error', {protocol: 'h2c', reason, message: error.message, remoteAddress: st.remoteAddress});
    } else if (debug) log.debug('h2 session error', {error});
  });
  session.once('close', () => {
    sessions.delete(session);
    metrics.openConnections.dec();
    metrics.h2Sessions.dec();
    if (state.closing) checkClosed(ctx);
  });
  if (state.closing) goaway(ctx, st);
}

/** The two-step graceful GOAWAY, once per session. */
export function goaway(ctx: H2Context, st: SessionState): void {
  if (st.goaway) return;
  st.goaway = true;
  ctx.state.goaways++;
  ctx.metrics.goaways.inc();
  if (ctx.debug) ctx.log.debug('goaway', {streams: st.streams.size});
  startGracefulGoaway(st.session, {socket: st.rawSocket});
}

/** Resolves close() once no session is left, and lets go of the upstream connections made here. */
export function checkClosed(ctx: H2Context): void {
  const {state} = ctx;
  if (state.resolveClose === undefined || ctx.sessions.size > 0) return;
  const resolve = state.resolveClose;
  state.resolveClose = undefined;
  state.upstream?.destroy();
  state.agent?.destroy();
  resolve();
}

/** The drain began: every session is told to go away (new ones after their first stream, h2-stream.ts). */
export function startDrain(ctx: H2Context): void {
  if (ctx.state.draining) return;
  ctx.state.draining = true;
  for (const st of ctx.sessions.values()) goaway(ctx, st);
}

/** Closing: GOAWAY to every session not yet told; resolves when no session is left. */
export function startClose(ctx: H2Context): Promise<void> {
  const {state} = ctx;
  if (state.closePromise) return state.closePromise;
  state.closing = true;
  state.draining = true;
  state.closePromise = new Promise<void>((resolve) => (state.resolveClose = resolve));
  for (const st of ctx.sessions.values()) goaway(ctx, st);
  checkClosed(ctx);
  return state.closePromise;
}
