/**
 * A warn line at most once per interval: an outage of the app must not turn into a log flood (every request would
 * fail). Each line says how many similar ones were suppressed since the previous line; the last suppressed one is
 * written when the interval ends, so a burst is never silently lost.
 */
import type {Logger} from './log.js';

export interface LogThrottle {
  warn(msg: string, ctx: Record<string, unknown>): void;
  /** Cancels the pending flush (the forwarder's destroy). */
  dispose(): void;
}

export function createLogThrottle(deps: {log: Logger; now: () => number; intervalMs?: number}): LogThrottle {
  const {log, now} = deps;
  const intervalMs = deps.intervalMs ?? 1000;
  let lastAt = -Infinity;
  let suppressed = 0;
  let pending: {msg: string; ctx: Record<string, unknown>} | undefined;
  let timer: NodeJS.Timeout | undefined;

  const emit = (msg: string, ctx: Record<string, unknown>): void => {
    lastAt = now();
    log.warn(msg, suppressed > 0 ? {...ctx, suppressed} : ctx);
    suppressed = 0;
  };
  const flush = (): void => {
    timer = undefined;
    if (!pending) return;
    const {msg, ctx} = pending;
    pending = undefined;
    suppressed--; // the one written now is no longer suppressed
    emit(msg, ctx);
  };

  return {
    warn(msg, ctx) {
      const t = now();
      if (t - lastAt >= intervalMs) {
        pending = undefined;
        if (timer) clearTimeout(timer);
        timer = undefined;
        emit(msg, ctx);
        return;
      }
      suppressed++;
      pending = {msg, ctx};
      if (!timer) {
        timer = setTimeout(flush, Math.max(1, intervalMs - (t - lastAt)));
        timer.unref();
      }
    },
    dispose() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      pending = undefined;
    },
  };
}
