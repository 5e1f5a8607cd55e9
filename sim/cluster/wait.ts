/** Polling helpers for the simulation and its tests: wait for a condition with a bounded time, never forever. */

export class WaitTimeoutError extends Error {
  readonly code = 'WAIT_TIMEOUT';
  constructor(what: string, timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`);
    this.name = 'WaitTimeoutError';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

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
