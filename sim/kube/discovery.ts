// API discovery documents, the way kubectl finds out which resources exist: the legacy per-group documents
// (/api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version}) and the aggregated form (KEP-3352) that kubectl 1.30+
// asks for first with `Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`.
import {apiVersionOf, RESOURCES, type ResourceInfo} from './resources.js';

export const AGGREGATED_DISCOVERY_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-lameduck-sim',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.4',
  compiler: 'gc',
  platform: 'linux/amd64',
};

/** Does this Accept header ask for aggregated discovery (v2)? */
export function wantsAggregated(accept: string | undefined): boolean {
  return !!accept && /as=APIGroupDiscoveryList/.test(accept) && /v=v2(?![a-z0-9])/.test(accept);
}

const groups = (): string[] => [...new Set(RESOURCES.filter((r) => r.group !== '').map((r) => r.group))];

function groupVersions(group: string): {groupVersion: string; version: string}[] {
  const versions = [...new Set(RESOURCES.filter((r) => r.group === group).map((r) => r.version))];
  return versions.map((version) => ({groupVersion: group ? `${group}/${version}` : version, version}));
}

export function apiVersions(serverAddress: string): unknown {
  return {kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{clientCIDR: '0.0.0.0/0', serverAddress}]};
}

function apiGroup(group: string): unknown {
  const versions = groupVersions(group);
  return {name: group, versions, preferredVersion: versions[0]};
}

export function apiGroupList(): unknown {
  return {kind: 'APIGroupList', apiVersion: 'v1', groups: groups().map(apiGroup)};
}

/** /apis/{group}, or undefined for a group this server does not serve. */
export function apiGroupDocument(group: string): unknown {
  if (!groups().includes(group)) return undefined;
  return {kind: 'APIGroup', apiVersion: 'v1', ...(apiGroup(group) as object)};
}

const SUBRESOURCE_VERBS = ['get', 'patch', 'update'];

/** pods/eviction takes a policy/v1 Eviction and only allows create; status subresources get/patch/update. */
function subresourceShape(r: ResourceInfo, sub: string): {group: string; version: string; kind: string; verbs: string[]} {
  if (sub === 'eviction') return {group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create']};
  return {group: r.group, version: r.version, kind: r.kind, verbs: SUBRESOURCE_VERBS};
}

/** /api/v1 or /apis/{group}/{version}, or undefined if nothing is served there. */
export function apiResourceList(group: string, version: string): unknown {
  const infos = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (infos.length === 0) return undefined;
  const resources: unknown[] = [];
  for (const r of infos) {
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames.length ? {shortNames: r.shortNames} : {}),
      ...(r.categories.length ? {categories: r.categories} : {}),
    });
    for (const sub of r.subresources) {
      const shape = subresourceShape(r, sub);
      resources.push({
        name: `${r.resource}/${sub}`,
        singularName: '',
        namespaced: r.namespaced,
        ...(shape.group !== r.group ? {group: shape.group, version: shape.version} : {}),
        kind: shape.kind,
        verbs: shape.verbs,
      });
    }
  }
  return {kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(infos[0]), resources};
}

function discoveryResource(r: ResourceInfo): unknown {
  const responseKind = {group: r.group, version: r.version, kind: r.kind};
  return {
    resource: r.resource,
    responseKind,
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
    ...(r.shortNames.length ? {shortNames: r.shortNames} : {}),
    ...(r.categories.length ? {categories: r.categories} : {}),
    ...(r.subresources.length
      ? {
          subresources: r.subresources.map((subresource) => {
            const {verbs, ...kind} = subresourceShape(r, subresource);
            return {subresource, responseKind: kind, verbs};
          }),
        }
      : {}),
  };
}

/** Aggregated discovery for /api (`core`) or /apis (every named group). */
export function aggregatedDiscovery(which: 'core' | 'groups'): unknown {
  const names = which === 'core' ? [''] : groups();
  const items = names.map((group) => ({
    metadata: group ? {name: group, creationTimestamp: null} : {creationTimestamp: null},
    versions: groupVersions(group).map(({version}) => ({
      version,
      resources: RESOURCES.filter((r) => r.group === group && r.version === version).map(discoveryResource),
      freshness: 'Current',
    })),
  }));
  return {kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items};
}
