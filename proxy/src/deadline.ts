/**
 * The drain deadline (docs/design.md "Deadline"): LAMEDUCK_DRAIN_TIMEOUT if set; else the pod's grace period
 * (deletionGracePeriodSeconds, else terminationGracePeriodSeconds) minus LAMEDUCK_EXIT_MARGIN, clamped to at least
 * 1 s; else 25 s. The margin leaves the app time to exit after release, before kubelet's SIGKILL.
 */
import {DEFAULT_DRAIN_TIMEOUT_MS, MIN_DRAIN_TIMEOUT_MS} from './config.js';

export type DeadlineSource = 'config' | 'pod' | 'default';

export function drainBudget(opts: {
  drainTimeoutMs: number | undefined;
  exitMarginMs: number;
  gracePeriodSeconds: number | undefined;
}): {ms: number; source: DeadlineSource} {
  if (opts.drainTimeoutMs !== undefined) return {ms: opts.drainTimeoutMs, source: 'config'};
  if (opts.gracePeriodSeconds !== undefined && Number.isFinite(opts.gracePeriodSeconds)) {
    return {ms: Math.max(MIN_DRAIN_TIMEOUT_MS, opts.gracePeriodSeconds * 1000 - opts.exitMarginMs), source: 'pod'};
  }
  return {ms: DEFAULT_DRAIN_TIMEOUT_MS, source: 'default'};
}

/**
 * How long `closing` + `releasing` are guaranteed before the deadline: settle and quiet shrink into what is left
 * so that in-flight requests still get time to finish. A quarter of the budget, between 500 ms and 5 s.
 */
export function closingReserveMs(budgetMs: number): number {
  return Math.min(5_000, Math.max(500, budgetMs / 4));
}
