/**
 * The state every part of the forwarder shares, in one explicit object: the counters the drain reads, the closing
 * flags, and the shared services (metrics, log, pool, connection tracker). Each part (exchange.ts, attempt.ts,
 * upgrade.ts, client-errors.ts, server.ts) takes this context rather than closing over shared variables.
 */
import type {ServerResponse} from 'node:http';
import type {PlaneContext} from '../plane-context.js';
import {createConnectionTracker, type ConnectionTracker, type TrackedConnection} from '../connection-tracker.js';
import {createLogThrottle} from '../log-throttle.js';
import {UPSTREAM_ERROR_REASONS, type UpstreamErrorReason} from '../metrics.js';
import {createProbeMatcher, type ProbeMatcher} from '../probe-requests.js';
import {createUpstreamPool, type UpstreamPool} from '../upstream-pool.js';
import {abandonResponses} from './exchange.js';
import type {ForwarderDeps} from './types.js';

/** What changes while the forwarder runs. */
export interface ForwarderState {
  inFlight: number;
  served: number;
  drained: number;
  /** now() of the newest request that counts as traffic. */
  lastTraffic: number;
  /** close() was called: the `closing` phase. */
  closing: boolean;
  /** destroy() was called: the deadline is cutting what is left. */
  destroying: boolean;
  closePromise: Promise<void> | undefined;
  /** Set while close() waits for the last request or upgraded socket. */
  resolveClose: (() => void) | undefined;
  cut: {requests: number; upgrades: number; connections: number} | undefined;
}

export interface ForwarderContext extends PlaneContext {
  readonly isProbe: ProbeMatcher;
  readonly upstreamErrors: ReadonlyMap<UpstreamErrorReason, {inc(): void}>;
  readonly pool: UpstreamPool;
  readonly tracker: ConnectionTracker;
  readonly upstreamAuthority: string;
  readonly state: ForwarderState;
  /** Whether a response must close its connection: any drain phase, or closing. */
  mustClose(): boolean;
  /** A response's `error` listener (shared by every response): a write after the client went away must not take the sidecar down. */
  readonly onResponseError: (this: ServerResponse, err: Error) => void;
  /** Starts or refuses the requests held behind the ones that just ended on `conn` (pipeline.ts; set by server.ts). */
  continuePipeline: (conn: TrackedConnection) => void;
  /** Resolves close() once nothing is in flight and no upgraded socket is open. */
  checkDrained(): void;
}

export function createContext(deps: ForwarderDeps): ForwarderContext {
  const {config, metrics, phase} = deps;
  const log = deps.log.child({component: 'forwarder'});
  const now = deps.now ?? (() => performance.now());
  const state: ForwarderState = {
    inFlight: 0,
    served: 0,
    drained: 0,
    lastTraffic: 0,
    closing: false,
    destroying: false,
    closePromise: undefined,
    resolveClose: undefined,
    cut: undefined,
  };
  const pool = createUpstreamPool(config);
  const ctx: ForwarderContext = {
    config,
    metrics,
    log,
    phase,
    now,
    debug: log.isEnabled('debug'),
    isProbe: createProbeMatcher(config.quietIgnorePaths),
    throttle: createLogThrottle({log, now}),
    upstreamErrors: new Map<UpstreamErrorReason, {inc(): void}>(UPSTREAM_ERROR_REASONS.map((r) => [r, metrics.upstreamErrors.labels(r)])),
    pool,
    tracker: createConnectionTracker({
      metrics,
      onClose: (conn) => {
        // After node's own close handling of the response that owned the socket.
        if (conn.responses.length > 0) setImmediate(abandonResponses, conn);
        if (conn.upgraded && state.closing) ctx.checkDrained();
      },
    }),
    upstreamAuthority: config.upstream.host,
    state,
    onResponseError(this: ServerResponse, err: Error) {
      if (ctx.debug) log.debug('response error', {error: err});
      this.destroy();
    },
    continuePipeline: () => {},
    mustClose: () => state.closing || phase() !== 'serving',
    checkDrained() {
      if (state.resolveClose === undefined || state.inFlight > 0 || ctx.tracker.upgradedCount() > 0) return;
      const resolve = state.resolveClose;
      state.resolveClose = undefined;
      // Nothing will be forwarded any more: release the pooled upstream sockets rather than wait for their idle timeout.
      pool.destroy();
      resolve();
    },
  };
  return ctx;
}
