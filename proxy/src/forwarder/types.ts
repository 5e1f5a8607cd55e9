/** The forwarder's public interface (docs/design.md "Data plane"): what sidecar.ts, main.ts and the tests use. */
import type {AddressInfo} from 'node:net';
import type {Config} from '../config.js';
import type {Logger} from '../log.js';
import type {Metrics} from '../metrics.js';
import type {Phase} from '../phase.js';

export interface ForwarderDeps {
  config: Config;
  metrics: Metrics;
  log: Logger;
  /** Current drain phase, read per request: label for metrics; any phase other than 'serving' => every response carries `Connection: close`. */
  phase: () => Phase;
  /** Monotonic ms clock (default performance.now). */
  now?: () => number;
}

/** A type alias rather than an interface so that it is assignable to `Record<string, unknown>` (sidecar.ts's ForwarderLike). */
export type ForwarderStats = {
  openConnections: number;
  idleConnections: number;
  inFlight: number;
  upgraded: number;
  served: number;
  drained: number;
  cut: {requests: number; upgrades: number; connections: number};
  /** The HTTP/2 part (also counted in the totals above): sessions and streams open now, streams served, drained and cut, GOAWAYs sent. */
  h2: {sessions: number; streams: number; served: number; drained: number; goaways: number; cut: number};
};

export interface Forwarder {
  /** Binds config.listen. Empty host => dual-stack '::' (ipv6Only false), falling back to '0.0.0.0' when IPv6 is unavailable. Rejects with LameduckError('LISTEN_FAILED') naming the address. */
  listen(): Promise<AddressInfo>;
  address(): AddressInfo | null;
  stats(): ForwarderStats;
  /** now() of the newest request that counts as traffic; probes (User-Agent starting `kube-probe/`, `ELB-HealthChecker/`, `GoogleHC/`, or path in config.quietIgnorePaths) do not count. 0 if none yet. */
  lastTrafficAt(): number;
  /** The drain began (`deregistering`): HTTP/2 sessions get their graceful GOAWAY (HTTP/1.1 responses read phase() for `Connection: close`). */
  drainStarted(): void;
  /** The `closing` phase: stop accepting new connections, close idle keep-alive sockets now, close each busy one right after its response ends; resolves when no request is in flight and no upgraded socket is open. Idempotent (same promise). */
  close(): Promise<void>;
  /** The deadline: destroy every remaining socket (in-flight requests, upgraded sockets, any connection), count them in metrics.cut by kind and in stats().cut, and return them. Idempotent. */
  destroy(): {requests: number; upgrades: number; connections: number};
}

/**
 * The status recorded for a request that got no complete response because the client went away or the deadline cut
 * it (nginx's convention for "client closed request"); it lands in the 4xx class of lameduck_requests_total.
 */
export const STATUS_CLIENT_CLOSED = 499;
