// The EndpointSlice controller (pkg/controller/endpointslice), in-process. For every Service with a selector it keeps
// discovery.k8s.io/v1 slices listing the selected pods with the real condition rules (docs/design.md, KEP-1672):
//   serving     = the pod's Ready condition is True
//   terminating = the pod has a deletionTimestamp
//   ready       = publishNotReadyAddresses || (serving && !terminating)
// A pod's endpoint stays while the pod terminates and goes only when the pod reaches a terminal phase or is removed.
// Slices hold at most maxEndpointsPerSlice endpoints; existing slices are updated in place and only written when
// something in them changed (no spurious watch events); a Service without endpoints keeps one placeholder slice.
// Reconciles run after a configurable lag, as the real controller reacts late.
import {sameJson} from './canonical-json.js';
import {isPodReady} from './pod-status.js';
import {createReconcileQueue, type Lag} from './reconcile-queue.js';
import {endpointPorts, hasSelector, isManual, onBackendInputs, podIPv4, portsKey, selectedPods, shouldPodBeInEndpoints} from './service-backends.js';
import type {Store} from './store.js';
import {kubeTime} from './time.js';
import type {Endpoint, EndpointPort, EndpointSlice, Service} from './types.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';

export interface EndpointSliceControllerOptions {
  store: Store;
  /** Delay from a change to the reconcile that reflects it: fixed ms, or uniform random in [minMs, maxMs]. Default 0. */
  lag?: Lag;
  /** Default 100, like the real controller's --max-endpoints-per-slice. */
  maxEndpointsPerSlice?: number;
}

export interface EndpointSliceController {
  setLag(lag: Lag): void;
  setMaxEndpointsPerSlice(n: number): void;
  /** Resolves when no reconcile is waiting (every change so far is reflected in the slices). */
  whenIdle(): Promise<void>;
  /** Queues every Service for a reconcile. */
  resyncAll(): void;
  stop(): void;
}

interface Desired {
  uid: string;
  endpoint: Endpoint;
  ports: EndpointPort[];
  key: string;
}

function desiredEndpoints(store: Store, svc: Service): Desired[] {
  const out: Desired[] = [];
  for (const pod of selectedPods(store, svc)) {
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    const serving = isPodReady(pod);
    const terminating = pod.metadata.deletionTimestamp !== undefined;
    const ready = svc.spec.publishNotReadyAddresses === true || (serving && !terminating);
    const endpoint: Endpoint = {
      addresses: [podIPv4(pod)!],
      conditions: {ready, serving, terminating},
      targetRef: {kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid},
    };
    if (pod.spec.nodeName) endpoint.nodeName = pod.spec.nodeName;
    const ports = endpointPorts(svc, pod);
    out.push({uid: pod.metadata.uid ?? '', endpoint, ports, key: portsKey(ports)});
  }
  return out;
}

function sliceLabels(svc: Service): Record<string, string> {
  const labels: Record<string, string> = {...(svc.metadata.labels ?? {})};
  labels[SERVICE_NAME_LABEL] = svc.metadata.name ?? '';
  labels[MANAGED_BY_LABEL] = CONTROLLER_NAME;
  if (svc.spec.clusterIP === 'None') labels['service.kubernetes.io/headless'] = '';
  return labels;
}

export function createEndpointSliceController(opts: EndpointSliceControllerOptions): EndpointSliceController {
  const {store} = opts;
  let maxPerSlice = opts.maxEndpointsPerSlice ?? 100;

  const managedSlices = (ns: string, name: string): EndpointSlice[] =>
    store.list<EndpointSlice>('endpointslices', ns, {labelSelector: `${SERVICE_NAME_LABEL}=${name},${MANAGED_BY_LABEL}=${CONTROLLER_NAME}`});

  /** True while this controller writes, so its own slice events are not mistaken for drift. */
  let writing = false;

  function reconcile(serviceKey: string): void {
    writing = true;
    try {
      reconcileService(serviceKey);
    } finally {
      writing = false;
    }
  }

  function reconcileService(serviceKey: string): void {
    const [ns, name] = serviceKey.split('/');
    const svc = store.getService(ns, name);
    const existing = managedSlices(ns, name);
    if (svc && isManual(svc)) return;
    if (!svc || !hasSelector(svc)) {
      for (const s of existing) store.deleteEndpointSlice(ns, s.metadata.name ?? '');
      return;
    }
    const desired = desiredEndpoints(store, svc);
    const byUid = new Map(desired.map((d) => [d.uid, d]));
    const placed = new Set<string>();
    const labels = sliceLabels(svc);
    const ownerReferences = [{apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid ?? '', controller: true, blockOwnerDeletion: true}];

    // 1. Existing slices keep the endpoints that still belong (with fresh values), in their order.
    const plans = existing.map((slice) => {
      const key = portsKey(slice.ports);
      const endpoints: Endpoint[] = [];
      for (const e of slice.endpoints ?? []) {
        const uid = e.targetRef?.uid ?? '';
        const d = byUid.get(uid);
        if (d && d.key === key && !placed.has(uid) && endpoints.length < maxPerSlice) {
          endpoints.push(d.endpoint);
          placed.add(uid);
        }
      }
      return {slice, key, ports: slice.ports ?? [], endpoints};
    });
    // 2. New endpoints fill slices with the same ports that have room, then new slices.
    const fresh: typeof plans = [];
    for (const d of desired) {
      if (placed.has(d.uid)) continue;
      let plan = plans.find((p) => p.key === d.key && p.endpoints.length < maxPerSlice && p.endpoints.length > 0)
        ?? fresh.find((p) => p.key === d.key && p.endpoints.length < maxPerSlice)
        ?? plans.find((p) => p.key === d.key && p.endpoints.length < maxPerSlice);
      if (!plan) {
        plan = {slice: undefined as unknown as EndpointSlice, key: d.key, ports: d.ports, endpoints: []};
        fresh.push(plan);
      }
      plan.endpoints.push(d.endpoint);
      placed.add(d.uid);
    }
    const trigger = kubeTime(Date.now());
    const write = (slice: EndpointSlice | undefined, endpoints: Endpoint[] | null, ports: EndpointPort[] | null): void => {
      if (slice) {
        const unchanged = sameJson(slice.endpoints, endpoints) && sameJson(slice.ports ?? null, ports) &&
          sameJson(slice.metadata.labels, labels) && slice.addressType === 'IPv4';
        if (unchanged) return;
        store.update<EndpointSlice>('endpointslices', {
          ...slice,
          metadata: {...slice.metadata, labels, annotations: {...slice.metadata.annotations, [LAST_CHANGE_TRIGGER_TIME]: trigger}},
          addressType: 'IPv4',
          endpoints,
          ports,
        });
      } else {
        store.create<EndpointSlice>('endpointslices', {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {generateName: `${name}-`, namespace: ns, labels, annotations: {[LAST_CHANGE_TRIGGER_TIME]: trigger}, ownerReferences},
          addressType: 'IPv4',
          endpoints,
          ports,
        });
      }
    };

    const all = [...plans, ...fresh];
    if (desired.length === 0) {
      // The placeholder: a Service with no endpoints still has one (empty) slice.
      const [keep, ...rest] = plans;
      write(keep?.slice, null, null);
      for (const p of rest) store.deleteEndpointSlice(ns, p.slice.metadata.name ?? '');
      return;
    }
    for (const p of all) {
      if (p.endpoints.length === 0) {
        if (p.slice) store.deleteEndpointSlice(ns, p.slice.metadata.name ?? '');
        continue;
      }
      write(p.slice, p.endpoints, p.ports);
    }
  }

  const queue = createReconcileQueue({lag: opts.lag, reconcile});
  const off = onBackendInputs(store, (key) => queue.enqueue(key));
  // Someone else editing or deleting a managed slice is drift the controller repairs.
  const offSlices = store.on<EndpointSlice>('endpointslices', (e) => {
    if (writing) return;
    const labels = e.object.metadata.labels ?? {};
    if (labels[MANAGED_BY_LABEL] === CONTROLLER_NAME && labels[SERVICE_NAME_LABEL]) {
      queue.enqueue(`${e.object.metadata.namespace}/${labels[SERVICE_NAME_LABEL]}`);
    }
  });
  const resyncAll = (): void => {
    for (const svc of store.list<Service>('services')) queue.enqueue(`${svc.metadata.namespace}/${svc.metadata.name}`);
  };
  resyncAll();

  return {
    setLag: (lag) => queue.setLag(lag),
    setMaxEndpointsPerSlice(n) {
      maxPerSlice = n;
      resyncAll();
    },
    whenIdle: () => queue.whenIdle(),
    resyncAll,
    stop() {
      off();
      offSlices();
      queue.stop();
    },
  };
}
