/**
 * The HTTP/2 side of the traffic listener (docs/design.md "Data plane", docs/http2.md): h2c with prior knowledge on
 * connections the listener's preface check (preface.ts) hands over. Each stream is one request, forwarded to the app
 * over HTTP/2 (h2-upstream.ts, `LAMEDUCK_UPSTREAM=h2c://`) or HTTP/1.1 (`http://`, not for gRPC).
 *
 * - Bodies are piped both ways: HTTP/2 flow control on each side follows what the other side takes, so a slow
 *   reader makes lameduck stop reading from the writer, never buffer without bound. Trailers pass both ways (gRPC's
 *   status is a trailer); a trailers-only response (one HEADERS frame with END_STREAM, how gRPC answers errors)
 *   stays trailers-only.
 * - A client's RST_STREAM (a cancelled gRPC call, a passed deadline) cancels the upstream stream; an upstream
 *   REFUSED_STREAM is passed on as such (the request was not processed: clients retry it, RFC 9113 §8.7).
 * - Errors lameduck makes for gRPC requests are gRPC statuses (grpc-errors.ts); for other requests 502/503/504 with a
 *   one-line text body, as on HTTP/1.1.
 *
 * Parts: h2-context.ts (shared state), h2-session.ts (sessions, GOAWAY, close), h2-stream.ts (one stream and its
 * accounting), h2-forward.ts (to the app), h2-respond.ts (answers lameduck makes itself).
 *
 * - Drain: `drain()` (from `deregistering` on) sends each session the two-step graceful GOAWAY (goaway.ts), so clients
 *   open new connections — through their load balancer, to other pods — while their streams in flight finish. A
 *   session that opens during the drain gets it right after its first stream arrives: it serves what it asked first
 *   (an h2 connection carries a request at once after its preface), as an HTTP/1.1 connection serves one
 *   request with `Connection: close`. `close()` is `closing`: every session not yet told gets the GOAWAY; resolves
 *   when no session remains. `destroy()` is the deadline: every open stream ends with a gRPC UNAVAILABLE status (gRPC)
 *   or a RST_STREAM(CANCEL), counted as cut.
 */
import {createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream} from 'node:http2';
import {createH2Context, type H2Server, type H2ServerDeps} from './h2-context.js';
import {onSession, startClose, startDrain} from './h2-session.js';
import {cutAll, onStream} from './h2-stream.js';

export {createH2UpstreamFor, H2_UPSTREAM_SESSIONS, type H2Server, type H2ServerDeps, type H2Stats} from './h2-context.js';

/**
 * Concurrent streams a client may open on one session (SETTINGS_MAX_CONCURRENT_STREAMS, RFC 9113 §5.1.2). node
 * announces 2^32-1 unless told, i.e. no bound: one connection could hold any number of app streams. Envoy's default
 * is 100, nginx's `http2_max_concurrent_streams` 128; 256 leaves gRPC clients (100 per channel is common) room.
 * A client that opens more than announced loses its connection (node treats it as a connection error).
 */
export const H2_MAX_CONCURRENT_STREAMS = 256;
/**
 * Header fields per request (node's maxHeaderListPairs, default 128 too): past it node refuses the stream with
 * RST_STREAM(ENHANCE_YOUR_CALM) before it reaches lameduck (RFC 9113 §10.5.1). The size bound is
 * LAMEDUCK_MAX_HEADER_SIZE, announced as SETTINGS_MAX_HEADER_LIST_SIZE.
 */
export const H2_MAX_HEADER_PAIRS = 128;
/**
 * Session memory in MB (node's maxSessionMemory, its default): beyond it new streams are refused
 * (ENHANCE_YOUR_CALM), the bound on what one client's buffered frames and header tables may take.
 */
export const H2_MAX_SESSION_MEMORY_MB = 10;

export function createH2Server(deps: H2ServerDeps): H2Server {
  const {config} = deps;
  const server: Http2Server = createServer({
    maxSessionMemory: H2_MAX_SESSION_MEMORY_MB,
    maxHeaderListPairs: H2_MAX_HEADER_PAIRS,
    settings: {
      maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
      maxHeaderListSize: config.maxHeaderSize,
      enablePush: false,
    },
  });
  const ctx = createH2Context(deps, server);
  const {state} = ctx;

  server.on('session', (session: ServerHttp2Session) => onSession(ctx, session));
  server.on('sessionError', () => undefined);
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => onStream(ctx, stream, headers));

  return {
    handle(socket) {
      // node creates the session (and emits 'session') within this call: onSession takes the raw socket from here.
      state.arriving = socket;
      try {
        server.emit('connection', socket);
      } finally {
        state.arriving = undefined;
      }
    },
    drain: () => startDrain(ctx),
    close: () => startClose(ctx),
    destroy() {
      if (state.cutResult) return {...state.cutResult};
      state.destroying = true;
      void startClose(ctx);
      const cutResult = cutAll(ctx);
      state.cutStreams = cutResult.streams;
      state.cutResult = cutResult;
      state.upstream?.destroy();
      state.agent?.destroy();
      ctx.throttle.dispose();
      ctx.late.dispose();
      if (cutResult.streams + cutResult.sessions > 0) ctx.log.info('cut HTTP/2 streams at the deadline', {...cutResult});
      return {...cutResult};
    },
    stats: () => ({sessions: ctx.sessions.size, streams: state.inFlight, served: state.served, drained: state.drained, goaways: state.goaways, cut: state.cutStreams}),
    lastTrafficAt: () => state.lastTraffic,
  };
}
