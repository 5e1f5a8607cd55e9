/**
 * Every client connection of the traffic listener, with what it is doing: requests in flight, or upgraded to a
 * byte pipe (WebSocket). The drain needs these counts (docs/design.md "Data plane": they feed the drain) and the deadline
 * needs the sockets themselves to cut what remains. Per connection, not per request: nothing here runs on the
 * request hot path except the two counters the forwarder bumps.
 */
import type {ServerResponse} from 'node:http';
import type {Socket} from 'node:net';
import type {Metrics} from './metrics.js';

export interface TrackedConnection {
  readonly socket: Socket;
  /**
   * Responses to requests read from this connection that have not closed yet, in arrival order (more than one when
   * the client pipelines): their number is the connection's requests in flight.
   */
  readonly responses: ServerResponse[];
  /** Handed over to an upgrade (WebSocket) until it closes. */
  upgraded: boolean;
  /**
   * A response on it carried (or will carry) `Connection: close`, or a pipelined request was refused: no request
   * after that point is forwarded (RFC 9112 §9.6).
   */
  closing: boolean;
}

export interface ConnectionCounts {
  open: number;
  /** Neither in flight nor upgraded: keep-alive sockets between requests, or not yet sent a complete request. */
  idle: number;
  busy: number;
  upgraded: number;
}

export interface ConnectionTracker {
  add(socket: Socket): TrackedConnection;
  get(socket: Socket): TrackedConnection | undefined;
  markUpgraded(conn: TrackedConnection): void;
  upgradedCount(): number;
  size(): number;
  counts(): ConnectionCounts;
  all(): IterableIterator<TrackedConnection>;
}

export function createConnectionTracker(deps: {
  metrics: Pick<Metrics, 'openConnections' | 'upgradedConnections'>;
  /** After a connection closed and left the counts. */
  onClose?: (conn: TrackedConnection) => void;
}): ConnectionTracker {
  const {metrics, onClose} = deps;
  const connections = new Map<Socket, TrackedConnection>();
  let upgraded = 0;

  return {
    add(socket) {
      const conn: TrackedConnection = {socket, responses: [], upgraded: false, closing: false};
      connections.set(socket, conn);
      metrics.openConnections.inc();
      socket.once('close', () => {
        connections.delete(socket);
        metrics.openConnections.dec();
        if (conn.upgraded) {
          upgraded--;
          metrics.upgradedConnections.dec();
        }
        onClose?.(conn);
      });
      return conn;
    },
    get: (socket) => connections.get(socket),
    markUpgraded(conn) {
      if (conn.upgraded || !connections.has(conn.socket)) return;
      conn.upgraded = true;
      upgraded++;
      metrics.upgradedConnections.inc();
    },
    upgradedCount: () => upgraded,
    size: () => connections.size,
    counts() {
      let busy = 0;
      for (const c of connections.values()) if (!c.upgraded && c.responses.length > 0) busy++;
      return {open: connections.size, idle: connections.size - busy - upgraded, busy, upgraded};
    },
    all: () => connections.values(),
  };
}
