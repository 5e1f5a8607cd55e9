/**
 * Time as a dependency: the drain and the /prestop gate read the time and set timers only through a Clock, so their
 * tests drive them with fake timers instead of waiting on the wall clock. The system clock looks the timer functions
 * up at each call (a fake installed after import still applies) and never keeps the process alive.
 */

export interface Clock {
  /** Monotonic ms (performance.now()). */
  now(): number;
  /** Wall-clock ms, for timestamps people read (/status). */
  wallNow(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout(fn: () => void, ms: number): unknown {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref?.();
    return timer;
  },
  clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});

/** Resolves after `ms` on the clock, or early (without rejecting) when the signal aborts. */
export function clockSleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      resolve();
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, {once: true});
  });
}

/**
 * An AbortSignal that fires `delayMs` from now on the clock (AbortSignal.timeout() runs on Node's own timers, which
 * fake timers cannot drive). `cancel()` clears the timer once the wait is over.
 */
export function clockTimeout(clock: Clock, delayMs: number): {signal: AbortSignal; cancel: () => void} {
  const controller = new AbortController();
  const timer = clock.setTimeout(() => controller.abort(new Error('deadline')), Math.max(0, delayMs));
  return {signal: controller.signal, cancel: () => clock.clearTimeout(timer)};
}
