/**
 * kube-proxy's choice of endpoints for a Service (KEP-1669, "ProxyTerminatingEndpoints", GA 1.28): traffic goes to
 * the ready endpoints; only when a Service has none does it fall back to endpoints that are serving and terminating,
 * so a rolling update of a single replica (or a scale-down to zero ready pods) keeps working while the old pod drains.
 * Not-serving endpoints never get traffic.
 */

export interface ViewEndpoint {
  ip: string;
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** targetRef.name (the pod), for statistics. */
  pod?: string;
}

export interface Routable {
  endpoints: ViewEndpoint[];
  /** True when the terminating fallback was used. */
  fallback: boolean;
}

/**
 * `kube-proxy`: ready endpoints, else the serving+terminating fallback (pkg/proxy/topology.go, CategorizeEndpoints).
 * `ready-only`: ready endpoints and nothing else, as ingress-nginx does (internal/ingress/controller/endpointslices.go
 * skips every endpoint whose `conditions.ready` is false) and as CoreDNS answers for headless Services: a terminating
 * pod gets no new traffic from them, whatever else the Service has.
 */
export type RoutingPolicy = 'kube-proxy' | 'ready-only';

export function routableEndpoints(all: readonly ViewEndpoint[], policy: RoutingPolicy = 'kube-proxy'): Routable {
  const ready = all.filter((e) => e.ready);
  if (ready.length > 0 || policy === 'ready-only') return {endpoints: ready, fallback: false};
  return {endpoints: all.filter((e) => e.serving && e.terminating), fallback: true};
}

/** A uniformly random routable endpoint (iptables' `statistic --mode random`), or undefined when none. */
export function pickEndpoint(all: readonly ViewEndpoint[], random: () => number = Math.random, policy: RoutingPolicy = 'kube-proxy'): ViewEndpoint | undefined {
  const {endpoints} = routableEndpoints(all, policy);
  if (endpoints.length === 0) return undefined;
  return endpoints[Math.min(endpoints.length - 1, Math.floor(random() * endpoints.length))];
}
