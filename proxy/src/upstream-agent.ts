/**
 * The keep-alive connection pool to the app. Its idle timeout must stay below the app's keep-alive timeout: a pooled
 * socket the app has just closed would otherwise be picked for the next request and turn into a 502 (the classic
 * keep-alive race; Node's own server closes idle sockets after 5 s, hence the 4 s default). Node's agent also honours
 * a `Keep-Alive: timeout=N` hint from the app, shortening the idle time to N-1 s.
 *
 * LIFO scheduling reuses the most recently used sockets, so under light load the others reach the idle timeout and
 * close on our side first, instead of every socket being kept barely alive until the app closes it.
 *
 * Taking a pooled socket is the hot path of every request: node's `Agent.addRequest` copies the request options and
 * the agent's options into a fresh null-prototype object and derives the pool name from it each time (~4 µs of the
 * ~75 µs lameduck spends per request, measured with --cpu-prof; docs/performance.md). lameduck's agent serves one
 * upstream, so it hands out a free socket directly, through the documented pool (`freeSockets`, `sockets`,
 * `reuseSocket`) and `req.onSocket()` as agent-base does
 * (https://github.com/TooTallNate/proxy-agents/blob/main/packages/agent-base/src/index.ts); everything else — a new
 * connection, queueing at maxSockets, returning sockets to the pool, the idle timeout — is node's own code.
 *
 * What the fast path leaves out of node's: resetting the reused socket's async resource (an internal API), so events
 * of a reused socket (a reset, a timeout) run in the async context of the request that opened it. lameduck keeps no
 * per-request AsyncLocalStorage; a tracer injected into it would attribute those events to an earlier request.
 */
import {Agent, type ClientRequest} from 'node:http';
import type {Socket} from 'node:net';
import type {Config} from './config.js';

type PoolOptions = Parameters<Agent['getName']>[0] & {host?: string | null; port?: number | string | null};
/** The parts of node's Agent this file uses that @types/node leaves out or types read-only. */
interface AgentPool {
  freeSockets: Record<string, Socket[] | undefined>;
  sockets: Record<string, Socket[] | undefined>;
}
const nodeAddRequest = (Agent.prototype as unknown as {addRequest(req: ClientRequest, options: PoolOptions): void}).addRequest;

class UpstreamAgent extends Agent {
  /** The pool name of the last request's host and port (lameduck sends every request to one upstream). */
  private lastKey: string | undefined;
  private lastName = '';

  addRequest(req: ClientRequest, options: PoolOptions): void {
    const key = `${options.host}:${options.port}`;
    if (key !== this.lastKey) {
      this.lastName = this.getName(options);
      this.lastKey = options.localAddress === undefined && options.family === undefined ? key : undefined;
    }
    const name = this.lastName;
    const pool = this as unknown as AgentPool;
    const free = pool.freeSockets[name];
    let socket: Socket | undefined;
    while (free !== undefined && free.length > 0 && socket === undefined) {
      const candidate = free.pop()!;
      if (!candidate.destroyed) socket = candidate;
    }
    if (free !== undefined && free.length === 0) delete pool.freeSockets[name];
    if (socket === undefined) {
      // No idle connection: node opens one, or queues the request at maxSockets.
      nodeAddRequest.call(this, req, options);
      return;
    }
    this.reuseSocket(socket, req);
    (req as ClientRequest & {onSocket(socket: Socket): void}).onSocket(socket);
    (pool.sockets[name] ??= []).push(socket);
  }
}

export function createUpstreamAgent(config: Pick<Config, 'upstreamIdleTimeoutMs' | 'upstreamMaxSockets'>): Agent {
  return new UpstreamAgent({
    keepAlive: true,
    // TCP keep-alive probes on pooled sockets (not the HTTP idle timeout).
    keepAliveMsecs: 1000,
    maxSockets: config.upstreamMaxSockets,
    maxFreeSockets: config.upstreamMaxSockets,
    // For pooled sockets: destroyed after this long idle (the agent resets it whenever a socket returns to the pool).
    timeout: config.upstreamIdleTimeoutMs,
    scheduling: 'lifo',
  });
}
