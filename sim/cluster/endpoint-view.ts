/**
 * What a data plane (kube-proxy, an ingress controller, a cloud load balancer) currently believes a Service's
 * endpoints are: the EndpointSlices as they were some propagation lag ago.
 *
 * Every change of the Service's slices is snapshotted and applied after its own random lag (default 0.5–3 s, the
 * watch delivery plus kube-proxy's sync period and rule programming); a snapshot never overwrites a newer one that
 * happened to land first. The view starts with the current state (a data plane that starts does a full sync).
 */
import type {Store} from '../kube/store.js';
import type {EndpointSlice, Service} from '../kube/types.js';
import {SERVICE_NAME_LABEL} from '../kube/endpointslice-controller.js';
import type {Lag} from '../kube/reconcile-queue.js';
import {createLagSampler, type LagDistribution} from './propagation-lag.js';
import type {ViewEndpoint} from './routing.js';

export const DEFAULT_PROPAGATION_LAG: Lag = {minMs: 500, maxMs: 3000};

export interface EndpointView {
  /** Current (lagged) endpoints. */
  endpoints(): ViewEndpoint[];
  setLag(lag: LagDistribution): void;
  /** The lag drawn for each snapshot so far (ms), in order. */
  lags(): number[];
  /** Called after each applied snapshot. Returns an unsubscribe function. */
  onChange(listener: (endpoints: ViewEndpoint[]) => void): () => void;
  close(): void;
}

export interface EndpointViewOptions {
  store: Store;
  namespace: string;
  service: string;
  /** The Service port (by name) whose target port to use; default the first port of the slices. */
  portName?: string;
  lag?: LagDistribution;
  /** Random source of the lag draws (seeded for reproducible runs); default Math.random. */
  random?: () => number;
}

/** Endpoints of all of a Service's slices, one per address (the same endpoint may transiently sit in two slices). */
export function endpointsFromSlices(slices: readonly EndpointSlice[], portName?: string): ViewEndpoint[] {
  const byIp = new Map<string, ViewEndpoint>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const ports = slice.ports ?? [];
    const port = (portName === undefined ? ports[0] : ports.find((p) => (p.name ?? '') === portName))?.port;
    if (port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      const c = ep.conditions ?? {};
      // Absent conditions mean ready/serving (the API's documented defaults), not terminating.
      const ready = c.ready ?? true;
      const view: ViewEndpoint = {
        ip: ep.addresses[0]!,
        port,
        ready,
        serving: c.serving ?? ready,
        terminating: c.terminating ?? false,
        pod: ep.targetRef?.name,
      };
      if (!byIp.has(view.ip) || view.ready) byIp.set(view.ip, view);
    }
  }
  return [...byIp.values()];
}

export function createEndpointView(opts: EndpointViewOptions): EndpointView {
  const {store, namespace, service} = opts;
  let sample = createLagSampler(opts.lag ?? DEFAULT_PROPAGATION_LAG, opts.random);
  const drawn: number[] = [];
  const snapshot = (): ViewEndpoint[] => endpointsFromSlices(store.endpointSlices(namespace, service), opts.portName);
  let current = snapshot();
  let seq = 0;
  let appliedSeq = 0;
  const timers = new Set<NodeJS.Timeout>();
  const listeners = new Set<(e: ViewEndpoint[]) => void>();
  let closed = false;

  const unsubscribe = store.on<EndpointSlice>('endpointslices', (event) => {
    const slice = event.object;
    if (closed || slice.metadata.namespace !== namespace || slice.metadata.labels?.[SERVICE_NAME_LABEL] !== service) return;
    const mySeq = ++seq;
    const next = snapshot();
    const delay = sample();
    drawn.push(delay);
    const t = setTimeout(() => {
      timers.delete(t);
      if (closed || mySeq < appliedSeq) return;
      appliedSeq = mySeq;
      current = next;
      for (const l of listeners) l(current);
    }, delay);
    timers.add(t);
  });

  return {
    endpoints: () => current,
    setLag(l) {
      sample = createLagSampler(l, opts.random);
    },
    lags: () => [...drawn],
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

/** The Service's port name for a port number (`svc.spec.ports[].name`), for views that follow one port. */
export function servicePortName(svc: Service, port?: number): string | undefined {
  const p = port === undefined ? svc.spec.ports?.[0] : svc.spec.ports?.find((x) => x.port === port);
  return p?.name ?? (p ? '' : undefined);
}
