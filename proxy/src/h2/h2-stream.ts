/**
 * One client stream from arrival to end: tracking and traffic clock, the GOAWAY a session opened during the drain
 * gets after its first stream, dispatch to the app (h2-forward.ts), and the accounting when it closes (served,
 * drained, aborted, cut; the gRPC status class).
 */
import {constants, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream} from 'node:http2';
import {GRPC_FAILURES, grpcStatusClass, isGrpcRequest} from './grpc-errors.js';
import {clientReset, dispatchSoon} from './h2-abuse.js';
import {armBodyTimeout} from './h2-client-timeouts.js';
import type {Exchange, H2Context, SessionState} from './h2-context.js';
import {toH1, toH2} from './h2-forward.js';
import {cutDeadline, failLocal} from './h2-respond.js';
import {goaway} from './h2-session.js';

const {NGHTTP2_NO_ERROR} = constants;

const kExchange = Symbol('lameduck.h2StreamExchange');
/** A client stream carrying its exchange: its `close` listener is shared by every stream (no closure per stream). */
type TrackedStream = ServerHttp2Stream & {[kExchange]: Exchange};

/** The status recorded for a stream that got no complete response (nginx's "client closed request"). */
const STATUS_CLIENT_CLOSED = 499;

export function onStream(ctx: H2Context, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const {state} = ctx;
  const start = ctx.now();
  const st = ctx.sessions.get(stream.session as ServerHttp2Session);
  const ex: Exchange = {
    start,
    phase: ctx.phase(),
    grpc: isGrpcRequest(headers),
    teTrailers: headers.te !== undefined,
    stream,
    st,
    cancel: undefined,
    upstream: undefined,
    responded: false,
    status: 0,
    trailers: undefined,
    grpcStatus: undefined,
    failed: false,
    cut: false,
    closed: false,
    lateUpstream: undefined,
    lateSend: false,
  };
  state.inFlight++;
  ctx.metrics.requestsInFlight.inc();
  st?.streams.add(ex);
  if (!ctx.isProbe(headers)) {
    state.lastTraffic = start;
    ctx.onTraffic?.(start);
  }
  (stream as TrackedStream)[kExchange] = ex;
  stream.on('error', ctx.onStreamError);
  // 'on', not 'once': 'close' fires once, and once() costs a wrapper and a removal per stream.
  stream.on('close', ctx.onStreamClose);
  // The HTTP/2 form of `Connection: close`: a session that opens during the drain serves its first stream(s).
  if (st && (state.draining || state.closing) && !st.goaway) goaway(ctx, st);

  // The first stream: from now on the idle bound is the keep-alive timeout (h2-session.ts).
  if (st && st.opened++ === 0 && ctx.config.headersTimeoutMs > 0) st.session.setTimeout(ctx.config.keepAliveTimeoutMs);

  const method = headers[':method'];
  if (method === 'CONNECT') return failLocal(ex, 405, 'CONNECT is not supported', GRPC_FAILURES.other);
  if (!ctx.h2Upstream && ex.grpc) return failLocal(ex, 502, GRPC_FAILURES.h1Upstream.message, GRPC_FAILURES.h1Upstream);
  // After the whole read is parsed: a stream reset in the same read never reaches the app (h2-abuse.ts).
  dispatchSoon(ctx, forward, ex, headers, st?.remoteAddress);
}

function forward(ctx: H2Context, ex: Exchange, headers: IncomingHttpHeaders, remote: string | undefined): void {
  if (ctx.h2Upstream) toH2(ctx, ex, headers, remote);
  else toH1(ctx, ex, headers, remote);
  armBodyTimeout(ctx, ex);
}

/** A stream closed: untracked and counted once, by how it ended. */
export function finishStream(ctx: H2Context, stream: ServerHttp2Stream): void {
  const ex = (stream as TrackedStream)[kExchange];
  if (ex.closed) return;
  const {st} = ex;
  const {metrics, state, now} = ctx;
  ex.closed = true;
  st?.streams.delete(ex);
  state.inFlight--;
  metrics.requestsInFlight.dec();
  const complete = ex.responded && stream.rstCode === NGHTTP2_NO_ERROR && stream.writableFinished !== false;
  if (!complete || ex.cut) ex.cancel?.();
  let status: number;
  if (ex.cut) status = ex.grpc ? 200 : STATUS_CLIENT_CLOSED;
  else if (complete) {
    status = ex.status;
    state.served++;
    if (ex.phase !== 'serving' && !ex.failed) {
      state.drained++;
      metrics.drainedRequests.inc();
    }
  } else if (ex.failed) status = ex.status || 502;
  else {
    status = STATUS_CLIENT_CLOSED;
    if (!state.destroying) {
      metrics.clientAborts.inc();
      if (stream.rstCode !== NGHTTP2_NO_ERROR) clientReset(ctx, ex, st, now());
    }
  }
  metrics.observeRequest(ex.phase, status, (now() - ex.start) / 1000);
  ctx.streamsByPhase.get(ex.phase)!.inc();
  if (ex.grpc) ctx.grpcByClass.get(grpcStatusClass(complete || ex.failed || ex.cut ? ex.grpcStatus : undefined))!.inc();
  if (ctx.debug) ctx.log.debug('stream', {protocol: 'h2c', status, grpcStatus: ex.grpcStatus, ms: Math.round(now() - ex.start), phase: ex.phase});
}

/** The deadline: every open stream ends (cutDeadline), every session closes; returns streams cut and idle sessions. */
export function cutAll(ctx: H2Context): {streams: number; sessions: number} {
  let streams = 0;
  let idle = 0;
  for (const st of [...ctx.sessions.values()]) {
    if (st.streams.size === 0) idle++;
    for (const ex of [...st.streams]) {
      streams++;
      ex.cut = true;
      cutDeadline(ex);
    }
    // The status frames go out first; then the session goes whatever the client does.
    const {session} = st;
    if (!session.closed) session.close();
    setTimeout(() => session.destroy(), 100).unref();
  }
  return {streams, sessions: idle};
}
