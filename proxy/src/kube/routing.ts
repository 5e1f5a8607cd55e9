/**
 * The routing rule, pure: given every EndpointSlice of the namespace and what we know of the Services, which
 * Services still send traffic to this pod? lameduck's deregistration is done when none does.
 *
 * Why these rules (docs/design.md "Facts", docs/kubernetes.md "The routing rule"):
 * - A terminating pod's endpoint is not removed while the pod runs; the EndpointSlice controller sets
 *   `terminating: true`, `serving` = pod Ready, `ready = publishNotReadyAddresses || (serving && !terminating)`.
 * - A Service is reached the way its kind says. kube-proxy's informer selects slices with
 *   `!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name`
 *   (https://github.com/kubernetes/kubernetes/blob/master/cmd/kube-proxy/app/server.go), so:
 *   - ClusterIP / NodePort / LoadBalancer Services: kube-proxy routes to the ready endpoints and, only when there are
 *     none, to the endpoints that are `serving && terminating` (KEP-1669,
 *     https://github.com/kubernetes/enhancements/issues/1669). For a `Local` traffic policy (internal or external)
 *     that judgement is made per node by the kube-proxy of that node.
 *   - headless Services (`clusterIP: None`, slices labelled `service.kubernetes.io/headless`) are reached through
 *     cluster DNS: CoreDNS publishes the ready endpoints only, with no terminating fallback
 *     (https://github.com/coredns/coredns/blob/master/plugin/kubernetes/controller.go). Clients keep connecting to a
 *     cached address after it was withdrawn; the DNS settle (endpoint-watch.ts) covers that, not this rule.
 *   - Services labelled `service.kubernetes.io/service-proxy-name` belong to another proxy whose rules lameduck
 *     cannot read. They are judged with kube-proxy's rules (the EndpointSlice semantics every Service proxy
 *     implements), erring on the side of serving longer, and reported apart (`via: 'other-proxy'`).
 * - Condition nil semantics from the EndpointSlice API: `ready` nil = ready, `serving` nil = same as `ready`,
 *   `terminating` nil = not terminating.
 * - Slices are grouped by the `kubernetes.io/service-name` label and each IP family is judged separately;
 *   FQDN slices are not proxied. A slice whose Service no longer exists is not proxied either.
 * An endpoint may appear in more than one slice of a Service (the controller moves endpoints between slices): every
 * copy counts, and the pod is routed if any copy routes it (erring on the side of serving longer).
 */
import {HEADLESS_LABEL, SERVICE_NAME_LABEL, SERVICE_PROXY_NAME_LABEL, type WireEndpoint, type WireEndpointSlice} from './wire.js';

/** What lameduck knows of a Service's spec. `gone`: the GET answered 404, so kube-proxy no longer programs it. */
export type ServiceInfo =
  | {
      readonly state: 'present';
      readonly publishNotReadyAddresses: boolean;
      readonly local: boolean;
      /** `clusterIP: None`. The slices' headless label says the same; either one makes the Service DNS-routed. */
      readonly headless?: boolean;
    }
  | {readonly state: 'gone'};

export interface RoutingPod {
  readonly uid?: string;
  readonly ips: readonly string[];
  /** The pod's node, if known; else the node named on the pod's own endpoint. */
  readonly nodeName?: string;
}

export interface RoutingInput {
  readonly slices: Iterable<WireEndpointSlice>;
  /** Services by name; a missing entry means "not known yet": judged with the defaults (Cluster policy). */
  readonly services: ReadonlyMap<string, ServiceInfo>;
  readonly pod: RoutingPod;
  readonly ignoreServices: readonly string[];
}

export type RouteWhy =
  /** The endpoint is ready (kube-proxy sends it new connections). */
  | 'ready'
  /** Ready only because the Service publishes not-ready addresses: it holds the pod until the deadline. */
  | 'publishNotReadyAddresses'
  /** Serving and terminating, and the Service has no other ready endpoint (per node for `Local`). */
  | 'terminatingFallback'
  /** A headless Service: cluster DNS publishes the ready endpoint. */
  | 'dns';

/** How clients reach the Service: through kube-proxy, through cluster DNS (headless), or through another proxy. */
export type RouteVia = 'kube-proxy' | 'dns' | 'other-proxy';

export interface ServiceRoute {
  readonly service: string;
  readonly why: RouteWhy;
  readonly addressType: string;
  /** `node`: judged per node because a traffic policy is Local. */
  readonly scope: 'cluster' | 'node';
  readonly via: RouteVia;
  /**
   * terminatingFallback only: the Service has no other endpoint at all, in any family, serving or not. Its
   * replacement may not be able to exist before this pod is gone (a single-replica StatefulSet, a `Recreate`
   * Deployment); endpoint-watch.ts stops holding for it after a grace (docs/kubernetes.md).
   */
  readonly sole?: true;
}

export interface RoutingVerdict {
  /** Some Service still routes the pod: deregistration is not done. */
  readonly routed: boolean;
  /** One entry per Service that still routes the pod, with the reason (for logs and /status). */
  readonly routedBy: readonly ServiceRoute[];
  /** Services that have the pod in a slice (whatever its conditions), sorted. */
  readonly services: readonly string[];
  /** Of those, the ones listed in LAMEDUCK_IGNORE_SERVICES. */
  readonly ignored: readonly string[];
  /** Of those, the ones whose Service object no longer exists. */
  readonly gone: readonly string[];
  /** Of those, neither ignored nor gone: the headless ones (reached through DNS, whatever their endpoint's state). */
  readonly headless: readonly string[];
  /** Of those, neither ignored nor gone: the ones handled by a proxy other than kube-proxy. */
  readonly otherProxy: readonly string[];
}

/** Canonical text of an IP address, so `::1` and `0:0::1` compare equal (EndpointSlice addresses are not normalised everywhere). */
export function canonicalIp(ip: string): string {
  const trimmed = ip.trim().toLowerCase();
  if (!trimmed.includes(':')) return trimmed;
  try {
    return new URL(`http://[${trimmed}]/`).hostname.slice(1, -1);
  } catch {
    return trimmed;
  }
}

interface Conditions {
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

function conditionsOf(ep: WireEndpoint): Conditions {
  const c = ep.conditions ?? {};
  const ready = c.ready ?? true;
  return {ready, serving: c.serving ?? ready, terminating: c.terminating ?? false};
}

/** Builds the matcher for the pod's own endpoint: by `targetRef.uid` when both sides know it, else by address. */
export function selfMatcher(pod: RoutingPod): (ep: WireEndpoint) => boolean {
  const ips = new Set(pod.ips.map(canonicalIp));
  return (ep) => {
    const refUid = ep.targetRef?.uid;
    if (refUid && pod.uid) return refUid === pod.uid;
    return (ep.addresses ?? []).some((a) => ips.has(canonicalIp(a)));
  };
}

export function routingVerdict(input: RoutingInput): RoutingVerdict {
  const isSelf = selfMatcher(input.pod);
  const ignore = new Set(input.ignoreServices);

  // service -> addressType -> endpoints of every slice of that Service and family.
  const groups = new Map<string, Map<string, WireEndpoint[]>>();
  const headlessLabelled = new Set<string>();
  const otherProxyLabelled = new Set<string>();
  for (const slice of input.slices) {
    const labels = slice.metadata.labels ?? {};
    const service = labels[SERVICE_NAME_LABEL];
    if (!service) continue;
    if (HEADLESS_LABEL in labels) headlessLabelled.add(service);
    if (SERVICE_PROXY_NAME_LABEL in labels) otherProxyLabelled.add(service);
    const family = slice.addressType ?? 'IPv4';
    if (family === 'FQDN') continue;
    let byFamily = groups.get(service);
    if (!byFamily) groups.set(service, (byFamily = new Map()));
    let eps = byFamily.get(family);
    if (!eps) byFamily.set(family, (eps = []));
    for (const ep of slice.endpoints ?? []) eps.push(ep);
  }

  const routedBy: ServiceRoute[] = [];
  const services: string[] = [];
  const ignored: string[] = [];
  const gone: string[] = [];
  const headless: string[] = [];
  const otherProxy: string[] = [];
  for (const [service, byFamily] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const hasSelf = [...byFamily.values()].some((eps) => eps.some(isSelf));
    if (!hasSelf) continue;
    services.push(service);
    if (ignore.has(service)) {
      ignored.push(service);
      continue;
    }
    const info = input.services.get(service);
    if (info?.state === 'gone') {
      gone.push(service);
      continue;
    }
    const pnra = info?.publishNotReadyAddresses ?? false;
    if (headlessLabelled.has(service) || info?.headless === true) {
      headless.push(service);
      const route = routeByDns(byFamily, isSelf, pnra);
      if (route) routedBy.push({service, ...route});
      continue;
    }
    const via: RouteVia = otherProxyLabelled.has(service) ? 'other-proxy' : 'kube-proxy';
    if (via === 'other-proxy') otherProxy.push(service);
    const local = info?.local ?? false;
    const route = routeInService(byFamily, isSelf, input.pod.nodeName, local, pnra);
    if (route) routedBy.push({service, ...route, via});
  }
  return {routed: routedBy.length > 0, routedBy, services, ignored, gone, headless, otherProxy};
}

/** CoreDNS answers a headless name with the ready endpoints only: no terminating fallback, no traffic policy. */
function routeByDns(
  byFamily: ReadonlyMap<string, readonly WireEndpoint[]>,
  isSelf: (ep: WireEndpoint) => boolean,
  pnra: boolean,
): Omit<ServiceRoute, 'service'> | undefined {
  for (const [addressType, eps] of byFamily) {
    for (const ep of eps) {
      if (!isSelf(ep)) continue;
      const c = conditionsOf(ep);
      if (!c.ready) continue;
      return {why: pnra && (c.terminating || !c.serving) ? 'publishNotReadyAddresses' : 'dns', addressType, scope: 'cluster', via: 'dns'};
    }
  }
  return undefined;
}

function routeInService(
  byFamily: ReadonlyMap<string, readonly WireEndpoint[]>,
  isSelf: (ep: WireEndpoint) => boolean,
  podNode: string | undefined,
  local: boolean,
  pnra: boolean,
): Omit<ServiceRoute, 'service' | 'via'> | undefined {
  const scope = local ? 'node' : 'cluster';
  let fallback: Omit<ServiceRoute, 'service' | 'via'> | undefined;
  // Any endpoint of another pod, in any family and any state: a replacement exists (or is on its way to ready).
  const sole = ![...byFamily.values()].some((eps) => eps.some((ep) => !isSelf(ep)));
  for (const [addressType, eps] of byFamily) {
    const own = eps.filter(isSelf);
    if (own.length === 0) continue;
    const others = eps.filter((ep) => !isSelf(ep));
    for (const ep of own) {
      const c = conditionsOf(ep);
      if (c.ready) {
        // A ready copy is the strongest reason; report it straight away.
        return {why: pnra && (c.terminating || !c.serving) ? 'publishNotReadyAddresses' : 'ready', addressType, scope};
      }
      if (!(c.serving && c.terminating) || fallback) continue;
      // Unknown own node under Local: no other endpoint can be shown to share it, so the pod stays routed (safe side).
      const node = podNode ?? ep.nodeName ?? undefined;
      const otherReady = others.some((o) => conditionsOf(o).ready && (!local || (node !== undefined && o.nodeName === node)));
      if (!otherReady) fallback = {why: 'terminatingFallback', addressType, scope, ...(sole ? {sole: true as const} : {})};
    }
  }
  return fallback;
}
