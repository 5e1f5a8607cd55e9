/**
 * Cluster DNS for a headless Service (`clusterIP: None`) and the clients that use it, as CoreDNS's default Corefile
 * (kubeadm's and most distributions') makes it behave:
 *
 *     kubernetes cluster.local in-addr.arpa ip6.arpa { ... ttl 30 }
 *     cache 30
 *
 * - The `kubernetes` plugin answers a headless Service's name with one A record per *ready* endpoint
 *   (plugin/kubernetes/object/endpoint.go skips endpoints whose `conditions.ready` is false; publishNotReadyAddresses
 *   makes them ready in the slices), with TTL 30 s. It follows the EndpointSlices through its own informer, so it lags
 *   them like any data plane (the `view` given here).
 * - The `cache` plugin keeps an answer for up to 30 s and serves it with the TTL counting down
 *   (plugin/cache/item.go: `ttl = origTTL - age`), so a cached answer expires everywhere at the same moment.
 * - A client resolver (glibc with nscd, Java's InetAddress cache, Go's net with a caching layer, a connection pool that
 *   resolves once per TTL) keeps the answer until its TTL ends, then asks again. Each new connection goes to one of
 *   the cached addresses, straight to the pod IP: no kube-proxy, no terminating fallback, no second chance.
 *
 * So after a pod stops being Ready, clients may still open connections to it for up to ~30 s (the answer's remaining
 * TTL plus the plugin's lag), and to its IP after it is gone — which is what a DNS-routed pod has to outlast.
 */
import type {EndpointView} from './endpoint-view.js';
import {routableEndpoints, type ViewEndpoint} from './routing.js';

/** CoreDNS default: `ttl 30` in the kubernetes block, `cache 30`. */
export const COREDNS_TTL_MS = 30_000;
export const COREDNS_CACHE_MS = 30_000;

export interface DnsAnswer {
  addresses: {ip: string; port: number; pod?: string}[];
  /** When this answer expires (ms since the epoch), for every holder. */
  expiresAt: number;
}

export interface DnsStats {
  /** Questions the server answered (cache hits included). */
  queries: number;
  /** Answers computed from the endpoints (cache misses). */
  lookups: number;
  /** Answers with no address (NXDOMAIN for a headless Service with no ready endpoint). */
  empty: number;
}

export interface ClusterDns {
  resolve(): DnsAnswer;
  readonly stats: DnsStats;
}

export function createClusterDns(opts: {view: EndpointView; ttlMs?: number; cacheMs?: number; now?: () => number}): ClusterDns {
  const ttlMs = opts.ttlMs ?? COREDNS_TTL_MS;
  const cacheMs = opts.cacheMs ?? COREDNS_CACHE_MS;
  const now = opts.now ?? Date.now;
  const stats: DnsStats = {queries: 0, lookups: 0, empty: 0};
  let cached: DnsAnswer | undefined;
  return {
    stats,
    resolve() {
      stats.queries++;
      const t = now();
      if (cached && cached.expiresAt > t) return cached;
      stats.lookups++;
      const ready = routableEndpoints(opts.view.endpoints(), 'ready-only').endpoints;
      const addresses = ready.map((e: ViewEndpoint) => ({ip: e.ip, port: e.port, pod: e.pod}));
      if (addresses.length === 0) {
        stats.empty++;
        // A negative answer is cached too, but briefly (the SOA minimum, 5 s in the kubernetes plugin).
        cached = {addresses, expiresAt: t + Math.min(5000, cacheMs)};
        return cached;
      }
      cached = {addresses, expiresAt: t + Math.min(ttlMs, cacheMs)};
      return cached;
    },
  };
}

/** A client's resolver cache: keeps the answer until its TTL ends, then asks the server again. */
export interface DnsClient {
  /** An address for a new connection (random among the cached answer), or undefined when the name has none. */
  pick(): {host: string; port: number} | undefined;
}

export function createDnsClient(dns: ClusterDns, opts: {random?: () => number; now?: () => number} = {}): DnsClient {
  const random = opts.random ?? Math.random;
  const now = opts.now ?? Date.now;
  let answer: DnsAnswer | undefined;
  return {
    pick() {
      if (!answer || answer.expiresAt <= now()) answer = dns.resolve();
      const list = answer.addresses;
      if (list.length === 0) return undefined;
      const a = list[Math.min(list.length - 1, Math.floor(random() * list.length))]!;
      return {host: a.ip, port: a.port};
    },
  };
}
