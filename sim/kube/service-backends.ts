// Which pods back a Service and on which ports — the rules the EndpointSlice and Endpoints controllers share
// (pkg/controller/util/endpoint, pkg/api/v1/pod.FindPort).
import {isTerminalPhase} from './pod-status.js';
import {selectorFromMap} from './selectors.js';
import type {Store, StoreEvent} from './store.js';
import type {EndpointPort, Pod, Service} from './types.js';

/** A Service carrying this annotation (any value but "false") is left alone by both controllers: tests own its slices. */
export const MANUAL_ENDPOINTS_ANNOTATION = 'sim.lameduck.dev/manual-endpoints';

export function isManual(svc: Service): boolean {
  const v = svc.metadata.annotations?.[MANUAL_ENDPOINTS_ANNOTATION];
  return v !== undefined && v !== 'false';
}

/** Services with a selector are the controllers' business; selectorless ones have user-managed endpoints. */
export function hasSelector(svc: Service): boolean {
  return Object.keys(svc.spec.selector ?? {}).length > 0;
}

export function selectedPods(store: Store, svc: Service): Pod[] {
  return store.list<Pod>('pods', svc.metadata.namespace, {labelSelector: selectorFromMap(svc.spec.selector ?? {})});
}

/** The pod's IPv4 address (the simulation serves addressType IPv4 only), or undefined before it has one. */
export function podIPv4(pod: Pod): string | undefined {
  const ips = [...(pod.status?.podIPs ?? []).map((p) => p.ip), pod.status?.podIP].filter((ip): ip is string => !!ip);
  return ips.find((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip));
}

/**
 * ShouldPodBeInEndpoints: never a pod in a terminal phase or without an IP; a terminating pod only when
 * `includeTerminating` (always for EndpointSlices, only with publishNotReadyAddresses for legacy Endpoints).
 */
export function shouldPodBeInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  if (isTerminalPhase(pod)) return false;
  if (!podIPv4(pod)) return false;
  if (!includeTerminating && pod.metadata.deletionTimestamp) return false;
  return true;
}

/**
 * The endpoint ports for one pod: each Service port's targetPort, a number as is or a name looked up among the pod's
 * container ports (same protocol). A name the pod does not declare drops that port for this pod, as in FindPort.
 */
export function endpointPorts(svc: Service, pod: Pod): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of svc.spec.ports ?? []) {
    const protocol = sp.protocol ?? 'TCP';
    const target = sp.targetPort ?? sp.port;
    let port: number | undefined;
    if (typeof target === 'number') port = target;
    else if (/^\d+$/.test(target)) port = Number(target);
    else {
      for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
        const found = c.ports?.find((p) => p.name === target && (p.protocol ?? 'TCP') === protocol);
        if (found) {
          port = found.containerPort;
          break;
        }
      }
    }
    if (port === undefined) continue;
    const ep: EndpointPort = {name: sp.name ?? '', port, protocol};
    if (sp.appProtocol) ep.appProtocol = sp.appProtocol;
    out.push(ep);
  }
  return out;
}

export const portsKey = (ports: EndpointPort[] | null | undefined): string =>
  JSON.stringify([...(ports ?? [])].map((p) => [p.name ?? '', p.protocol ?? 'TCP', p.port ?? 0, p.appProtocol ?? '']).sort());

/**
 * Calls `enqueue(namespace/name)` for every Service whose backends a change may affect: the Service itself, or
 * Services in the pod's namespace selecting the pod before or after the change. Returns an unsubscribe function.
 */
export function onBackendInputs(store: Store, enqueue: (serviceKey: string) => void): () => void {
  const offServices = store.on<Service>('services', (e) => enqueue(`${e.object.metadata.namespace}/${e.object.metadata.name}`));
  const offPods = store.on<Pod>('pods', (e: StoreEvent<Pod>) => {
    const ns = e.object.metadata.namespace ?? 'default';
    for (const svc of store.list<Service>('services', ns)) {
      if (!hasSelector(svc)) continue;
      const sel = selectorFromMap(svc.spec.selector ?? {});
      if (sel.matches(e.object.metadata.labels) || (e.oldObject && sel.matches(e.oldObject.metadata.labels))) {
        enqueue(`${ns}/${svc.metadata.name}`);
      }
    }
  });
  return () => {
    offServices();
    offPods();
  };
}
