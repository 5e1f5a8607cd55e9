/**
 * How long a data plane takes to act on an EndpointSlice change, as a distribution with a tail.
 *
 * kube-proxy runs on every node and each one syncs on its own schedule: the watch event arrives at about the same time
 * everywhere, but a sync waits for `minSyncPeriod` (1 s by default, pkg/proxy/apis/config/v1alpha1/defaults.go) and for
 * the previous sync to finish, and programming iptables/nftables on a node with thousands of Services or under CPU
 * pressure takes seconds (kube-proxy's own `sync_proxy_rules_duration_seconds` histogram has buckets to 16 s). Most
 * nodes apply a change within a second; a few take several. A bounded uniform range would let a fixed settle cover
 * every node by construction, so the default here is a mixture: a body of fast syncs and a tail of slow ones that
 * outlasts lameduck's default settle (2 s, the chart's `kube-proxy` preset).
 *
 * Draws come from a seeded generator (mulberry32) so that a run's sequence of lags is reproducible for a seed.
 */
import type {Lag} from '../kube/reconcile-queue.js';

/** A body range taken with probability 1 - tailShare, else a tail range. */
export interface MixtureLag {
  body: {minMs: number; maxMs: number};
  tail: {minMs: number; maxMs: number};
  /** Share of draws from the tail, in [0, 1]. */
  tailShare: number;
}

export type LagDistribution = Lag | MixtureLag;

/** A node's kube-proxy: 80 % of syncs in 0.1–1 s, 20 % in 1–6 s. */
export const DEFAULT_NODE_PROXY_LAG: MixtureLag = {body: {minMs: 100, maxMs: 1000}, tail: {minMs: 1000, maxMs: 6000}, tailShare: 0.2};

export function isMixture(lag: LagDistribution): lag is MixtureLag {
  return typeof lag === 'object' && 'tail' in lag;
}

/** The longest lag a distribution can produce. */
export function maxLagMs(lag: LagDistribution): number {
  if (typeof lag === 'number') return lag;
  if (isMixture(lag)) return lag.tailShare > 0 ? Math.max(lag.tail.maxMs, lag.body.maxMs) : lag.body.maxMs;
  return lag.maxMs;
}

/** `0.1s-1s + 20% 1s-6s` style, for tables and logs. */
export function describeLag(lag: LagDistribution): string {
  const s = (ms: number): string => `${Number((ms / 1000).toFixed(2))}s`;
  const range = (r: {minMs: number; maxMs: number}): string => (r.minMs === r.maxMs ? s(r.minMs) : `${s(r.minMs)}-${s(r.maxMs)}`);
  if (typeof lag === 'number') return s(lag);
  if (isMixture(lag)) return `${range(lag.body)}, ${Math.round(lag.tailShare * 100)}% ${range(lag.tail)}`;
  return range(lag);
}

/** mulberry32: a small, fast, seeded PRNG with a full 2^32 period; values in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws lags from a distribution with the given random source. */
export function createLagSampler(lag: LagDistribution, random: () => number = Math.random): () => number {
  const uniform = (r: {minMs: number; maxMs: number}): number => Math.max(0, r.minMs + random() * Math.max(0, r.maxMs - r.minMs));
  return () => {
    if (typeof lag === 'number') return Math.max(0, lag);
    if (isMixture(lag)) return random() < lag.tailShare ? uniform(lag.tail) : uniform(lag.body);
    return uniform(lag);
  };
}
