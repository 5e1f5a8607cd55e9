/** Small timing helpers; every wait has a deadline or an abort signal. */

/** Resolves after `ms`, or early (without rejecting) when the signal aborts. Never keeps the process alive. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref?.();
    signal?.addEventListener('abort', onAbort, {once: true});
  });
}

/** An AbortSignal that fires at `atMs` on the given monotonic clock. `cancel()` clears the timer. */
export function deadlineSignal(delayMs: number): {signal: AbortSignal; cancel: () => void} {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('deadline')), Math.max(0, delayMs));
  timer.unref?.();
  return {signal: controller.signal, cancel: () => clearTimeout(timer)};
}
