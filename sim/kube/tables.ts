// Server-side printing (meta.k8s.io/v1 Table): kubectl's `get` asks for
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints the columns the server chose. Columns and cell
// formats follow pkg/printers/internalversion/printers.go, so `kubectl get pods` here looks like it does on a cluster.
import {isTerminalPhase} from './pod-status.js';
import type {ResourceInfo} from './resources.js';
import {humanDuration} from './time.js';
import type {CoreEvent, EndpointSlice, Endpoints, KubeObject, Pod, Service} from './types.js';

interface Column {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  description?: string;
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Does this Accept header ask for a Table? */
export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

const NAME: Column = {name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.'};
const AGE: Column = {name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.'};

const since = (ts: string | null | undefined, now: number): string => (ts ? humanDuration(now - Date.parse(ts)) : '<unknown>');

function podRow(pod: Pod, now: number): unknown[] {
  const status = pod.status ?? {};
  let reason = status.reason || status.phase || '';
  const sidecars = (pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name);
  const total = pod.spec.containers.length + sidecars.length;
  let ready = 0;
  let restarts = 0;
  for (const cs of status.initContainerStatuses ?? []) {
    restarts += cs.restartCount ?? 0;
    if (sidecars.includes(cs.name) && cs.ready && cs.started) ready++;
  }
  let hasRunning = false;
  for (const cs of [...(status.containerStatuses ?? [])].reverse()) {
    restarts += cs.restartCount ?? 0;
    const st = cs.state ?? {};
    if (st.waiting?.reason) reason = st.waiting.reason;
    else if (st.terminated?.reason) reason = st.terminated.reason;
    else if (st.terminated) reason = st.terminated.signal ? `Signal:${st.terminated.signal}` : `ExitCode:${st.terminated.exitCode}`;
    else if (cs.ready && st.running) {
      hasRunning = true;
      ready++;
    }
  }
  if (reason === 'Completed' && hasRunning) {
    reason = status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
  }
  if (pod.metadata.deletionTimestamp && !isTerminalPhase(pod)) reason = 'Terminating';
  const gates = (pod.spec.readinessGates as unknown[] | undefined)?.length ?? 0;
  return [
    pod.metadata.name,
    `${ready}/${total}`,
    reason,
    String(restarts),
    since(pod.metadata.creationTimestamp, now),
    status.podIP || '<none>',
    pod.spec.nodeName || '<none>',
    (status.nominatedNodeName as string | undefined) || '<none>',
    gates ? `0/${gates}` : '<none>',
  ];
}

function servicePorts(svc: Service): string {
  const ports = svc.spec.ports ?? [];
  if (ports.length === 0) return '<none>';
  return ports.map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

function firstAddresses(addrs: string[]): string {
  if (addrs.length === 0) return '';
  const shown = addrs.slice(0, 3).join(',');
  return addrs.length > 3 ? `${shown} + ${addrs.length - 3} more...` : shown;
}

function endpointsCell(ep: Endpoints): string {
  const addrs: string[] = [];
  for (const s of ep.subsets ?? []) {
    for (const a of s.addresses ?? []) {
      const ports = s.ports ?? [];
      if (ports.length === 0) addrs.push(a.ip);
      for (const p of ports) addrs.push(`${a.ip}:${p.port}`);
    }
  }
  return firstAddresses(addrs) || '<none>';
}

function sliceRow(slice: EndpointSlice, now: number): unknown[] {
  const ports = (slice.ports ?? []).map((p) => String(p.port ?? ''));
  const addrs = (slice.endpoints ?? []).flatMap((e) => e.addresses ?? []);
  return [
    slice.metadata.name,
    slice.addressType,
    ports.length ? ports.join(',') : '<unset>',
    firstAddresses(addrs) || '<unset>',
    since(slice.metadata.creationTimestamp, now),
  ];
}

function eventRow(ev: CoreEvent, now: number): unknown[] {
  const last = ev.lastTimestamp || ev.eventTime || ev.metadata.creationTimestamp;
  const first = ev.firstTimestamp || ev.eventTime || ev.metadata.creationTimestamp;
  let lastSeen = since(last, now);
  if ((ev.count ?? 0) > 1) lastSeen = `${lastSeen} (x${ev.count} over ${since(first, now)})`;
  const source = ev.source?.component
    ? [ev.source.component, ev.source.host].filter(Boolean).join(', ')
    : (ev.reportingComponent ?? '');
  return [
    lastSeen,
    ev.type ?? '',
    ev.reason ?? '',
    `${(ev.involvedObject?.kind ?? '').toLowerCase()}/${ev.involvedObject?.name ?? ''}`,
    ev.involvedObject?.fieldPath ?? '',
    source,
    ev.message ?? '',
    since(first, now),
    String(ev.count ?? 1),
    ev.metadata.name,
  ];
}

function layout(resource: string): {columns: Column[]; row: (obj: KubeObject, now: number) => unknown[]} {
  switch (resource) {
    case 'pods':
      return {
        columns: [
          NAME,
          {name: 'Ready', type: 'string', description: 'The aggregate readiness state of this pod for accepting traffic.'},
          {name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.'},
          {name: 'Restarts', type: 'string', description: 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'},
          AGE,
          {name: 'IP', type: 'string', priority: 1, description: 'IP address allocated to the pod.'},
          {name: 'Node', type: 'string', priority: 1, description: 'Name of the Node this pod runs on.'},
          {name: 'Nominated Node', type: 'string', priority: 1, description: 'Nominated node name.'},
          {name: 'Readiness Gates', type: 'string', priority: 1, description: 'Pod readiness gates.'},
        ],
        row: (o, now) => podRow(o as Pod, now),
      };
    case 'services':
      return {
        columns: [
          NAME,
          {name: 'Type', type: 'string'},
          {name: 'Cluster-IP', type: 'string'},
          {name: 'External-IP', type: 'string'},
          {name: 'Port(s)', type: 'string'},
          AGE,
          {name: 'Selector', type: 'string', priority: 1},
        ],
        row: (o, now) => {
          const svc = o as Service;
          const sel = Object.entries(svc.spec.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
          return [svc.metadata.name, svc.spec.type ?? 'ClusterIP', svc.spec.clusterIP || '<none>', '<none>', servicePorts(svc),
            since(svc.metadata.creationTimestamp, now), sel || '<none>'];
        },
      };
    case 'endpoints':
      return {
        columns: [NAME, {name: 'Endpoints', type: 'string'}, AGE],
        row: (o, now) => [o.metadata.name, endpointsCell(o as Endpoints), since(o.metadata.creationTimestamp, now)],
      };
    case 'endpointslices':
      return {
        columns: [NAME, {name: 'AddressType', type: 'string'}, {name: 'Ports', type: 'string'}, {name: 'Endpoints', type: 'string'}, AGE],
        row: (o, now) => sliceRow(o as EndpointSlice, now),
      };
    case 'events':
      return {
        columns: [
          {name: 'Last Seen', type: 'string'},
          {name: 'Type', type: 'string'},
          {name: 'Reason', type: 'string'},
          {name: 'Object', type: 'string'},
          {name: 'Subobject', type: 'string', priority: 1},
          {name: 'Source', type: 'string', priority: 1},
          {name: 'Message', type: 'string'},
          {name: 'First Seen', type: 'string', priority: 1},
          {name: 'Count', type: 'string', priority: 1},
          {name: 'Name', type: 'string', priority: 1, format: 'name'},
        ],
        row: (o, now) => eventRow(o as CoreEvent, now),
      };
    case 'namespaces':
      return {
        columns: [NAME, {name: 'Status', type: 'string'}, AGE],
        row: (o, now) => [o.metadata.name, (o.status as {phase?: string} | undefined)?.phase ?? '', since(o.metadata.creationTimestamp, now)],
      };
    default:
      return {columns: [NAME, AGE], row: (o, now) => [o.metadata.name, since(o.metadata.creationTimestamp, now)]};
  }
}

function rowObject(obj: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return {kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata};
}

function columnDefinitions(columns: Column[]): unknown[] {
  return columns.map((c) => ({name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0}));
}

export function toTable(
  info: ResourceInfo,
  objects: KubeObject[],
  opts: {resourceVersion?: string; includeObject?: IncludeObject; now?: number; noHeaders?: boolean} = {},
): unknown {
  const {columns, row} = layout(info.resource);
  const now = opts.now ?? Date.now();
  const include = opts.includeObject ?? 'Metadata';
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: opts.resourceVersion ? {resourceVersion: opts.resourceVersion} : {},
    // A watch sends column definitions only in its first event (`?watch=true` with Tables); the rest carry rows only.
    columnDefinitions: opts.noHeaders ? null : columnDefinitions(columns),
    rows: objects.map((o) => {
      const r: Record<string, unknown> = {cells: row(o, now)};
      const object = rowObject(o, include);
      if (object !== undefined) r.object = object;
      return r;
    }),
  };
}
