/**
 * One typed error for every failed Kubernetes API call, classified once into what the drain acts on
 * (`reason`, a FallbackReason) while keeping the HTTP status and the Status `reason` (NotFound, Expired,
 * TooManyRequests...) for the callers that need them.
 */
import {LameduckError} from '../errors.js';
import type {FallbackReason} from '../metrics.js';

export type KubeFailure = Extract<FallbackReason, 'forbidden' | 'unauthorized' | 'unreachable'>;

export class KubeApiError extends LameduckError {
  /** forbidden (403), unauthorized (401, after a token re-read), unreachable (network, timeout, 5xx, 429...). */
  readonly reason: KubeFailure;
  /** HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** The Status object's `reason` (e.g. NotFound, Expired, Forbidden), when the server sent one. */
  readonly statusReason: string | undefined;
  /** From a 429's Retry-After header. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    options: {status?: number; statusReason?: string; retryAfterMs?: number; cause?: unknown} = {},
  ) {
    const reason: KubeFailure = options.status === 401 ? 'unauthorized' : options.status === 403 ? 'forbidden' : 'unreachable';
    super(reason === 'unauthorized' ? 'KUBE_UNAUTHORIZED' : reason === 'forbidden' ? 'KUBE_FORBIDDEN' : 'KUBE_UNAVAILABLE', message, {
      cause: options.cause,
    });
    this.name = 'KubeApiError';
    this.reason = reason;
    this.status = options.status;
    this.statusReason = options.statusReason;
    this.retryAfterMs = options.retryAfterMs;
  }

  get notFound(): boolean {
    return this.status === 404;
  }

  /** 410 Gone / Expired: the resourceVersion we watch from was compacted; re-list. */
  get expired(): boolean {
    return this.status === 410;
  }

  get throttled(): boolean {
    return this.status === 429;
  }
}

/** Retry-After is delta-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
