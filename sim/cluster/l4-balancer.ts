/**
 * A Service's virtual IP as kube-proxy makes it work (iptables/nftables mode), in user space:
 * - each new TCP connection is DNATed to one routable endpoint of the proxy's current view (routing.ts: ready ones,
 *   else serving+terminating ones, KEP-1669), picked at random;
 * - the view lags the EndpointSlices (endpoint-view.ts);
 * - an established connection stays with its pod for its whole life, whatever the view says later (conntrack keeps
 *   the DNAT; kube-proxy flushes conntrack only for UDP);
 * - a connection to a pod that is gone fails: the kernel answers the SYN with a RST. A user-space proxy has already
 *   accepted the client's connection by then, so the client sees its connection reset (ECONNRESET) instead of
 *   ECONNREFUSED — the same failure, counted here as `refused` in the balancer's stats;
 * - no routable endpoint at all: kube-proxy REJECTs, so the connection is reset at once (`noEndpoint`).
 * FIN and RST travel end to end (half-close included), so servers closing keep-alive connections look the same to
 * the client as without the balancer.
 */
import {createServer, createConnection, type Server, type Socket} from 'node:net';
import type {EndpointView} from './endpoint-view.js';
import {listenDeep} from './listen.js';
import {pickEndpoint, routableEndpoints} from './routing.js';

export interface L4Stats {
  connections: number;
  /** New connections per pod (targetRef name, else ip). */
  byPod: Record<string, number>;
  /** Connections that went to a serving+terminating endpoint because no endpoint was ready. */
  fallback: number;
  /** Connections reset because the view had no routable endpoint. */
  noEndpoint: number;
  /** Connections whose endpoint refused (the pod's socket was gone). */
  refused: number;
  /** Established connections whose backend side was reset. */
  resets: number;
}

export interface L4Balancer {
  readonly host: string;
  readonly port: number;
  readonly stats: L4Stats;
  /** Connections currently open, with the pod each is pinned to. */
  open(): {pod: string; since: number}[];
  close(): Promise<void>;
}

export interface L4BalancerOptions {
  view: EndpointView;
  /** The virtual IP to listen on. */
  host: string;
  /** Default 0 (any free port). */
  port?: number;
  random?: () => number;
}

function reset(socket: Socket): void {
  if (socket.destroyed) return;
  // resetAndDestroy sends a RST (SO_LINGER 0), which is what the client of a dead backend gets.
  if (typeof socket.resetAndDestroy === 'function' && socket.readyState !== 'opening') socket.resetAndDestroy();
  else socket.destroy();
}

export async function startL4Balancer(opts: L4BalancerOptions): Promise<L4Balancer> {
  const stats: L4Stats = {connections: 0, byPod: {}, fallback: 0, noEndpoint: 0, refused: 0, resets: 0};
  const pairs = new Map<Socket, {backend: Socket; pod: string; since: number}>();

  const server: Server = createServer({allowHalfOpen: true, pauseOnConnect: true}, (client) => {
    stats.connections++;
    client.on('error', () => undefined);
    const view = opts.view.endpoints();
    const endpoint = pickEndpoint(view, opts.random);
    if (!endpoint) {
      stats.noEndpoint++;
      reset(client);
      return;
    }
    if (routableEndpoints(view).fallback) stats.fallback++;
    const pod = endpoint.pod ?? endpoint.ip;
    stats.byPod[pod] = (stats.byPod[pod] ?? 0) + 1;
    const backend = createConnection({host: endpoint.ip, port: endpoint.port, allowHalfOpen: true});
    backend.setNoDelay(true);
    client.setNoDelay(true);
    pairs.set(client, {backend, pod, since: Date.now()});
    let connected = false;
    backend.once('connect', () => {
      connected = true;
      client.pipe(backend);
      backend.pipe(client);
      client.resume();
    });
    backend.on('error', () => {
      if (!connected) stats.refused++;
      else stats.resets++;
      reset(client);
    });
    client.on('error', () => reset(backend));
    // A peer that vanishes without FIN (destroy) must not leave the other side open.
    client.on('close', () => {
      pairs.delete(client);
      if (!backend.destroyed && (backend.writableEnded || !connected)) backend.destroy();
    });
    backend.on('close', (hadError) => {
      if (hadError) reset(client);
      else if (!client.destroyed && client.writableEnded) client.destroy();
    });
  });

  const port = await listenDeep(server, opts.host, opts.port);

  return {
    host: opts.host,
    port,
    stats,
    open: () => [...pairs.values()].map(({pod, since}) => ({pod, since})),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const [client, {backend}] of pairs) {
        client.destroy();
        backend.destroy();
      }
      pairs.clear();
      await closed;
    },
  };
}
