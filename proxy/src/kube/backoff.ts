/**
 * Capped exponential backoff with jitter, for re-lists and re-watches after an error. Jitter matters here: fifty pods
 * of a rollout drain at once against one API server, and synchronized retries would arrive as a stampede.
 * (Same shape as client-go's reflector backoff: https://github.com/kubernetes/client-go/blob/master/tools/cache/reflector.go)
 */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Each delay is drawn from [delay * (1 - jitter), delay]; 0..1. */
  readonly jitter?: number;
  readonly random?: () => number;
}

export interface Backoff {
  /** The next delay; doubles each call up to maxMs. */
  next(): number;
  /** After a success: the next failure starts again at initialMs. */
  reset(): void;
}

export function createBackoff(options: BackoffOptions): Backoff {
  const random = options.random ?? Math.random;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  let current = options.initialMs;
  return {
    next() {
      const base = Math.min(current, options.maxMs);
      current = Math.min(current * 2, options.maxMs);
      return Math.round(base * (1 - jitter * random()));
    },
    reset() {
      current = options.initialMs;
    },
  };
}

/** Delay honouring a 429's Retry-After, spread a little so throttled clients do not return in lock-step. */
export function throttleDelay(retryAfterMs: number, random: () => number = Math.random): number {
  return Math.round(retryAfterMs * (1 + 0.25 * random()));
}
