/**
 * Idle timers armed only for the streams that live long enough to need one. An HTTP/2 stream's idle timeout
 * (`stream.setTimeout`) costs, per stream, a bound callback, a timer-list insertion, a refresh on every read and
 * write and a removal — a measurable share of a proxied request that lasts a millisecond (docs/http2.md
 * "Performance"). Most streams end long before any idle bound could matter, so the arming waits: a stream handed
 * to `add()` is armed on the second tick of a shared coarse interval after it (at an age between one and two
 * ticks), if it has not ended by then; the others never get a timer.
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
  /** Calls `arm(item)` one to two ticks from now; `arm` checks whether the item still needs it. */
  add<T>(arm: (item: T) => void, item: T): void;
  /** Drops what waits and stops the interval. */
  dispose(): void;
}

export function createLateTimers(tickMs: number): LateTimers {
  // Two generations of [arm, item, arm, item, ...]: what was added during the last tick, and during this one.
  let older: unknown[] = [];
  let newer: unknown[] = [];
  let interval: NodeJS.Timeout | undefined;

  const tick = (): void => {
    const due = older;
    older = newer;
    newer = [];
    for (let i = 0; i < due.length; i += 2) (due[i] as (item: unknown) => void)(due[i + 1]);
    if (older.length === 0 && newer.length === 0 && interval !== undefined) {
      clearInterval(interval);
      interval = undefined;
    }
  };

  return {
    add(arm, item) {
      newer.push(arm, item);
      if (interval === undefined) {
        interval = setInterval(tick, tickMs);
        interval.unref();
      }
    },
    dispose() {
      if (interval !== undefined) clearInterval(interval);
      interval = undefined;
      older = [];
      newer = [];
    },
  };
}
