// The HTTP face of the simulation: one request handler that authenticates, throttles (API Priority and Fairness),
// authorizes (RBAC denials set by tests), routes REST paths to the store, and encodes answers as a kube-apiserver
// does — JSON objects, lists without per-item kind/apiVersion, Status errors, Tables for kubectl, watch streams.
import type {MutatingAdmission} from './admission.js';
import type {IncomingMessage, ServerResponse} from 'node:http';
import {
  ApiError,
  badRequest,
  forbidden,
  internalError,
  methodNotAllowed,
  noSuchResource,
  notFound,
  tooLargeResourceVersion,
  tooManyRequests,
  unauthorized,
} from './errors.js';
import {
  aggregatedDiscovery,
  AGGREGATED_DISCOVERY_CONTENT_TYPE,
  apiGroupDocument,
  apiGroupList,
  apiResourceList,
  apiVersions,
  SERVER_VERSION,
  wantsAggregated,
} from './discovery.js';
import type {FaultState} from './faults.js';
import {applyPatch} from './patch.js';
import {setCondition} from './pod-status.js';
import type {RequestLogWriter, RequestRecord} from './request-log.js';
import {apiVersionOf, resourceForPath, type ResourceInfo, type ResourceName} from './resources.js';
import {parseFieldSelector, parseLabelSelector} from './selectors.js';
import type {DeleteOptions, Store, UpdateOptions} from './store.js';
import {toTable, wantsTable, type IncludeObject} from './tables.js';
import type {KubeObject, Pod} from './types.js';
import type {WatchHub} from './watch-hub.js';

export interface ApiHandlerDeps {
  store: Store;
  watches: WatchHub;
  faults: FaultState;
  requests: RequestLogWriter;
  /** The currently valid bearer token. */
  token: () => string;
  /** Identity of that token, for Forbidden messages. */
  user: string;
  /** host:port clients use, for /api's serverAddressByClientCIDRs. */
  serverAddress: () => string;
  /** Serve aggregated discovery when asked (kubectl 1.30+ asks first). Default true. */
  aggregatedDiscovery?: boolean;
  /** Mutating admission webhooks, called on create before defaulting and storage. */
  admission?: MutatingAdmission;
}

const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Paths the real server lets anyone read (system:public-info-viewer). */
const PUBLIC_PATHS = new Set(['/version', '/version/', '/healthz', '/livez', '/readyz']);
/** Resources whose DELETE answers with the object rather than a Status (registry ReturnDeletedObject). */
const RETURNS_DELETED_OBJECT = new Set(['pods', 'services', 'namespaces']);
/** Resources with a status subresource: a PUT/PATCH of the main resource leaves status alone. */
const HAS_STATUS = new Set(['pods', 'services', 'namespaces']);

interface Route {
  info: ResourceInfo;
  namespace?: string;
  name?: string;
  subresource?: string;
}

function sendJson(res: ServerResponse, record: RequestRecord, status: number, body: unknown, headers: Record<string, string> = {}): void {
  record.status = status;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': headers['Content-Type'] ?? 'application/json',
    'Cache-Control': 'no-cache, private',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, record: RequestRecord, err: ApiError): void {
  sendJson(res, record, err.httpStatus, err.status, err.headers);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      throw new ApiError({kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Request entity too large', reason: 'RequestEntityTooLarge' as never, code: 413});
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the server could not parse the request body: ${(err as Error).message}`);
  }
}

/** Splits a REST path into resource, namespace, name, subresource; undefined when it is not a resource path. */
function parseRoute(segments: string[]): Route | 'discovery' | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments[1] === 'v1') {
    group = '';
    version = 'v1';
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 3) {
    group = segments[1];
    version = segments[2];
    rest = segments.slice(3);
  } else {
    return undefined;
  }
  if (rest.length === 0) return 'discovery';
  const find = (plural: string): ResourceInfo => {
    const info = resourceForPath(group, version, plural);
    if (!info) throw noSuchResource();
    return info;
  };
  if (rest[0] === 'namespaces' && group === '' && rest.length >= 3) {
    // /api/v1/namespaces/{ns}/{resource}[/{name}[/{sub}]]; but /api/v1/namespaces/{ns}/status is the namespace's own.
    if (rest.length === 3 && rest[2] === 'status') return {info: find('namespaces'), name: rest[1], subresource: 'status'};
    const info = find(rest[2]);
    if (!info.namespaced || rest.length > 5) throw noSuchResource();
    return {info, namespace: rest[1], name: rest[3], subresource: rest[4]};
  }
  if (rest[0] === 'namespaces' && group !== '' && rest.length >= 3) {
    const info = find(rest[2]);
    if (!info.namespaced || rest.length > 5) throw noSuchResource();
    return {info, namespace: rest[1], name: rest[3], subresource: rest[4]};
  }
  const info = find(rest[0]);
  if (rest.length > 3) throw noSuchResource();
  if (info.namespaced && rest.length > 1) throw noSuchResource();
  return {info, name: rest[1], subresource: rest[2]};
}

function verbOf(method: string, route: Route, watch: boolean): string {
  const named = route.name !== undefined;
  switch (method) {
    case 'GET':
      return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

const isTrue = (v: string | null): boolean => v === 'true' || v === '1';

function stripTypeMeta(obj: KubeObject): KubeObject {
  const {kind: _k, apiVersion: _a, ...rest} = obj;
  return rest as KubeObject;
}

interface ContinueToken {
  rv: number;
  after: string;
}

const encodeContinue = (t: ContinueToken): string => Buffer.from(JSON.stringify(t)).toString('base64url');

function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as ContinueToken;
    if (typeof t.after !== 'string') throw new Error('bad token');
    return t;
  } catch {
    throw badRequest('continue key is not valid: illegal base64 data');
  }
}

export function createApiHandler(deps: ApiHandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const {store, watches, faults, requests} = deps;
  const aggregated = deps.aggregatedDiscovery ?? true;

  function authenticate(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    return !!m && m[1].trim() === deps.token();
  }

  function serveNonResource(req: IncomingMessage, res: ServerResponse, record: RequestRecord, path: string): void {
    const accept = req.headers.accept;
    const segments = path.split('/').filter(Boolean);
    if (path === '/version' || path === '/version/') return sendJson(res, record, 200, SERVER_VERSION);
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      record.status = 200;
      res.writeHead(200, {'Content-Type': 'text/plain; charset=utf-8'});
      res.end('ok');
      return;
    }
    if (path === '/api' || path === '/api/') {
      if (aggregated && wantsAggregated(accept)) {
        return sendJson(res, record, 200, aggregatedDiscovery('core'), {'Content-Type': AGGREGATED_DISCOVERY_CONTENT_TYPE, Vary: 'Accept'});
      }
      return sendJson(res, record, 200, apiVersions(deps.serverAddress()), {Vary: 'Accept'});
    }
    if (path === '/apis' || path === '/apis/') {
      if (aggregated && wantsAggregated(accept)) {
        return sendJson(res, record, 200, aggregatedDiscovery('groups'), {'Content-Type': AGGREGATED_DISCOVERY_CONTENT_TYPE, Vary: 'Accept'});
      }
      return sendJson(res, record, 200, apiGroupList(), {Vary: 'Accept'});
    }
    if (segments[0] === 'apis' && segments.length === 2) {
      const doc = apiGroupDocument(segments[1]);
      if (doc) return sendJson(res, record, 200, doc);
      return sendError(res, record, noSuchResource());
    }
    if (segments[0] === 'api' || segments[0] === 'apis') return sendError(res, record, noSuchResource());
    // Like the real server's NotFoundHandler (this includes /openapi/v2 and /openapi/v3, which are not served).
    record.status = 404;
    res.writeHead(404, {'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff'});
    res.end('404 page not found\n');
  }

  /**
   * Which state a list reads (https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions):
   * no resourceVersion -> consistent (current); Exact -> that revision; otherwise (0, or NotOlderThan N) -> the watch
   * cache, which may lag (faults.lagWatchCache) but never answers older than N.
   */
  function listRevision(query: URLSearchParams): number | undefined {
    const param = query.get('resourceVersion');
    const match = query.get('resourceVersionMatch');
    if (param === null || param === '') {
      if (match) throw badRequest(`resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided`);
      return undefined;
    }
    const n = Number(param);
    if (!/^\d+$/.test(param) || !Number.isSafeInteger(n)) throw badRequest(`resourceVersion: Invalid value: "${param}": must be a non-negative integer`);
    if (match && match !== 'NotOlderThan' && match !== 'Exact') {
      throw badRequest(`resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`);
    }
    if (match === 'Exact') return n;
    const cache = faults.watchCacheRevision() ?? store.resourceVersion();
    if (n > cache) throw tooLargeResourceVersion(n, cache);
    return cache;
  }

  function listBody(route: Route, query: URLSearchParams, accept: string | undefined): unknown {
    const {info} = route;
    const labelSelector = parseLabelSelector(query.get('labelSelector') ?? undefined);
    const fieldSelector = parseFieldSelector(query.get('fieldSelector') ?? undefined, info.fieldLabels);
    const at = listRevision(query);
    const resourceVersion = String(at ?? store.resourceVersion());
    let items = store.list(info.resource as ResourceName, route.namespace, {labelSelector, fieldSelector, atResourceVersion: at});
    const limit = Number(query.get('limit') ?? 0);
    const cont = query.get('continue');
    let continueToken: string | undefined;
    let remaining: number | undefined;
    if (cont) {
      const t = decodeContinue(cont);
      items = items.filter((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}` > t.after);
    }
    // resourceVersion=0 is served from the watch cache, which ignores limit (no pagination).
    const paginate = query.get('resourceVersion') !== '0';
    if (paginate && Number.isInteger(limit) && limit > 0 && items.length > limit) {
      remaining = items.length - limit;
      items = items.slice(0, limit);
      const last = items[items.length - 1];
      continueToken = encodeContinue({rv: store.resourceVersion(), after: `${last.metadata.namespace ?? ''}/${last.metadata.name}`});
    }
    if (wantsTable(accept)) {
      return toTable(info, items, {resourceVersion, includeObject: (query.get('includeObject') as IncludeObject | null) ?? undefined});
    }
    const metadata: Record<string, unknown> = {resourceVersion};
    if (continueToken) {
      metadata.continue = continueToken;
      metadata.remainingItemCount = remaining;
    }
    return {kind: info.listKind, apiVersion: apiVersionOf(info), metadata, items: items.map(stripTypeMeta)};
  }

  function render(info: ResourceInfo, obj: KubeObject, accept: string | undefined, query: URLSearchParams): unknown {
    if (!wantsTable(accept)) return obj;
    return toTable(info, [obj], {
      resourceVersion: obj.metadata.resourceVersion,
      includeObject: (query.get('includeObject') as IncludeObject | null) ?? undefined,
    });
  }

  function deleteOptions(query: URLSearchParams, body: unknown): DeleteOptions {
    const opts: DeleteOptions = {};
    const b = (body ?? {}) as {gracePeriodSeconds?: number; preconditions?: DeleteOptions['preconditions']; dryRun?: string[]};
    if (b.gracePeriodSeconds !== undefined && b.gracePeriodSeconds !== null) opts.gracePeriodSeconds = Number(b.gracePeriodSeconds);
    const q = query.get('gracePeriodSeconds');
    if (q !== null && q !== '') {
      const n = Number(q);
      if (!Number.isInteger(n)) throw badRequest(`gracePeriodSeconds: Invalid value: "${q}": must be an integer`);
      opts.gracePeriodSeconds = n;
    }
    if (b.preconditions) opts.preconditions = b.preconditions;
    if (query.get('dryRun') === 'All' || b.dryRun?.includes('All')) opts.dryRun = true;
    return opts;
  }

  /** POST pods/{name}/eviction: what `kubectl drain` does. No PodDisruptionBudgets are simulated. */
  function evict(route: Route, body: unknown): unknown {
    const info = route.info;
    const ns = route.namespace ?? 'default';
    const name = route.name ?? '';
    const pod = store.getPod(ns, name);
    if (!pod) throw notFound(info, name);
    const options = ((body ?? {}) as {deleteOptions?: {gracePeriodSeconds?: number}}).deleteOptions ?? {};
    if (!pod.metadata.deletionTimestamp) {
      // Since 1.26 the eviction API marks the pod before deleting it (KEP-3329).
      store.patchPodStatus(ns, name, (status) => {
        setCondition(status, 'DisruptionTarget', 'True', {reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting'});
      });
    }
    store.deletePod(ns, name, options.gracePeriodSeconds === undefined ? {} : {gracePeriodSeconds: options.gracePeriodSeconds});
    return {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201};
  }

  async function serveResource(req: IncomingMessage, res: ServerResponse, record: RequestRecord, route: Route, query: URLSearchParams): Promise<void> {
    const {info} = route;
    const method = req.method ?? 'GET';
    const accept = req.headers.accept;
    const watch = method === 'GET' && isTrue(query.get('watch'));
    const verb = route.subresource === 'eviction' ? 'create' : verbOf(method, route, watch);
    const rbacResource = route.subresource ? `${info.resource}/${route.subresource}` : info.resource;
    Object.assign(record, {verb, resource: rbacResource, namespace: route.namespace ?? '', name: route.name ?? ''});

    if (faults.isDenied(verb, rbacResource)) {
      throw forbidden({user: deps.user, verb, ref: info, subresource: route.subresource, namespace: route.namespace, name: route.name});
    }
    const warning: Record<string, string> =
      info.resource === 'endpoints' ? {Warning: '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"'} : {};
    const ns = route.namespace ?? '';
    const name = route.name;
    const sub = route.subresource;
    if (sub !== undefined && !info.subresources.includes(sub)) throw noSuchResource();

    if (watch) {
      const fieldSelector = parseFieldSelector(
        name ? [`metadata.name=${name}`, query.get('fieldSelector')].filter(Boolean).join(',') : (query.get('fieldSelector') ?? undefined),
        info.fieldLabels,
      );
      const timeout = query.get('timeoutSeconds');
      let first = true;
      record.status = 200;
      watches.serve(
        {
          info,
          namespace: route.namespace,
          labelSelector: parseLabelSelector(query.get('labelSelector') ?? undefined),
          fieldSelector,
          resourceVersion: query.get('resourceVersion') ?? undefined,
          timeoutSeconds: timeout ? Number(timeout) : undefined,
          allowWatchBookmarks: isTrue(query.get('allowWatchBookmarks')),
          sendInitialEvents: isTrue(query.get('sendInitialEvents')),
          encode: wantsTable(accept)
            ? (obj) => {
                const t = toTable(info, [obj], {noHeaders: !first, includeObject: (query.get('includeObject') as IncludeObject | null) ?? undefined});
                first = false;
                return t;
              }
            : undefined,
        },
        res,
      );
      return;
    }

    if (method === 'GET') {
      if (name === undefined) return sendJson(res, record, 200, listBody(route, query, accept), warning);
      const obj = store.get(info.resource as ResourceName, ns, name);
      if (!obj) throw notFound(info, name);
      return sendJson(res, record, 200, render(info, obj, accept, query), warning);
    }

    const body = await readBody(req);
    const dryRun = query.get('dryRun') === 'All';
    if (method === 'POST') {
      if (sub === 'eviction' && name !== undefined) return sendJson(res, record, 201, evict(route, body));
      if (name !== undefined || (info.namespaced && route.namespace === undefined)) throw methodNotAllowed();
      const obj = (body ?? {}) as KubeObject;
      if (typeof obj !== 'object' || Array.isArray(obj)) throw badRequest('the body must be a JSON object');
      obj.metadata = {...(obj.metadata ?? {})};
      if (info.namespaced) {
        if (obj.metadata.namespace && obj.metadata.namespace !== ns) {
          throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
        }
        obj.metadata.namespace = ns;
      }
      let admitted = obj;
      const headers = {...warning};
      if (deps.admission) {
        const r = await deps.admission.admitCreate({info, namespace: info.namespaced ? ns : undefined, object: obj, user: deps.user, dryRun});
        admitted = r.object;
        admitted.metadata = {...(admitted.metadata ?? {}), ...(info.namespaced ? {namespace: ns} : {})};
        // Admission warnings reach the client as Warning headers (RFC 7234 warn-code 299), as kubectl prints them.
        if (r.warnings.length > 0) headers.Warning = [headers.Warning, ...r.warnings.map((w) => `299 - ${JSON.stringify(w)}`)].filter(Boolean).join(', ');
      }
      // PrepareForCreate: a client cannot create a pod or service with a status of its choosing.
      if (info.resource === 'pods') (admitted as Pod).status = {phase: 'Pending'};
      if (info.resource === 'services') delete admitted.status;
      const created = store.create(info.resource as ResourceName, admitted, {dryRun, requireNamespace: true});
      return sendJson(res, record, 201, render(info, created, accept, query), headers);
    }
    if (name === undefined) {
      if (method === 'DELETE' && route.namespace !== undefined) {
        const opts = deleteOptions(query, body);
        const labelSelector = query.get('labelSelector') ?? undefined;
        const fieldSelector = query.get('fieldSelector') ?? undefined;
        const deleted = store.list(info.resource as ResourceName, ns, {labelSelector, fieldSelector})
          .map((o) => store.delete(info.resource as ResourceName, ns, o.metadata.name ?? '', opts));
        return sendJson(res, record, 200, {kind: info.listKind, apiVersion: apiVersionOf(info), metadata: {resourceVersion: String(store.resourceVersion())}, items: deleted.map(stripTypeMeta)});
      }
      throw methodNotAllowed();
    }
    if (method === 'PUT' || method === 'PATCH') {
      const scope: UpdateOptions['scope'] = sub === 'status' ? 'status' : HAS_STATUS.has(info.resource) ? 'spec' : 'all';
      let next: KubeObject;
      if (method === 'PUT') {
        next = (body ?? {}) as KubeObject;
        if (typeof next !== 'object' || Array.isArray(next)) throw badRequest('the body must be a JSON object');
        next.metadata = {...(next.metadata ?? {})};
        if (next.metadata.name && next.metadata.name !== name) {
          throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`);
        }
        next.metadata.name = name;
      } else {
        const current = store.get(info.resource as ResourceName, ns, name);
        if (!current) throw notFound(info, name);
        next = applyPatch(current, body, req.headers['content-type'] ?? '') as KubeObject;
        next.metadata = {...(next.metadata ?? {}), name};
        // A patch is applied to what the server holds; only a resourceVersion the patch itself sets is a precondition.
        const patchRv = (body as {metadata?: {resourceVersion?: string}} | undefined)?.metadata?.resourceVersion;
        next.metadata.resourceVersion = Array.isArray(body) ? current.metadata.resourceVersion : patchRv;
      }
      if (info.namespaced) next.metadata.namespace = ns;
      const updated = store.update(info.resource as ResourceName, next, {scope, dryRun});
      return sendJson(res, record, 200, render(info, updated, accept, query), warning);
    }
    if (method === 'DELETE') {
      if (sub !== undefined) throw methodNotAllowed();
      const result = store.delete(info.resource as ResourceName, ns, name, deleteOptions(query, body));
      if (RETURNS_DELETED_OBJECT.has(info.resource)) return sendJson(res, record, 200, result, warning);
      const details: Record<string, unknown> = {name, kind: info.resource, uid: result.metadata.uid};
      if (info.group) details.group = info.group;
      return sendJson(res, record, 200, {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details}, warning);
    }
    throw methodNotAllowed();
  }

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const record = requests.add({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      time: Date.now(),
      userAgent: String(req.headers['user-agent'] ?? ''),
      verb: '',
      resource: '',
      namespace: '',
      name: '',
    });
    const handle = async (): Promise<void> => {
      const path = url.pathname.replace(/\/+$/, '') || '/';
      if (!PUBLIC_PATHS.has(path) && !authenticate(req)) throw unauthorized();
      const segments = path.split('/').filter(Boolean);
      const route = parseRoute(segments);
      const retryAfter = faults.takeThrottle(
        route && route !== 'discovery' ? verbOf(req.method ?? 'GET', route, isTrue(url.searchParams.get('watch'))) : '',
        route && route !== 'discovery' ? route.info.resource : '',
      );
      if (retryAfter !== undefined) throw tooManyRequests(retryAfter);
      if (route === undefined) return serveNonResource(req, res, record, path);
      if (route === 'discovery') {
        const doc = segments[0] === 'api' ? apiResourceList('', 'v1') : apiResourceList(segments[1], segments[2]);
        if (!doc) throw noSuchResource();
        return sendJson(res, record, 200, doc);
      }
      await serveResource(req, res, record, route, url.searchParams);
    };
    handle().catch((err: unknown) => {
      const apiErr = err instanceof ApiError ? err : internalError(err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Drain an unread body so the connection stays usable for keep-alive.
      req.resume();
      sendError(res, record, apiErr);
    });
  };
}
