/** Polling helpers for the simulation and its tests: wait for a condition with a bounded time, never forever. */

export class WaitTimeoutError extends Error {
  readonly code = 'WAIT_TIMEOUT';
  constructor(what: string, timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`);
    this.name = 'WaitTimeoutError';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/**
 * Settles like `promise`, or resolves with `fallback` once `ms` passed. Either way its timer is cleared: a bare
 * `Promise.race([p, sleep(ms)])` leaves the sleep's timer running after `p` won, which keeps a test worker (or any
 * caller) alive for the rest of `ms` after everything else closed.
 */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the first truthy value of `check`, polled every `intervalMs`; rejects after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 30_000, intervalMs = 25): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() >= until) throw new WaitTimeoutError(what, timeoutMs);
    await sleep(intervalMs);
  }
}
