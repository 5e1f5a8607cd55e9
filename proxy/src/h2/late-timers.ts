/**
 * Idle timers armed only for the streams that live long enough to need one. An HTTP/2 stream's idle timeout
 * (`stream.setTimeout`) costs, per stream, a bound callback, a timer-list insertion, a refresh on every read and
 * write and a removal — a measurable share of a proxied request that lasts a millisecond (docs/http2.md
 * "Performance"). Most streams end long before any idle bound could matter, so the arming waits: a shared coarse
 * interval visits the streams in flight (`sweep`) and arms those older than one tick; the others never get a timer.
 * Nothing is kept per stream beyond the stream's own tracking, so an ended stream is not held until a tick.
 *
 * A timeout `T` thus fires between `T` and `T + 2 × tick` after the stream went quiet, never before: with the tick
 * at an eighth of the shortest bound (at most 1 s, `lateTickMs`), within a quarter of `T`, and within 2 s of the
 * 60 s default. The interval runs only while streams wait, and never keeps the process alive.
 */

/** The tick for idle bounds `boundsMs` (0 = off): an eighth of the shortest, between 5 ms and 1 s. */
export function lateTickMs(...boundsMs: number[]): number {
  const on = boundsMs.filter((ms) => ms > 0);
  if (on.length === 0) return 1_000;
  return Math.min(1_000, Math.max(5, Math.floor(Math.min(...on) / 8)));
}

export interface LateTimers {
  /** A stream now waits to be armed: the interval runs (cheap when it already does). */
  wake(): void;
  /** Stops the interval. */
  dispose(): void;
}

/**
 * @param sweep arms what waits and started before `olderThan` (a `now()` value); returns whether any stream still
 *   waits (then the interval keeps running).
 */
export function createLateTimers(tickMs: number, now: () => number, sweep: (olderThan: number) => boolean): LateTimers {
  let interval: NodeJS.Timeout | undefined;
  const tick = (): void => {
    if (sweep(now() - tickMs) || interval === undefined) return;
    clearInterval(interval);
    interval = undefined;
  };
  return {
    wake() {
      if (interval !== undefined) return;
      interval = setInterval(tick, tickMs);
      interval.unref();
    },
    dispose() {
      if (interval !== undefined) clearInterval(interval);
      interval = undefined;
    },
  };
}
