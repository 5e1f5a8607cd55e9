/**
 * A small bounded pool of HTTP/2 sessions to the app (`LAMEDUCK_UPSTREAM=h2c://`), with prior knowledge (RFC 9113
 * §3.3): streams are multiplexed, so one session carries every request until the app's SETTINGS_MAX_CONCURRENT_STREAMS
 * is reached; only then is another opened, up to `maxSessions`. Past that, streams wait inside nghttp2 for a free
 * slot (it queues a request over the peer's limit) — up to `maxPending` of them, beyond which `open()` says
 * `overloaded` and the caller answers RESOURCE_EXHAUSTED / 503 rather than queue without bound.
 *
 * A session the app sends GOAWAY on (the app is shutting down or recycling connections) leaves the pool at once:
 * its open streams finish on it, new ones go to a new session. An idle session is closed after the idle timeout
 * (at most an eighth earlier), for the same reason as on HTTP/1.1 (upstream-pool.ts): our close must come before the app's.
 */
import {connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders} from 'node:http2';

/** node:http2's default when the app announces no limit: effectively one session. */
const UNLIMITED = 0xffffffff;

export interface H2UpstreamConfig {
  readonly upstream: URL;
  readonly idleTimeoutMs: number;
  /** Sessions at most (each a TCP connection). */
  readonly maxSessions: number;
  /** Streams that may wait beyond what the sessions' concurrency limits allow. */
  readonly maxPending: number;
}

export type OpenResult = {ok: true; stream: ClientHttp2Stream} | {ok: false; reason: 'overloaded' | 'closed'; error?: Error};

export interface H2Upstream {
  /**
   * Opens a stream to the app. Connection failures surface as the stream's 'error' (ECONNREFUSED, ...), exactly as
   * for a failure of the stream itself.
   */
  open(headers: OutgoingHttpHeaders, options: {endStream: boolean; waitForTrailers: boolean}): OpenResult;
  stats(): {sessions: number; streams: number};
  /** Closes every session now (the drain is over or cut). Idempotent. */
  destroy(): void;
}

interface Slot {
  readonly session: ClientHttp2Session;
  streams: number;
  /** The app's SETTINGS_MAX_CONCURRENT_STREAMS, kept from its SETTINGS frames (reading remoteSettings builds an object). */
  limit: number;
  /** performance.now() when its last stream ended (or it opened). */
  idleSince: number;
}

const kSlot = Symbol('lameduck.h2UpstreamSlot');
type SlotStream = ClientHttp2Stream & {[kSlot]: Slot};

export function createH2Upstream(config: H2UpstreamConfig): H2Upstream {
  const authority = `http://${config.upstream.host}`;
  const slots: Slot[] = [];
  let destroyed = false;
  let streams = 0;

  // Before the app's SETTINGS arrive the limit is taken as unlimited; nghttp2 queues what is over the real limit.
  const capacity = (slot: Slot): number => slot.limit - slot.streams;

  const drop = (slot: Slot): void => {
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
  };

  // Idle sessions are found by a coarse sweep, not by session.setTimeout: node refreshes a session's timer on
  // every frame of every stream, several times per request. A session is closed between `idleTimeoutMs - tick`
  // and `idleTimeoutMs` after its last stream ended: never later than configured (the app's close must not come first).
  const tickMs = Math.max(5, Math.min(1_000, Math.floor(config.idleTimeoutMs / 8)));
  let sweep: NodeJS.Timeout | undefined;
  const closeIdle = (): void => {
    const oldest = performance.now() - (config.idleTimeoutMs - tickMs);
    for (const slot of [...slots]) {
      if (slot.streams === 0 && slot.idleSince <= oldest) {
        drop(slot);
        slot.session.close();
      }
    }
    if (slots.length === 0 && sweep !== undefined) {
      clearInterval(sweep);
      sweep = undefined;
    }
  };

  const newSlot = (): Slot => {
    const session = connect(authority, {
      // Coalesce small DATA frames less; the proxy relays what it gets at once.
      settings: {enablePush: false},
    });
    const slot: Slot = {session, streams: 0, limit: UNLIMITED, idleSince: performance.now()};
    session.on('remoteSettings', (settings) => (slot.limit = settings.maxConcurrentStreams ?? UNLIMITED));
    // Errors surface on the streams; a session error without streams must not be uncaught.
    session.on('error', () => drop(slot));
    session.on('goaway', () => drop(slot));
    session.on('close', () => drop(slot));
    if (config.idleTimeoutMs > 0 && sweep === undefined) {
      sweep = setInterval(closeIdle, tickMs);
      sweep.unref();
    }
    // The pool must not keep the process alive on its own (the drain's end decides).
    session.unref();
    slots.push(slot);
    return slot;
  };

  // One listener for every stream (the slot rides on the stream): no closure per stream.
  function onStreamClose(this: SlotStream): void {
    const slot = this[kSlot];
    if (--slot.streams === 0) slot.idleSince = performance.now();
    streams--;
  }

  const pick = (): Slot | 'overloaded' => {
    let best: Slot | undefined;
    let bestFree = -Infinity;
    for (const slot of slots) {
      if (slot.session.closed || slot.session.destroyed) continue;
      const free = capacity(slot);
      if (free > bestFree) {
        best = slot;
        bestFree = free;
      }
    }
    if (best && bestFree > 0) return best;
    if (slots.length < config.maxSessions) return newSlot();
    if (best && -bestFree < config.maxPending) return best;
    return 'overloaded';
  };

  return {
    open(headers, options) {
      if (destroyed) return {ok: false, reason: 'closed'};
      const slot = pick();
      if (slot === 'overloaded') return {ok: false, reason: 'overloaded'};
      let stream: ClientHttp2Stream;
      try {
        stream = slot.session.request(headers, options);
      } catch (error) {
        // The session closed under us (ERR_HTTP2_GOAWAY_SESSION, ERR_HTTP2_INVALID_SESSION): the next call opens another.
        drop(slot);
        return {ok: false, reason: 'closed', error: error as Error};
      }
      slot.streams++;
      streams++;
      (stream as SlotStream)[kSlot] = slot;
      stream.on('close', onStreamClose);
      return {ok: true, stream};
    },
    stats: () => ({sessions: slots.length, streams}),
    destroy() {
      destroyed = true;
      if (sweep !== undefined) clearInterval(sweep);
      sweep = undefined;
      for (const slot of slots.splice(0)) slot.session.destroy(undefined, constants.NGHTTP2_CANCEL);
    },
  };
}
