// The legacy Endpoints controller (pkg/controller/endpoint), in-process: core/v1 Endpoints named after each Service
// with a selector. Unlike EndpointSlices, a terminating pod is dropped at once (unless publishNotReadyAddresses), and
// readiness is expressed by putting an address in `addresses` or `notReadyAddresses`. Deprecated upstream in 1.33 but
// still maintained there, so here too.
import {sameJson} from './canonical-json.js';
import {isPodReady} from './pod-status.js';
import {createReconcileQueue, type Lag} from './reconcile-queue.js';
import {endpointPorts, hasSelector, isManual, onBackendInputs, podIPv4, portsKey, selectedPods, shouldPodBeInEndpoints} from './service-backends.js';
import type {Store} from './store.js';
import {kubeTime} from './time.js';
import type {EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service} from './types.js';
import {LAST_CHANGE_TRIGGER_TIME} from './endpointslice-controller.js';

export interface EndpointsController {
  setLag(lag: Lag): void;
  whenIdle(): Promise<void>;
  stop(): void;
}

function desiredSubsets(store: Store, svc: Service): EndpointSubset[] {
  const pnra = svc.spec.publishNotReadyAddresses === true;
  const groups = new Map<string, {ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[]}>();
  for (const pod of selectedPods(store, svc)) {
    if (!shouldPodBeInEndpoints(pod, pnra)) continue;
    const address: EndpointAddress = {
      ip: podIPv4(pod)!,
      ...(pod.spec.nodeName ? {nodeName: pod.spec.nodeName} : {}),
      targetRef: {kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid},
    };
    const ports = endpointPorts(svc, pod);
    const key = portsKey(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = {ports, ready: [], notReady: []}));
    (pnra || isPodReady(pod) ? g.ready : g.notReady).push(address);
  }
  const byIp = (a: EndpointAddress, b: EndpointAddress): number => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);
  return [...groups.values()].map((g) => {
    const subset: EndpointSubset = {};
    if (g.ready.length) subset.addresses = g.ready.sort(byIp);
    if (g.notReady.length) subset.notReadyAddresses = g.notReady.sort(byIp);
    if (g.ports.length) subset.ports = g.ports;
    return subset;
  });
}

export function createEndpointsController(opts: {store: Store; lag?: Lag}): EndpointsController {
  const {store} = opts;

  function reconcile(serviceKey: string): void {
    const [ns, name] = serviceKey.split('/');
    const svc = store.getService(ns, name);
    const existing = store.getEndpoints(ns, name);
    if (!svc) {
      if (existing) store.delete('endpoints', ns, name);
      return;
    }
    if (isManual(svc) || !hasSelector(svc)) return;
    const subsets = desiredSubsets(store, svc);
    const labels: Record<string, string> = {...(svc.metadata.labels ?? {})};
    if (svc.spec.clusterIP === 'None') labels['service.kubernetes.io/headless'] = '';
    const trigger = kubeTime(Date.now());
    if (existing) {
      if (sameJson(existing.subsets ?? [], subsets) && sameJson(existing.metadata.labels ?? {}, labels)) return;
      const next: Endpoints = {
        ...existing,
        metadata: {...existing.metadata, annotations: {...existing.metadata.annotations, [LAST_CHANGE_TRIGGER_TIME]: trigger}},
      };
      if (Object.keys(labels).length) next.metadata.labels = labels;
      else delete next.metadata.labels;
      if (subsets.length) next.subsets = subsets;
      else delete next.subsets;
      store.update('endpoints', next);
    } else {
      const obj: Endpoints = {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: {name, namespace: ns, ...(Object.keys(labels).length ? {labels} : {}), annotations: {[LAST_CHANGE_TRIGGER_TIME]: trigger}},
      };
      if (subsets.length) obj.subsets = subsets;
      store.create('endpoints', obj);
    }
  }

  const queue = createReconcileQueue({lag: opts.lag, reconcile});
  const off = onBackendInputs(store, (key) => queue.enqueue(key));
  for (const svc of store.list<Service>('services')) queue.enqueue(`${svc.metadata.namespace}/${svc.metadata.name}`);
  return {
    setLag: (lag) => queue.setLag(lag),
    whenIdle: () => queue.whenIdle(),
    stop() {
      off();
      queue.stop();
    },
  };
}
