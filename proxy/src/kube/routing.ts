/**
 * The routing rule, pure: given every EndpointSlice of the namespace and what we know of the Services, which
 * Services still send traffic to this pod? lameduck's deregistration is done when none does.
 *
 * Why these rules (docs/design.md "Facts"):
 * - A terminating pod's endpoint is not removed while the pod runs; the EndpointSlice controller sets
 *   `terminating: true`, `serving` = pod Ready, `ready = publishNotReadyAddresses || (serving && !terminating)`.
 * - kube-proxy routes a Service to its ready endpoints and, only when it has none, to the endpoints that are
 *   `serving && terminating` (KEP-1669, https://github.com/kubernetes/enhancements/issues/1669). For a `Local`
 *   traffic policy (internal or external) that judgement is made per node by the kube-proxy of that node.
 * - Condition nil semantics from the EndpointSlice API: `ready` nil = ready, `serving` nil = same as `ready`,
 *   `terminating` nil = not terminating.
 * - kube-proxy groups slices by the `kubernetes.io/service-name` label and proxies each IP family separately;
 *   FQDN slices are not proxied. A slice whose Service no longer exists is not proxied either.
 * An endpoint may appear in more than one slice of a Service (the controller moves endpoints between slices): every
 * copy counts, and the pod is routed if any copy routes it (erring on the side of serving longer).
 */
import {SERVICE_NAME_LABEL, type WireEndpoint, type WireEndpointSlice} from './wire.js';

/** What lameduck knows of a Service's spec. `gone`: the GET answered 404, so kube-proxy no longer programs it. */
export type ServiceInfo =
  | {readonly state: 'present'; readonly publishNotReadyAddresses: boolean; readonly local: boolean}
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
  | 'terminatingFallback';

export interface ServiceRoute {
  readonly service: string;
  readonly why: RouteWhy;
  readonly addressType: string;
  /** `node`: judged per node because a traffic policy is Local. */
  readonly scope: 'cluster' | 'node';
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
  for (const slice of input.slices) {
    const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!service) continue;
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
    const local = info?.local ?? false;
    const pnra = info?.publishNotReadyAddresses ?? false;
    const route = routeInService(byFamily, isSelf, input.pod.nodeName, local, pnra);
    if (route) routedBy.push({service, ...route});
  }
  return {routed: routedBy.length > 0, routedBy, services, ignored, gone};
}

function routeInService(
  byFamily: ReadonlyMap<string, readonly WireEndpoint[]>,
  isSelf: (ep: WireEndpoint) => boolean,
  podNode: string | undefined,
  local: boolean,
  pnra: boolean,
): Omit<ServiceRoute, 'service'> | undefined {
  const scope = local ? 'node' : 'cluster';
  let fallback: Omit<ServiceRoute, 'service'> | undefined;
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
      if (!otherReady) fallback = {why: 'terminatingFallback', addressType, scope};
    }
  }
  return fallback;
}
