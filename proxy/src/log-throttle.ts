/**
 * A warn line of each kind (its message) at most once per interval: an outage of the app must not turn into a log
 * flood (every request would fail). Each kind is throttled on its own, so a flood of one (a 503 per request while
 * the upstream sockets are taken) never hides the first line of another (the slow readers holding them). Each line
 * says how many of its kind were suppressed since the previous one; the last suppressed one is written when the
 * interval ends, so a burst is never silently lost.
 */
import type {Logger} from './log.js';

export interface LogThrottle {
  warn(msg: string, ctx: Record<string, unknown>): void;
  /** Cancels the pending flushes (the forwarder's destroy). */
  dispose(): void;
}

/** One kind of warning: when it was last written, and what waits for the end of its interval. */
interface Kind {
  lastAt: number;
  suppressed: number;
  pending: Record<string, unknown> | undefined;
  timer: NodeJS.Timeout | undefined;
}

export function createLogThrottle(deps: {log: Logger; now: () => number; intervalMs?: number}): LogThrottle {
  const {log, now} = deps;
  const intervalMs = deps.intervalMs ?? 1000;
  // Keyed by message: the messages are a small fixed set of constants in the code, never built from input.
  const kinds = new Map<string, Kind>();

  const emit = (msg: string, kind: Kind, ctx: Record<string, unknown>): void => {
    kind.lastAt = now();
    log.warn(msg, kind.suppressed > 0 ? {...ctx, suppressed: kind.suppressed} : ctx);
    kind.suppressed = 0;
  };
  const flush = (msg: string, kind: Kind): void => {
    kind.timer = undefined;
    const ctx = kind.pending;
    if (ctx === undefined) return;
    kind.pending = undefined;
    kind.suppressed--; // the one written now is no longer suppressed
    emit(msg, kind, ctx);
  };

  return {
    warn(msg, ctx) {
      let kind = kinds.get(msg);
      if (kind === undefined) {
        kind = {lastAt: -Infinity, suppressed: 0, pending: undefined, timer: undefined};
        kinds.set(msg, kind);
      }
      const t = now();
      if (t - kind.lastAt >= intervalMs) {
        kind.pending = undefined;
        if (kind.timer) clearTimeout(kind.timer);
        kind.timer = undefined;
        emit(msg, kind, ctx);
        return;
      }
      kind.suppressed++;
      kind.pending = ctx;
      if (!kind.timer) {
        const k = kind;
        kind.timer = setTimeout(() => flush(msg, k), Math.max(1, intervalMs - (t - kind.lastAt)));
        kind.timer.unref();
      }
    },
    dispose() {
      for (const kind of kinds.values()) {
        if (kind.timer) clearTimeout(kind.timer);
        kind.timer = undefined;
        kind.pending = undefined;
      }
    },
  };
}
