// Watch streams as the API server's watch cache serves them: one HTTP response per watch, NDJSON `{type, object}` lines
// over chunked encoding, starting after the requested resourceVersion (or with synthetic ADDED events for the current
// state when none is given), optional BOOKMARKs, closed after timeoutSeconds. A resourceVersion older than the kept
// history gets a single ERROR event carrying a 410 Expired Status, then the stream ends — what informers turn into a
// re-list. The hub also lets tests break watches in the ways real networks and servers do.
import type {ServerResponse} from 'node:http';
import {ApiError, badRequest} from './errors.js';
import {apiVersionOf, type ResourceInfo} from './resources.js';
import type {FieldSelector, Selector} from './selectors.js';
import type {Store, StoreEvent} from './store.js';
import type {KubeObject, Status} from './types.js';

export interface WatchRequest {
  info: ResourceInfo;
  /** `undefined` (or '') watches every namespace. */
  namespace?: string;
  labelSelector: Selector;
  fieldSelector: FieldSelector;
  /** Raw `resourceVersion` query value. */
  resourceVersion?: string;
  timeoutSeconds?: number;
  allowWatchBookmarks: boolean;
  /** `sendInitialEvents=true` (KEP-3157 streaming lists): current state first, then a bookmark marking its end. */
  sendInitialEvents: boolean;
  /** How objects are written (plain, or as kubectl's Table rows). */
  encode?: (obj: KubeObject) => unknown;
}

export interface WatchHub {
  /** Serves one watch on `res` until timeout, client disconnect, or a hub-wide close. */
  serve(req: WatchRequest, res: ServerResponse): void;
  /** Open watch streams. */
  count(): number;
  /** Ends every stream cleanly (server shutdown). */
  endAll(): void;
  /** Sends every stream a 410 Expired ERROR event, then ends it (history compaction). */
  expireAll(): void;
  /** Cuts every stream's TCP connection without a goodbye. */
  destroyAll(): void;
  /** While stalled, streams stay open but deliver nothing (events are held and flushed when the stall ends). */
  setStalled(stalled: boolean): void;
}

export interface WatchHubOptions {
  store: Store;
  /** BOOKMARK period for watches that allow them. Default 5000 ms. */
  bookmarkIntervalMs?: number;
  /**
   * Timeout for watches that give no timeoutSeconds. The real server picks a random value in
   * [min-request-timeout, 2×min-request-timeout), 1800 s by default; so does this one.
   */
  defaultTimeoutSeconds?: number;
}

interface ActiveWatch {
  end(): void;
  expire(): void;
  destroy(): void;
  flush(): void;
}

function matches(req: WatchRequest, obj: KubeObject | undefined): boolean {
  if (!obj) return false;
  if (req.info.namespaced && req.namespace && obj.metadata.namespace !== req.namespace) return false;
  return req.labelSelector.matches(obj.metadata.labels) && req.fieldSelector.matches(obj);
}

/**
 * How a change looks through a filtered watch (the watch cache's filtering): an object that starts matching arrives
 * as ADDED, one that stops matching as DELETED, and changes on either side of the filter are invisible.
 */
function filterEvent(req: WatchRequest, e: StoreEvent): {type: string; object: KubeObject} | undefined {
  if (e.type === 'DELETED') return matches(req, e.oldObject ?? e.object) ? {type: 'DELETED', object: e.object} : undefined;
  const now = matches(req, e.object);
  const before = e.type === 'MODIFIED' && matches(req, e.oldObject);
  if (now && before) return {type: 'MODIFIED', object: e.object};
  if (now) return {type: 'ADDED', object: e.object};
  if (before) return {type: 'DELETED', object: e.object};
  return undefined;
}

export function createWatchHub(opts: WatchHubOptions): WatchHub {
  const {store} = opts;
  const bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 5000;
  const active = new Set<ActiveWatch>();
  let stalled = false;

  function serve(req: WatchRequest, res: ServerResponse): void {
    const encode = req.encode ?? ((o: KubeObject) => o);
    const rvParam = req.resourceVersion ?? '';
    const fromCurrent = rvParam === '' || rvParam === '0';
    let since = 0;
    if (!fromCurrent) {
      since = Number(rvParam);
      if (!Number.isSafeInteger(since) || since < 0) throw badRequest(`resourceVersion: Invalid value: "${rvParam}": must be a non-negative integer`);
    }

    let backlog: {type: string; object: unknown}[] = [];
    let expiredStatus: Status | undefined;
    if (fromCurrent || req.sendInitialEvents) {
      const items = store.list(req.info.resource as never, req.namespace || undefined, {
        labelSelector: req.labelSelector,
        fieldSelector: req.fieldSelector,
      });
      backlog = items.map((object) => ({type: 'ADDED', object: encode(object)}));
    }
    if (!fromCurrent) {
      try {
        for (const e of store.changesSince(req.info.resource as never, since)) {
          const visible = filterEvent(req, e);
          if (visible && !req.sendInitialEvents) backlog.push({type: visible.type, object: encode(visible.object)});
        }
      } catch (err) {
        if (!(err instanceof ApiError) || err.httpStatus !== 410) throw err;
        expiredStatus = err.status;
      }
    }

    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();

    const held: string[] = [];
    let closed = false;
    const send = (line: unknown): void => {
      if (closed) return;
      const text = `${JSON.stringify(line)}\n`;
      if (stalled) held.push(text);
      else res.write(text);
    };
    const bookmark = (annotations?: Record<string, string>): unknown => ({
      type: 'BOOKMARK',
      object: {
        kind: req.info.kind,
        apiVersion: apiVersionOf(req.info),
        metadata: {resourceVersion: String(store.resourceVersion()), ...(annotations ? {annotations} : {})},
      },
    });

    const timers: NodeJS.Timeout[] = [];
    let unsubscribe = (): void => {};
    const cleanup = (): void => {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      unsubscribe();
      active.delete(watch);
    };
    const watch: ActiveWatch = {
      end() {
        if (closed) return;
        if (!stalled) for (const h of held.splice(0)) res.write(h);
        cleanup();
        res.end();
      },
      expire() {
        if (closed) return;
        send({type: 'ERROR', object: {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
          message: `too old resource version: ${store.oldestWatchableVersion() - 1} (${store.oldestWatchableVersion()})`,
          reason: 'Expired', code: 410}});
        this.end();
      },
      destroy() {
        cleanup();
        res.socket?.destroy();
        res.destroy();
      },
      flush() {
        if (!closed) for (const h of held.splice(0)) res.write(h);
      },
    };
    active.add(watch);
    res.on('close', cleanup);

    if (expiredStatus) {
      send({type: 'ERROR', object: expiredStatus});
      watch.end();
      return;
    }
    for (const line of backlog) send(line);
    if (req.sendInitialEvents && req.allowWatchBookmarks) send(bookmark({'k8s.io/initial-events-end': 'true'}));

    unsubscribe = store.subscribe((e) => {
      if (e.resource !== req.info.resource) return;
      const visible = filterEvent(req, e);
      if (visible) send({type: visible.type, object: encode(visible.object)});
    });

    if (req.allowWatchBookmarks) {
      const interval = setInterval(() => {
        if (!stalled) send(bookmark());
      }, bookmarkIntervalMs);
      interval.unref();
      timers.push(interval);
    }
    const base = opts.defaultTimeoutSeconds ?? 1800;
    const timeoutSeconds = req.timeoutSeconds ?? base * (1 + Math.random());
    const timeout = setTimeout(() => watch.end(), timeoutSeconds * 1000);
    timeout.unref();
    timers.push(timeout);
  }

  return {
    serve,
    count: () => active.size,
    endAll: () => [...active].forEach((w) => w.end()),
    expireAll: () => [...active].forEach((w) => w.expire()),
    destroyAll: () => [...active].forEach((w) => w.destroy()),
    setStalled(on) {
      stalled = on;
      if (!on) [...active].forEach((w) => w.flush());
    },
  };
}
