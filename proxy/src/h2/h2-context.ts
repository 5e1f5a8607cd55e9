/**
 * The state every part of the HTTP/2 server shares, in one explicit object (as forwarder/context.ts does for
 * HTTP/1.1): the counters the drain reads, the drain/closing/deadline flags, the sessions, and the shared services.
 * Each part (h2-session.ts, h2-stream.ts, h2-respond.ts, h2-forward.ts, h2-server.ts) takes this context rather than
 * closing over shared variables.
 */
import type {ClientHttp2Stream, Http2Server, OutgoingHttpHeaders, ServerHttp2Session, ServerHttp2Stream} from 'node:http2';
import {Agent} from 'node:http';
import type {Socket} from 'node:net';
import type {Config} from '../config.js';
import type {PlaneContext} from '../plane-context.js';
import {createLogThrottle} from '../log-throttle.js';
import type {Logger} from '../log.js';
import {CLIENT_TIMEOUT_KINDS, H2_CONNECTION_ERRORS, type ClientTimeoutKind, type H2ConnectionError, type Metrics} from '../metrics.js';
import {PHASES, type Phase} from '../phase.js';
import {createH2ProbeMatcher} from '../probe-requests.js';
import {GRPC_STATUS_CLASSES, type GrpcStatusClass} from './grpc-errors.js';
import {createStreamTimerHandlers, type StreamTimerHandlers} from './h2-client-timeouts.js';
import {armLate, createForwardHandlers, type ForwardHandlers} from './h2-forward.js';
import {finishStream} from './h2-stream.js';
import {createH2Upstream, type H2Upstream} from './h2-upstream.js';
import {createLateTimers, lateTickMs, type LateTimers} from './late-timers.js';

/** Upstream HTTP/2 sessions at most (each multiplexes up to the app's SETTINGS_MAX_CONCURRENT_STREAMS). */
export const H2_UPSTREAM_SESSIONS = 4;

export interface H2ServerDeps {
  config: Config;
  metrics: Metrics;
  log: Logger;
  phase: () => Phase;
  now?: () => number;
  /** The pooled sessions to an h2c app, owned (and destroyed) by the caller; else created here when needed. */
  upstream?: H2Upstream;
  /** Called for every stream that counts as traffic (not a probe or health check): the quiet detector's clock. */
  onTraffic?: (at: number) => void;
}

export type H2Stats = {
  sessions: number;
  streams: number;
  served: number;
  drained: number;
  goaways: number;
  cut: number;
};

export interface H2Server {
  /** A connection whose first bytes were the HTTP/2 preface (put back on the socket). */
  handle(socket: Socket): void;
  /** The drain began: graceful GOAWAY to every session, and to each new one after its first stream. Idempotent. */
  drain(): void;
  /** Closing: GOAWAY to every session not yet told; resolves when no session is left. Idempotent. */
  close(): Promise<void>;
  /** The deadline: ends every open stream (gRPC UNAVAILABLE or RST_STREAM), closes every session; returns streams cut and idle sessions closed. Idempotent. */
  destroy(): {streams: number; sessions: number};
  stats(): H2Stats;
  lastTrafficAt(): number;
}

export interface SessionState {
  readonly session: ServerHttp2Session;
  /** Read once per session: `session.socket` is a guarding Proxy, costly to go through per stream. */
  readonly remoteAddress: string | undefined;
  readonly streams: Set<Exchange>;
  goaway: boolean;
  /**
   * The connection's own socket (node gives sessions only a guarding Proxy of it): the first GOAWAY of the drain is
   * written on it directly (goaway.ts).
   */
  readonly rawSocket: Socket | undefined;
  /** Streams the client opened, and how many of them it reset young (h2-abuse.ts). */
  opened: number;
  prematureResets: number;
  /** Ended for abuse (rapid reset, a flood, a protocol error): counted once. */
  abusive: boolean;
}

/** One stream: a request and its response. */
export interface Exchange {
  readonly start: number;
  readonly phase: Phase;
  readonly grpc: boolean;
  /** The client accepts trailers (`TE: trailers`). */
  readonly teTrailers: boolean;
  readonly stream: ServerHttp2Stream;
  /** Its session's state (undefined for a session not tracked). */
  readonly st: SessionState | undefined;
  /** The upstream half, to cancel it when the client goes away (called as `ex.cancel()`: shared, not a closure). */
  cancel: ((this: Exchange) => void) | undefined;
  /** The app's stream, for `cancel` (HTTP/2 app). */
  upstream: ClientHttp2Stream | undefined;
  /** Response headers sent to the client (then failures can only end it with trailers or a reset). */
  responded: boolean;
  status: number;
  /** Trailers to send when the client stream wants them (the app's, or a gRPC status lameduck sets). */
  trailers: OutgoingHttpHeaders | undefined;
  grpcStatus: unknown;
  /** lameduck answered (or reset) it itself: not an app response, not "drained". */
  failed: boolean;
  /** Cut at the deadline. */
  cut: boolean;
  closed: boolean;
  /** The app's stream, whose idle timeout waits to be armed (late-timers.ts); undefined once armed or when none applies. */
  lateUpstream: ClientHttp2Stream | undefined;
  /** The send timeout waits to be armed (late-timers.ts). */
  lateSend: boolean;
}

/** What changes while the server runs. */
export interface H2State {
  inFlight: number;
  served: number;
  drained: number;
  goaways: number;
  cutStreams: number;
  /** now() of the newest stream that counts as traffic. */
  lastTraffic: number;
  /** drain() was called (or close()): GOAWAY to every session. */
  draining: boolean;
  /** close() was called: the `closing` phase. */
  closing: boolean;
  /** destroy() was called: the deadline is cutting what is left. */
  destroying: boolean;
  cutResult: {streams: number; sessions: number} | undefined;
  closePromise: Promise<void> | undefined;
  /** Set while close() waits for the last session. */
  resolveClose: (() => void) | undefined;
  /** The upstream session pool created here (not the caller's), destroyed with the server. */
  upstream: H2Upstream | undefined;
  agent: Agent | undefined;
  /** Streams waiting for the next forwarding batch, flat (exchange, headers, remote address) (h2-abuse.ts). */
  batch: unknown[];
  /** The socket being handed to node:http2 right now: its session is created synchronously, within the hand-over. */
  arriving: Socket | undefined;
}

export interface H2Context extends PlaneContext {
  readonly isProbe: ReturnType<typeof createH2ProbeMatcher>;
  /** The app speaks h2c (`LAMEDUCK_UPSTREAM=h2c://`), else HTTP/1.1. */
  readonly h2Upstream: boolean;
  readonly onTraffic: ((at: number) => void) | undefined;
  /** Pre-bound label children: no label objects per stream. */
  readonly streamsByPhase: ReadonlyMap<Phase, {inc(): void}>;
  readonly grpcByClass: ReadonlyMap<GrpcStatusClass, {inc(): void}>;
  readonly clientTimeouts: ReadonlyMap<ClientTimeoutKind, {inc(): void}>;
  readonly connectionErrors: ReadonlyMap<H2ConnectionError, {inc(): void}>;
  readonly sessions: Map<ServerHttp2Session, SessionState>;
  readonly server: Http2Server;
  readonly state: H2State;
  /** The upstream session pool (the caller's, else created on first use). */
  h2(): H2Upstream;
  /** The keep-alive agent to an HTTP/1.1 app (created on first use). */
  h1Agent(): Agent;
  /** A stream's `error` listener (shared by every stream). */
  readonly onStreamError: (this: ServerHttp2Stream, error: Error) => void;
  /** A stream's `close` listener (shared by every stream): its accounting (h2-stream.ts). */
  readonly onStreamClose: (this: ServerHttp2Stream) => void;
  /** A stream's `timeout` and `resume` listeners (shared by every stream): the body and send timeouts (h2-client-timeouts.ts). */
  readonly streamTimers: StreamTimerHandlers;
  /** The listeners of the streams to the app (h2-forward.ts), shared by every stream. */
  readonly forwardHandlers: ForwardHandlers;
  /** Per-stream idle timeouts (upstream, send), armed only for streams that outlive a tick (late-timers.ts). */
  readonly late: LateTimers;
}

export function createH2Context(deps: H2ServerDeps, server: Http2Server): H2Context {
  const {config, metrics} = deps;
  const log = deps.log.child({component: 'h2'});
  const now = deps.now ?? (() => performance.now());
  const debug = log.isEnabled('debug');
  const state: H2State = {
    inFlight: 0,
    served: 0,
    drained: 0,
    goaways: 0,
    cutStreams: 0,
    lastTraffic: 0,
    draining: false,
    closing: false,
    destroying: false,
    cutResult: undefined,
    closePromise: undefined,
    resolveClose: undefined,
    upstream: undefined,
    agent: undefined,
    batch: [],
    arriving: undefined,
  };
  const ctx: H2Context = {
    config,
    metrics,
    log,
    phase: deps.phase,
    now,
    debug,
    throttle: createLogThrottle({log, now}),
    isProbe: createH2ProbeMatcher(config.quietIgnorePaths),
    h2Upstream: config.upstreamProtocol === 'h2c',
    onTraffic: deps.onTraffic,
    streamsByPhase: metrics.h2StreamsByPhase,
    grpcByClass: new Map(GRPC_STATUS_CLASSES.map((c) => [c, metrics.grpcResponses.labels(c)])),
    clientTimeouts: new Map(CLIENT_TIMEOUT_KINDS.map((k) => [k, metrics.clientTimeouts.labels(k)])),
    connectionErrors: new Map(H2_CONNECTION_ERRORS.map((r) => [r, metrics.h2ConnectionErrors.labels(r)])),
    sessions: new Map(),
    server,
    state,
    h2: () => deps.upstream ?? (state.upstream ??= createH2UpstreamFor(config)),
    h1Agent: () => (state.agent ??= new Agent({keepAlive: true, maxSockets: config.upstreamMaxSockets, timeout: config.upstreamIdleTimeoutMs, noDelay: true})),
    onStreamError(error) {
      if (debug) log.debug('h2 stream error', {error});
    },
    onStreamClose() {
      finishStream(ctx, this);
    },
    streamTimers: createStreamTimerHandlers(() => ctx),
    forwardHandlers: createForwardHandlers(() => ctx),
    late: createLateTimers(lateTickMs(config.upstreamTimeoutMs, config.sendTimeoutMs, config.clientBodyTimeoutMs), now, (olderThan) => armLate(ctx, olderThan)),
  };
  return ctx;
}

/** The upstream session pool for an h2c app with lameduck's bounds. */
export function createH2UpstreamFor(config: Config): H2Upstream {
  return createH2Upstream({
    upstream: config.upstream,
    idleTimeoutMs: config.upstreamIdleTimeoutMs,
    maxSessions: Math.min(H2_UPSTREAM_SESSIONS, config.upstreamMaxSockets),
    // Streams past the app's concurrency limits wait inside nghttp2: bounded like HTTP/1.1's queue for a socket.
    maxPending: config.upstreamMaxQueue,
  });
}
