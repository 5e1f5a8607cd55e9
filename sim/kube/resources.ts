// The resource types this API server serves, described once and used by routing, discovery, RBAC messages and the
// store. Names, short names, verbs and categories are those of a real 1.32 cluster, so kubectl resolves `po`, `svc`,
// `ep`, `ev` and `all` the same way.

export interface ResourceInfo {
  group: string;
  version: string;
  /** Plural lower-case name used in URLs and RBAC. */
  resource: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  verbs: string[];
  categories: string[];
  subresources: string[];
  /** Field labels accepted in `fieldSelector` (the real server answers 400 for any other). */
  fieldLabels: string[];
}

const META_FIELDS = ['metadata.name', 'metadata.namespace'];
const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const RESOURCES: readonly ResourceInfo[] = [
  {
    group: '', version: 'v1', resource: 'pods', singular: 'pod', kind: 'Pod', listKind: 'PodList', namespaced: true,
    shortNames: ['po'], verbs: ALL_VERBS, categories: ['all'], subresources: ['status', 'eviction'],
    fieldLabels: [...META_FIELDS, 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName',
      'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  },
  {
    group: '', version: 'v1', resource: 'services', singular: 'service', kind: 'Service', listKind: 'ServiceList',
    namespaced: true, shortNames: ['svc'], verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    categories: ['all'], subresources: ['status'], fieldLabels: [...META_FIELDS, 'spec.clusterIP', 'spec.type'],
  },
  {
    group: '', version: 'v1', resource: 'endpoints', singular: 'endpoints', kind: 'Endpoints', listKind: 'EndpointsList',
    namespaced: true, shortNames: ['ep'], verbs: ALL_VERBS, categories: [], subresources: [], fieldLabels: META_FIELDS,
  },
  {
    group: '', version: 'v1', resource: 'events', singular: 'event', kind: 'Event', listKind: 'EventList', namespaced: true,
    shortNames: ['ev'], verbs: ALL_VERBS, categories: [], subresources: [],
    fieldLabels: [...META_FIELDS, 'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
      'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent',
      'source', 'type'],
  },
  {
    group: '', version: 'v1', resource: 'namespaces', singular: 'namespace', kind: 'Namespace', listKind: 'NamespaceList',
    namespaced: false, shortNames: ['ns'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    categories: [], subresources: ['status'], fieldLabels: [...META_FIELDS, 'status.phase'],
  },
  {
    group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', singular: 'endpointslice', kind: 'EndpointSlice',
    listKind: 'EndpointSliceList', namespaced: true, shortNames: [], verbs: ALL_VERBS, categories: [], subresources: [],
    fieldLabels: META_FIELDS,
  },
];

export type ResourceName = 'pods' | 'services' | 'endpoints' | 'events' | 'namespaces' | 'endpointslices';

export function apiVersionOf(info: ResourceInfo): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

/** Finds a resource by plural, singular, kind or short name (case-insensitive for kinds), as kubectl users type them. */
export function lookupResource(name: string): ResourceInfo | undefined {
  const lower = name.toLowerCase();
  return RESOURCES.find(
    (r) => r.resource === lower || r.singular === lower || r.kind.toLowerCase() === lower || r.shortNames.includes(lower),
  );
}

/** Like lookupResource, for callers that name a resource they know exists. */
export function resourceInfo(name: string): ResourceInfo {
  const info = lookupResource(name);
  if (!info) throw new Error(`unknown resource ${JSON.stringify(name)}`);
  return info;
}

/** The resource served at /api/v1/... or /apis/{group}/{version}/... with this plural name. */
export function resourceForPath(group: string, version: string, plural: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === plural);
}
