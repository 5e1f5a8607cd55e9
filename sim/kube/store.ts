// The simulation's etcd plus registry logic: every object the API server serves lives here. Each mutation bumps one
// global resourceVersion (like an etcd revision), is kept in a bounded history for watches that resume from an older
// version, and is delivered to listeners strictly in resourceVersion order, even when a listener itself writes.
// In-process callers (tests, the simulated kubelet, the controllers) use it synchronously; the HTTP layer calls the
// same methods, so both paths obey the same rules.
import {randomInt, randomUUID} from 'node:crypto';
import {sameJson} from './canonical-json.js';
import {applyDefaults} from './defaults.js';
import {alreadyExists, conflict, expired, namespaceNotFound, notFound} from './errors.js';
import {isTerminalPhase, markReady} from './pod-status.js';
import {apiVersionOf, resourceInfo, type ResourceInfo, type ResourceName} from './resources.js';
import {fieldValue, parseFieldSelector, parseLabelSelector, type FieldSelector, type Selector} from './selectors.js';
import {kubeTime} from './time.js';
import type {CoreEvent, EndpointSlice, Endpoints, KubeObject, Namespace, Pod, PodStatus, Service} from './types.js';
import {validate} from './validation.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  resource: ResourceName;
  /** Deep-frozen snapshot after the change; for DELETED the last state, carrying the deletion's resourceVersion. */
  object: T;
  /** Deep-frozen snapshot before the change (MODIFIED, DELETED). */
  oldObject?: T;
  resourceVersion: number;
}

export type StoreListener<T extends KubeObject = KubeObject> = (event: StoreEvent<T>) => void;

export interface ListOptions {
  labelSelector?: string | Selector;
  fieldSelector?: string | FieldSelector;
  /** The state as it was at this resourceVersion (rebuilt from history; 410 Expired if that was compacted). */
  atResourceVersion?: number;
}

export interface WriteOptions {
  /** Validate and compute the result without storing it (`?dryRun=All`). */
  dryRun?: boolean;
  /** Reject writes into a namespace that does not exist (HTTP path); in-process writes create it on demand. */
  requireNamespace?: boolean;
}

export interface UpdateOptions extends WriteOptions {
  /**
   * `status`: only the status changes (the /status subresource). `spec`: the status is kept (a PUT to the main
   * resource of a type with a status subresource). Default `all`: the whole object is replaced (in-process use).
   */
  scope?: 'all' | 'spec' | 'status';
}

export interface DeleteOptions extends WriteOptions {
  gracePeriodSeconds?: number;
  preconditions?: {uid?: string; resourceVersion?: string};
}

export interface Store {
  /** Current global resourceVersion (the last write's). */
  resourceVersion(): number;
  /** Watches must start at or after this resourceVersion; older ones are answered with 410 Expired. */
  oldestWatchableVersion(): number;

  create<T extends KubeObject>(resource: ResourceName, obj: T, opts?: WriteOptions): T;
  get<T extends KubeObject>(resource: ResourceName, namespace: string, name: string): T | undefined;
  update<T extends KubeObject>(resource: ResourceName, obj: T, opts?: UpdateOptions): T;
  /** Deletes; pods follow graceful-deletion rules and may come back still present with a deletionTimestamp. */
  delete<T extends KubeObject>(resource: ResourceName, namespace: string, name: string, opts?: DeleteOptions): T;
  /** Objects sorted by namespace then name, as etcd lists them. Namespace `undefined` lists across namespaces. */
  list<T extends KubeObject>(resource: ResourceName, namespace?: string, opts?: ListOptions): T[];
  /** Changes of `resource` after `resourceVersion`; throws a 410 ApiError if that history was compacted. */
  changesSince(resource: ResourceName, resourceVersion: number): StoreEvent[];
  /** Forgets all history: a watch or resume from any older resourceVersion then gets 410 Expired. */
  compact(): void;
  /** Every change of every resource, in order. Returns an unsubscribe function. */
  subscribe(listener: StoreListener): () => void;
  /** Changes of one kind (`'Pod'`, `'pods'`, `'po'` all work). Returns an unsubscribe function. */
  on<T extends KubeObject = KubeObject>(kind: string, listener: StoreListener<T>): () => void;

  createPod(pod: Pod): Pod;
  getPod(namespace: string, name: string): Pod | undefined;
  /** Replaces the pod (status included); conflicts if `metadata.resourceVersion` is set and stale. */
  updatePod(pod: Pod): Pod;
  /** Read-modify-write of the pod's status: `fn` mutates the given status (or returns a new one). */
  patchPodStatus(namespace: string, name: string, fn: (status: PodStatus, pod: Pod) => PodStatus | void): Pod;
  /** What kubelet reports when readiness changes: Ready/ContainersReady conditions and containerStatuses[].ready. */
  setPodReady(namespace: string, name: string, ready: boolean): Pod;
  /** `kubectl delete pod` / the Eviction path: graceful-deletion rules (see docs/simulation.md). */
  deletePod(namespace: string, name: string, opts?: {gracePeriodSeconds?: number}): Pod;
  /** Final removal, what kubelet does once every container exited (a grace-0 delete). No-op if already gone. */
  removePod(namespace: string, name: string): Pod | undefined;

  createService(svc: Service): Service;
  getService(namespace: string, name: string): Service | undefined;
  updateService(svc: Service): Service;
  deleteService(namespace: string, name: string): Service | undefined;

  /** Creates or replaces an EndpointSlice (for tests that manage slices themselves; see the controller's opt-out). */
  putEndpointSlice(slice: EndpointSlice): EndpointSlice;
  deleteEndpointSlice(namespace: string, name: string): EndpointSlice | undefined;
  endpointSlices(namespace: string, serviceName?: string): EndpointSlice[];
  getEndpoints(namespace: string, name: string): Endpoints | undefined;

  /** core/v1 Events in a namespace (or all), oldest first. */
  events(namespace?: string): CoreEvent[];
  ensureNamespace(name: string): Namespace;
}

export interface StoreOptions {
  /** Node pods are bound to when they name none (no scheduler runs). Default `sim-node`. */
  nodeName?: string;
  /** Changes kept for watch resumption before older ones are compacted away. Default 10000. */
  maxHistory?: number;
  /** Clock, for timestamps. */
  now?: () => number;
  /** Where an exception thrown by a listener goes (it never fails the write). Default: console.error. */
  onListenerError?: (err: unknown, event: StoreEvent) => void;
}

/** Field labels whose value is not at the same path in the object. */
const FIELD_ALIASES: Record<string, string> = {source: 'source.component'};

const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** apiserver's names.SimpleNameGenerator: generateName + 5 random characters from an alphabet without vowels. */
function generateSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return s;
}

function deepFreeze<T>(obj: T): T {
  if (obj !== null && typeof obj === 'object' && !Object.isFrozen(obj)) {
    Object.freeze(obj);
    for (const v of Object.values(obj as Record<string, unknown>)) deepFreeze(v);
  }
  return obj;
}

/** Objects are plain JSON; a JSON round trip copies them faster than structuredClone and drops `undefined` as the wire does. */
const clone = <T>(obj: T): T => (obj === undefined ? obj : (JSON.parse(JSON.stringify(obj)) as T));


/** The part of an object whose change bumps metadata.generation (everything but metadata and status). */
function specPart(obj: KubeObject): unknown {
  const {metadata: _m, status: _s, kind: _k, apiVersion: _a, ...rest} = obj;
  return rest;
}

const key = (namespace: string, name: string): string => `${namespace}/${name}`;

export function createStore(options: StoreOptions = {}): Store {
  const now = options.now ?? Date.now;
  const nodeName = options.nodeName ?? 'sim-node';
  const maxHistory = options.maxHistory ?? 10_000;
  const onListenerError = options.onListenerError ?? ((err: unknown) => console.error('store listener failed:', err));

  const objects = new Map<ResourceName, Map<string, KubeObject>>();
  const history: StoreEvent[] = [];
  let rv = 1000;
  /** History holds every change after this version. */
  let compactedThrough = rv;
  const listeners = new Set<StoreListener>();
  const pending: StoreEvent[] = [];
  let dispatching = false;
  let nextClusterIP = 10;

  const bucket = (resource: ResourceName): Map<string, KubeObject> => {
    let m = objects.get(resource);
    if (!m) objects.set(resource, (m = new Map()));
    return m;
  };

  function allocateClusterIP(): string {
    const n = nextClusterIP++;
    return `10.96.${Math.floor(n / 256) % 256}.${n % 256}`;
  }

  function emit(type: WatchEventType, resource: ResourceName, object: KubeObject, oldObject?: KubeObject): void {
    // Stored objects are never mutated once stored (every write stores a new copy), so the stored objects themselves,
    // frozen, serve as the event's snapshots.
    const event: StoreEvent = {
      type,
      resource,
      object: deepFreeze(object),
      oldObject: oldObject ? deepFreeze(oldObject) : undefined,
      resourceVersion: rv,
    };
    history.push(event);
    if (history.length > maxHistory) {
      const dropped = history.splice(0, history.length - maxHistory);
      compactedThrough = dropped[dropped.length - 1].resourceVersion;
    }
    pending.push(event);
    if (dispatching) return; // the outer dispatch loop delivers it, after the events before it
    dispatching = true;
    try {
      while (pending.length > 0) {
        const e = pending.shift()!;
        for (const l of [...listeners]) {
          try {
            l(e);
          } catch (err) {
            onListenerError(err, e);
          }
        }
      }
    } finally {
      dispatching = false;
    }
  }

  function namespaceOf(info: ResourceInfo, obj: KubeObject): string {
    return info.namespaced ? (obj.metadata.namespace ?? 'default') : '';
  }

  function ensureNamespaceExists(ns: string, require: boolean | undefined): void {
    if (ns === '' || bucket('namespaces').has(key('', ns))) return;
    if (require) throw namespaceNotFound(ns);
    create('namespaces', {apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns}});
  }

  function create<T extends KubeObject>(resource: ResourceName, input: T, opts: WriteOptions = {}): T {
    const info = resourceInfo(resource);
    const obj = clone(input);
    obj.metadata = {...(obj.metadata ?? {})};
    obj.apiVersion = apiVersionOf(info);
    obj.kind = info.kind;
    const ns = namespaceOf(info, obj);
    if (info.namespaced) obj.metadata.namespace = ns;
    else delete obj.metadata.namespace;
    validate(info, obj);
    ensureNamespaceExists(ns, opts.requireNamespace);
    const items = bucket(resource);
    if (!obj.metadata.name) {
      // Like the real registry, a generated name that collides is an AlreadyExists error, not a retry.
      obj.metadata.name = `${obj.metadata.generateName}${generateSuffix()}`;
    }
    const name = obj.metadata.name;
    if (items.has(key(ns, name))) throw alreadyExists(info, name);
    for (const f of ['uid', 'resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const) {
      delete obj.metadata[f];
    }
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = kubeTime(now());
    obj.metadata.generation = 1;
    applyDefaults(resource, obj, {nodeName, allocateClusterIP});
    if (opts.dryRun) return clone(obj);
    rv++;
    obj.metadata.resourceVersion = String(rv);
    items.set(key(ns, name), obj);
    emit('ADDED', resource, obj);
    return clone(obj);
  }

  function get<T extends KubeObject>(resource: ResourceName, namespace: string, name: string): T | undefined {
    const info = resourceInfo(resource);
    const obj = bucket(resource).get(key(info.namespaced ? namespace : '', name));
    return obj ? (clone(obj) as T) : undefined;
  }

  function mustGet(info: ResourceInfo, namespace: string, name: string): KubeObject {
    const obj = bucket(info.resource as ResourceName).get(key(info.namespaced ? namespace : '', name));
    if (!obj) throw notFound(info, name);
    return obj;
  }

  /** Stores `next` in place of `existing` (same key), bumping the version; no-op writes keep the old version. */
  function commit(info: ResourceInfo, existing: KubeObject, next: KubeObject, dryRun?: boolean): KubeObject {
    // etcd's GuaranteedUpdate skips writes that change nothing: no new resourceVersion, no watch event.
    next.metadata.resourceVersion = existing.metadata.resourceVersion;
    if (sameJson(existing, next)) return clone(existing);
    if (!sameJson(specPart(existing), specPart(next))) {
      next.metadata.generation = (existing.metadata.generation ?? 1) + 1;
    }
    if (dryRun) return clone(next);
    rv++;
    next.metadata.resourceVersion = String(rv);
    const ns = info.namespaced ? (existing.metadata.namespace ?? '') : '';
    bucket(info.resource as ResourceName).set(key(ns, existing.metadata.name ?? ''), next);
    emit('MODIFIED', info.resource as ResourceName, next, existing);
    return clone(next);
  }

  function update<T extends KubeObject>(resource: ResourceName, input: T, opts: UpdateOptions = {}): T {
    const info = resourceInfo(resource);
    const ns = namespaceOf(info, input);
    const name = input.metadata?.name ?? '';
    const existing = mustGet(info, ns, name);
    const wantRv = input.metadata?.resourceVersion;
    if (wantRv && wantRv !== existing.metadata.resourceVersion) throw conflict(info, name);
    if (input.metadata?.uid && input.metadata.uid !== existing.metadata.uid) {
      throw conflict(info, name, `Precondition failed: UID in precondition: ${input.metadata.uid}, UID in object meta: ${existing.metadata.uid}`);
    }
    const scope = opts.scope ?? 'all';
    let next: KubeObject;
    if (scope === 'status') {
      next = clone(existing);
      if (input.status === undefined) delete next.status;
      else next.status = clone(input.status);
    } else {
      next = clone(input);
      next.metadata = {...clone(input.metadata)};
      if (scope === 'spec') {
        if (existing.status === undefined) delete next.status;
        else next.status = clone(existing.status);
      }
    }
    // System-owned metadata cannot be changed by an update.
    const m = existing.metadata;
    next.apiVersion = apiVersionOf(info);
    next.kind = info.kind;
    next.metadata.name = m.name;
    if (info.namespaced) next.metadata.namespace = m.namespace;
    next.metadata.uid = m.uid;
    next.metadata.creationTimestamp = m.creationTimestamp;
    next.metadata.generation = m.generation;
    delete next.metadata.deletionTimestamp;
    delete next.metadata.deletionGracePeriodSeconds;
    if (m.deletionTimestamp !== undefined) next.metadata.deletionTimestamp = m.deletionTimestamp;
    if (m.deletionGracePeriodSeconds !== undefined) next.metadata.deletionGracePeriodSeconds = m.deletionGracePeriodSeconds;
    if (resource === 'pods') {
      const status = (next as Pod).status;
      if (status?.podIP && !status.podIPs) status.podIPs = [{ip: status.podIP}];
    }
    validate(info, next);
    return commit(info, existing, next, opts.dryRun) as T;
  }

  function remove(info: ResourceInfo, existing: KubeObject, dryRun?: boolean): KubeObject {
    if (dryRun) return clone(existing);
    rv++;
    const gone = clone(existing);
    gone.metadata.resourceVersion = String(rv);
    const ns = info.namespaced ? (existing.metadata.namespace ?? '') : '';
    bucket(info.resource as ResourceName).delete(key(ns, existing.metadata.name ?? ''));
    emit('DELETED', info.resource as ResourceName, gone, existing);
    return clone(gone);
  }

  /**
   * Graceful pod deletion, as registry/rest.BeforeDelete and the pod strategy do it: the grace period comes from the
   * request or spec.terminationGracePeriodSeconds; 0, or a pod already in a terminal phase, removes it at once;
   * otherwise deletionTimestamp = now + grace. A later delete may only shorten the period (the timestamp moves by the
   * difference); one that does not shorten it leaves the pod untouched.
   */
  function deletePodGracefully(info: ResourceInfo, existing: Pod, opts: DeleteOptions): Pod {
    let grace = opts.gracePeriodSeconds ?? existing.spec.terminationGracePeriodSeconds ?? 30;
    if (grace < 0) grace = 1; // "Negative values will be treated as the value `1s` on the delete path."
    if (isTerminalPhase(existing)) grace = 0;
    const m = existing.metadata;
    if (m.deletionTimestamp !== undefined) {
      const current = m.deletionGracePeriodSeconds;
      if (current === undefined || current === 0) return remove(info, existing, opts.dryRun) as Pod;
      const explicit = opts.gracePeriodSeconds !== undefined || grace === 0;
      if (!explicit || grace >= current) return clone(existing); // graceful deletion pending: nothing changes
      if (grace === 0) return remove(info, existing, opts.dryRun) as Pod;
      const next = clone(existing);
      const at = Date.parse(m.deletionTimestamp) - current * 1000 + grace * 1000;
      next.metadata.deletionTimestamp = kubeTime(at);
      next.metadata.deletionGracePeriodSeconds = grace;
      return commit(info, existing, next, opts.dryRun) as Pod;
    }
    if (grace === 0) return remove(info, existing, opts.dryRun) as Pod;
    const next = clone(existing);
    next.metadata.deletionTimestamp = kubeTime(now() + grace * 1000);
    next.metadata.deletionGracePeriodSeconds = grace;
    // BeforeDelete bumps the generation when it starts a graceful deletion.
    next.metadata.generation = (m.generation ?? 1) + 1;
    return commit(info, existing, next, opts.dryRun) as Pod;
  }

  function del<T extends KubeObject>(resource: ResourceName, namespace: string, name: string, opts: DeleteOptions = {}): T {
    const info = resourceInfo(resource);
    const existing = mustGet(info, namespace, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== existing.metadata.uid) {
      throw conflict(info, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion) {
      throw conflict(info, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion}`);
    }
    if (resource === 'pods') return deletePodGracefully(info, existing as Pod, opts) as unknown as T;
    return remove(info, existing, opts.dryRun) as T;
  }

  function list<T extends KubeObject>(resource: ResourceName, namespace?: string, opts: ListOptions = {}): T[] {
    const info = resourceInfo(resource);
    const labels = typeof opts.labelSelector === 'string' || opts.labelSelector === undefined
      ? parseLabelSelector(opts.labelSelector)
      : opts.labelSelector;
    const fields = typeof opts.fieldSelector === 'string' || opts.fieldSelector === undefined
      ? parseFieldSelector(opts.fieldSelector, info.fieldLabels)
      : opts.fieldSelector;
    const out: T[] = [];
    const source = opts.atResourceVersion === undefined ? bucket(resource) : stateAt(resource, opts.atResourceVersion);
    const keys = [...source.keys()].sort();
    for (const k of keys) {
      const obj = source.get(k)!;
      if (info.namespaced && namespace !== undefined && namespace !== '' && obj.metadata.namespace !== namespace) continue;
      if (!labels.matches(obj.metadata.labels)) continue;
      if (!fields.matches(withFieldAliases(obj))) continue;
      out.push(clone(obj) as T);
    }
    return out;
  }

  /** The objects of `resource` as they were at `at`: today's, with every later change undone, newest first. */
  function stateAt(resource: ResourceName, at: number): Map<string, KubeObject> {
    if (at >= rv) return bucket(resource);
    if (at < compactedThrough) throw expired(at, compactedThrough + 1);
    const state = new Map(bucket(resource));
    for (let i = history.length - 1; i >= 0 && history[i].resourceVersion > at; i--) {
      const e = history[i];
      if (e.resource !== resource) continue;
      const k = key(e.object.metadata.namespace ?? '', e.object.metadata.name ?? '');
      if (e.type === 'ADDED') state.delete(k);
      else if (e.oldObject) state.set(k, e.oldObject);
    }
    return state;
  }

  function changesSince(resource: ResourceName, since: number): StoreEvent[] {
    if (since < compactedThrough) throw expired(since, compactedThrough + 1);
    return history.filter((e) => e.resource === resource && e.resourceVersion > since);
  }

  function on<T extends KubeObject>(kind: string, listener: StoreListener<T>): () => void {
    const resource = resourceInfo(kind).resource;
    const l: StoreListener = (e) => {
      if (e.resource === resource) listener(e as StoreEvent<T>);
    };
    listeners.add(l);
    return () => listeners.delete(l);
  }

  function patchPodStatus(namespace: string, name: string, fn: (status: PodStatus, pod: Pod) => PodStatus | void): Pod {
    const info = resourceInfo('pods');
    const existing = mustGet(info, namespace, name) as Pod;
    const next = clone(existing);
    const status = (next.status ??= {});
    const returned = fn(status, next);
    if (returned) next.status = returned;
    if (next.status?.podIP && !next.status.podIPs) next.status.podIPs = [{ip: next.status.podIP}];
    return commit(info, existing, next) as Pod;
  }

  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    create('namespaces', {apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns}});
  }
  compactedThrough = rv;
  history.length = 0;

  const store: Store = {
    resourceVersion: () => rv,
    oldestWatchableVersion: () => compactedThrough,
    create,
    get,
    update,
    delete: del,
    list,
    changesSince,
    compact() {
      compactedThrough = rv;
      history.length = 0;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    on,

    createPod: (pod) => create('pods', pod),
    getPod: (ns, name) => get<Pod>('pods', ns, name),
    updatePod: (pod) => update('pods', pod),
    patchPodStatus,
    setPodReady: (ns, name, ready) => patchPodStatus(ns, name, (_status, pod) => markReady(pod, ready, now())),
    deletePod: (ns, name, opts = {}) => del<Pod>('pods', ns, name, opts),
    removePod(ns, name) {
      const existing = bucket('pods').get(key(ns, name));
      return existing ? (remove(resourceInfo('pods'), existing) as Pod) : undefined;
    },

    createService: (svc) => create('services', svc),
    getService: (ns, name) => get<Service>('services', ns, name),
    updateService: (svc) => update('services', svc),
    deleteService(ns, name) {
      return get('services', ns, name) ? del<Service>('services', ns, name) : undefined;
    },

    putEndpointSlice(slice) {
      const ns = slice.metadata?.namespace ?? 'default';
      const existing = slice.metadata?.name ? get('endpointslices', ns, slice.metadata.name) : undefined;
      if (!existing) return create('endpointslices', slice);
      const next = clone(slice);
      delete next.metadata.resourceVersion; // "put" means: replace whatever is there
      return update('endpointslices', next);
    },
    deleteEndpointSlice(ns, name) {
      return get('endpointslices', ns, name) ? del<EndpointSlice>('endpointslices', ns, name) : undefined;
    },
    endpointSlices: (ns, serviceName) =>
      list<EndpointSlice>('endpointslices', ns, serviceName === undefined ? {} : {labelSelector: `kubernetes.io/service-name=${serviceName}`}),
    getEndpoints: (ns, name) => get<Endpoints>('endpoints', ns, name),

    events(ns) {
      return list<CoreEvent>('events', ns).sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
    },
    ensureNamespace(name) {
      ensureNamespaceExists(name, false);
      return get<Namespace>('namespaces', '', name)!;
    },
  };
  return store;
}

/** An object view in which aliased field labels (e.g. events' `source`) resolve. */
function withFieldAliases(obj: KubeObject): unknown {
  const aliases = Object.entries(FIELD_ALIASES);
  if (!aliases.some(([alias]) => alias in obj)) return obj;
  const view: Record<string, unknown> = {...obj};
  for (const [alias, path] of aliases) view[alias] = fieldValue(obj, path);
  return view;
}
