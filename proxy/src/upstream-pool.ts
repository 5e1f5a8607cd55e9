/**
 * The keep-alive connection pool to the app, on undici's HTTP/1.1 client (https://github.com/nodejs/undici).
 *
 * Why undici and not node:http's ClientRequest: the upstream half of a request is most of what a Node proxy spends
 * per request. In the same run (docs/performance.md "The upstream client"), a node:http server forwarding
 * through undici carried ~1.7× the requests per core of the same server forwarding through `http.request` with a
 * keep-alive Agent. undici parses responses with llhttp too (as WebAssembly) and hands over the raw head and body
 * chunks without building an IncomingMessage stream per response.
 *
 * One undici `Client` per connection (pipelining 1: one request at a time on a connection, as node's Agent does),
 * pooled here rather than in undici's `Pool` for two things the forwarder needs:
 * - **Reuse is known.** A lease says whether its connection had already carried a request: only then can a reset
 *   before any response byte be the keep-alive race (the app closed the idle connection as we picked it), which the
 *   forwarder retries once for idempotent requests (RFC 9110 §9.2.2).
 * - **LIFO.** The most recently used idle connection goes first, so under light load the others reach the idle
 *   timeout and close on our side, instead of every connection being kept barely alive until the app closes it.
 *
 * The idle timeout must stay below the app's keep-alive timeout, or a pooled connection the app has just closed is
 * picked for the next request (the classic keep-alive race; Node's own server closes idle connections after 5 s,
 * hence the 4 s default). A `Keep-Alive: timeout=N` hint from the app shortens it to N − 1 s, as node's Agent does.
 * At `maxSockets` connections in use, further requests wait in arrival order, but not without bound: at most
 * `upstreamMaxQueue` of them, each at most `upstreamQueueTimeoutMs` (HAProxy's `maxqueue` and `timeout queue`, Envoy's
 * `max_pending_requests`); the others are rejected at once so that the forwarder answers a fast 503. One timer for
 * the whole queue, set for its oldest entry (arrival order is deadline order): no timer per waiting request.
 */
import type {Client as UndiciClient, Dispatcher} from 'undici';
// The client module alone, not the package index (8 MB less RSS): undici-client.d.ts.
import Client from 'undici/lib/dispatcher/client.js';
import type {EventEmitter} from 'node:events';
import type {Config} from './config.js';

export interface UpstreamLease {
  /** Sends this one request on the leased connection. */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void;
  /** Gives the connection back once the handler has seen completion or an error (idempotent). */
  release(): void;
  /**
   * The connection this request went out on had carried a request before it (a reset now may be the keep-alive
   * race). Read when it matters (at the error): undici may have reconnected since the lease began.
   */
  readonly reused: boolean;
}

export interface UpstreamPool {
  /**
   * Calls `onLease` with a connection once one is free: an idle one (most recently used first), a new one while fewer
   * than maxSockets exist, or, at the cap, the next one released. `fresh`: a new connection outside the pool, closed
   * after the request (the retry after a reset: every pooled connection may be as stale as the one that failed).
   * Returns a cancel function: a request that waits for a connection and whose client leaves is dropped from the queue.
   * `onQueueRejected` is called instead of `onLease` when the queue is full (at once) or the wait passed the queue
   * timeout. An object rather than callbacks: the forwarder's per-attempt handler is the requester, no closure per request.
   */
  lease(requester: LeaseRequester, fresh?: boolean): () => void;
  /** Closes every connection now (the drain is over, or the deadline cut what was left). Idempotent. */
  destroy(): void;
}

export type QueueRejection = 'queue_full' | 'queue_timeout';

export interface LeaseRequester {
  onLease(lease: UpstreamLease): void;
  onQueueRejected(reason: QueueRejection): void;
}

interface Waiter {
  readonly requester: LeaseRequester;
  /** performance.now() after which it is rejected. */
  readonly deadline: number;
}

interface Slot {
  readonly client: UndiciClient;
  /** In the pool; else a one-off connection (the retry), closed after its request. */
  readonly pooled: boolean;
  /** Requests handed to the current connection (the one being leased included). */
  carried: number;
  leased: boolean;
}

export type UpstreamPoolConfig = Pick<Config, 'upstream' | 'upstreamIdleTimeoutMs' | 'upstreamMaxSockets' | 'upstreamTimeoutMs'> &
  Partial<Pick<Config, 'upstreamMaxQueue' | 'upstreamQueueTimeoutMs'>>;

const noCancel = (): void => {};

export function createUpstreamPool(config: UpstreamPoolConfig): UpstreamPool {
  const origin = config.upstream.origin;
  const options: UndiciClient.Options = {
    pipelining: 1,
    keepAliveTimeout: config.upstreamIdleTimeoutMs,
    keepAliveMaxTimeout: config.upstreamIdleTimeoutMs,
    // The app's `Keep-Alive: timeout=N` minus 1 s.
    keepAliveTimeoutThreshold: 1000,
    // No byte from the app for this long, while it owes us a head or more body: 504 (0 turns both off). undici
    // restarts the head timer as request-body chunks go out, so a slow upload is not a timeout.
    headersTimeout: config.upstreamTimeoutMs,
    bodyTimeout: config.upstreamTimeoutMs,
    // TCP keep-alive probes on pooled connections (not the HTTP idle timeout); no Nagle delay on small writes.
    connect: {keepAlive: true, keepAliveInitialDelay: 1000, noDelay: true},
  };
  const slots: Slot[] = [];
  /** Idle slots, most recently released last. */
  const idle: Slot[] = [];
  const waiting: Waiter[] = [];
  const maxQueue = config.upstreamMaxQueue ?? Infinity;
  const queueTimeoutMs = config.upstreamQueueTimeoutMs ?? 0;
  let queueTimer: NodeJS.Timeout | undefined;
  let destroyed = false;

  /** Rejects the waiters past their deadline, then sets the one timer for the oldest remaining one. */
  const expire = (): void => {
    queueTimer = undefined;
    const t = performance.now();
    while (waiting.length > 0 && waiting[0]!.deadline <= t) waiting.shift()!.requester.onQueueRejected('queue_timeout');
    schedule();
  };
  const schedule = (): void => {
    if (queueTimer !== undefined || waiting.length === 0 || queueTimeoutMs <= 0 || destroyed) return;
    queueTimer = setTimeout(expire, Math.max(1, waiting[0]!.deadline - performance.now()));
    queueTimer.unref();
  };

  const newSlot = (pooled: boolean): Slot => {
    const client = new Client(origin, options);
    const slot: Slot = {client, pooled, carried: 0, leased: false};
    client.on('connect', () => {
      // The leased request (if any) goes out on this new connection.
      slot.carried = slot.leased ? 1 : 0;
    });
    client.on('disconnect', () => {
      slot.carried = 0;
      // An idle connection that closed (idle timeout, or the app closed it): drop the slot, so that the next request
      // takes a live connection if there is one, or opens a new one.
      if (pooled && !slot.leased) retire(slot);
    });
    // undici emits `error` on the client when a request's handler throws; it must never take the sidecar down.
    (client as unknown as EventEmitter).on('error', () => {});
    if (pooled) slots.push(slot);
    return slot;
  };

  const retire = (slot: Slot): void => {
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
    const j = idle.indexOf(slot);
    if (j >= 0) idle.splice(j, 1);
    slot.client.destroy().catch(() => {});
  };

  const giveBack = (slot: Slot): void => {
    slot.leased = false;
    if (!slot.pooled || destroyed) {
      slot.client.destroy().catch(() => {});
      return;
    }
    if (waiting.length === 0) {
      idle.push(slot);
      return;
    }
    // The next waiting request goes out on this connection, but not from inside undici's callback that released it:
    // undici asserts on its own queue right after some of them (a connect error), and a dispatch there would throw.
    slot.leased = true;
    queueMicrotask(() => {
      slot.leased = false;
      if (destroyed) return; // destroy() closed every slot, this one included
      const next = waiting.shift();
      if (next === undefined) idle.push(slot);
      else handOut(slot, next.requester);
    });
  };

  const handOut = (slot: Slot, requester: LeaseRequester): void => {
    slot.leased = true;
    slot.carried++;
    let released = false;
    requester.onLease({
      get reused() {
        // `connect` resets the count to 1 for the leased request; a second request on one connection makes it 2.
        return slot.carried > 1;
      },
      dispatch(opts, handler) {
        slot.client.dispatch(opts, handler);
      },
      release() {
        if (released) return;
        released = true;
        giveBack(slot);
      },
    });
  };

  return {
    lease(requester, fresh = false) {
      if (fresh || destroyed) {
        handOut(newSlot(false), requester);
        return noCancel;
      }
      const slot = idle.pop() ?? (slots.length < config.upstreamMaxSockets ? newSlot(true) : undefined);
      if (slot !== undefined) {
        handOut(slot, requester);
        return noCancel;
      }
      if (waiting.length >= maxQueue) {
        requester.onQueueRejected('queue_full');
        return noCancel;
      }
      const waiter: Waiter = {requester, deadline: queueTimeoutMs > 0 ? performance.now() + queueTimeoutMs : Infinity};
      waiting.push(waiter);
      schedule();
      return () => {
        const i = waiting.indexOf(waiter);
        if (i >= 0) waiting.splice(i, 1);
      };
    },
    destroy() {
      destroyed = true;
      // A leased connection's request fails with undici's "destroyed" error, which its handler ignores: by now the
      // client side of every exchange is closed or being cut.
      for (const slot of [...slots]) retire(slot);
      waiting.length = 0;
      if (queueTimer !== undefined) clearTimeout(queueTimer);
      queueTimer = undefined;
    },
  };
}
