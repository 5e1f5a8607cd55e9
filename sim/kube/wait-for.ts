// Polling for tests that wait on asynchronous effects (controller lag, watch delivery) without fixed sleeps.

export class WaitTimeoutError extends Error {
  readonly code = 'WAIT_TIMEOUT';
  constructor(what: string, timeoutMs: number, cause?: unknown) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`, cause === undefined ? undefined : {cause});
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Resolves with the first truthy value `fn` returns (a thrown error counts as "not yet"); rejects after `timeoutMs`
 * with the last error as cause. The bound is generous by default: machines running these tests are shared.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: {timeoutMs?: number; intervalMs?: number; what?: string} = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) throw new WaitTimeoutError(opts.what ?? 'condition', timeoutMs, lastError);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
