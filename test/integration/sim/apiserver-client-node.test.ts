// The simulated API server against the real @kubernetes/client-node v2: typed API calls, Status errors, and the
// list/watch protocol an informer depends on, over HTTPS verified against the simulation's CA.
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {ApiException, CoreV1Api, DiscoveryV1Api, KubeConfig, makeInformer, Watch, type V1Pod} from '@kubernetes/client-node';
import {startApiServer, type ApiServer} from '../../../sim/kube/apiserver.js';
import {makePod, makeService} from '../../../sim/kube/fixtures.js';
import {waitFor} from '../../../sim/kube/wait-for.js';

interface Seen {
  type: string;
  name?: string;
  rv?: string;
  code?: number;
  reason?: string;
}

let api: ApiServer;
let dir: string;
let kc: KubeConfig;

beforeAll(async () => {
  api = await startApiServer({bookmarkIntervalMs: 150});
  dir = mkdtempSync(join(tmpdir(), 'apiserver-client-node-'));
  kc = new KubeConfig();
  kc.loadFromFile(api.writeKubeconfig(dir));
});

afterAll(async () => {
  await api.stop();
  rmSync(dir, {recursive: true, force: true});
});

/** Starts a client-node Watch that records every event; `done` resolves with the error it ended with. */
async function recordWatch(path: string, query: Record<string, string | number | boolean | undefined>) {
  const seen: Seen[] = [];
  let resolveDone!: (err: unknown) => void;
  const done = new Promise<unknown>((r) => (resolveDone = r));
  const controller = await new Watch(kc).watch(
    path,
    query,
    (type, obj: {metadata?: {name?: string; resourceVersion?: string}; code?: number; reason?: string}) => {
      seen.push({type, name: obj.metadata?.name, rv: obj.metadata?.resourceVersion, code: obj.code, reason: obj.reason});
    },
    (err) => resolveDone(err ?? null),
  );
  return {seen, done, abort: () => controller.abort()};
}

function apiBody(err: unknown): {reason?: string; code?: number; message?: string; details?: {retryAfterSeconds?: number}} {
  expect(err).toBeInstanceOf(ApiException);
  const body = (err as ApiException<unknown>).body;
  return typeof body === 'string' ? JSON.parse(body) : (body as object);
}

describe('client-node typed calls', () => {
  it('reads a pod the store holds, with the fields the store set', async () => {
    const created = api.store.createPod(makePod({name: 'reader-1', ip: '127.0.0.21', ready: true, labels: {app: 'reader'}}));
    const core = kc.makeApiClient(CoreV1Api);
    const pod: V1Pod = await core.readNamespacedPod({name: 'reader-1', namespace: 'default'});
    expect(pod.metadata?.uid).toBe(created.metadata.uid);
    expect(pod.metadata?.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(pod.status?.podIP).toBe('127.0.0.21');
    expect(pod.status?.podIPs).toEqual([{ip: '127.0.0.21'}]);
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(pod.metadata?.deletionTimestamp).toBeUndefined();

    api.store.deletePod('default', 'reader-1', {gracePeriodSeconds: 42});
    const terminating = await core.readNamespacedPod({name: 'reader-1', namespace: 'default'});
    expect(terminating.metadata?.deletionGracePeriodSeconds).toBe(42);
    const leftMs = terminating.metadata!.deletionTimestamp!.getTime() - Date.now();
    expect(leftMs).toBeGreaterThan(30_000);
    expect(leftMs).toBeLessThanOrEqual(42_000);
  });

  it('lists EndpointSlices by service-name label with the controller-computed conditions', async () => {
    api.store.createService(makeService({name: 'lister', selector: {app: 'lister'}}));
    api.store.createPod(makePod({name: 'lister-1', ip: '127.0.0.22', ready: true, labels: {app: 'lister'}}));
    api.store.createPod(makePod({name: 'lister-2', ip: '127.0.0.23', ready: false, labels: {app: 'lister'}}));
    await api.whenControllersIdle();
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const list = await discovery.listNamespacedEndpointSlice({namespace: 'default', labelSelector: 'kubernetes.io/service-name=lister'});
    expect(Number(list.metadata?.resourceVersion)).toBe(api.store.resourceVersion());
    expect(list.items).toHaveLength(1);
    const byName = Object.fromEntries((list.items[0].endpoints ?? []).map((e) => [e.targetRef?.name, e]));
    expect(byName['lister-1'].conditions).toEqual({ready: true, serving: true, terminating: false});
    expect(byName['lister-2'].conditions).toEqual({ready: false, serving: false, terminating: false});
    expect(byName['lister-1'].addresses).toEqual(['127.0.0.22']);
    expect(byName['lister-1'].targetRef?.uid).toBe(api.store.getPod('default', 'lister-1')?.metadata.uid);
    expect(list.items[0].ports).toEqual([{name: 'http', port: 8080, protocol: 'TCP'}]);
  });

  it('creates a core/v1 Event that the store then lists', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const now = new Date();
    const created = await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: {generateName: 'reader-1.'},
        involvedObject: {kind: 'Pod', namespace: 'default', name: 'reader-1', apiVersion: 'v1'},
        reason: 'LameduckDrained',
        message: 'drained 3 requests',
        type: 'Normal',
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        source: {component: 'lameduck'},
      },
    });
    expect(created.metadata?.name).toMatch(/^reader-1\.[a-z0-9]{5}$/);
    const stored = api.store.events('default').find((e) => e.metadata.name === created.metadata?.name);
    expect(stored?.reason).toBe('LameduckDrained');
    expect(stored?.involvedObject.name).toBe('reader-1');
  });
});

describe('Status errors', () => {
  it('answers 403 Forbidden with the RBAC wording while a permission is denied, and 200 again after allow()', async () => {
    api.store.createPod(makePod({name: 'guarded', ip: '127.0.0.24'}));
    const core = kc.makeApiClient(CoreV1Api);
    api.faults.deny('get', 'pods');
    try {
      const err = await core.readNamespacedPod({name: 'guarded', namespace: 'default'}).catch((e: unknown) => e);
      expect((err as ApiException<unknown>).code).toBe(403);
      const body = apiBody(err);
      expect(body.reason).toBe('Forbidden');
      expect(body.message).toBe(
        'pods "guarded" is forbidden: User "system:serviceaccount:default:lameduck" cannot get resource "pods" in API group "" in the namespace "default"',
      );
    } finally {
      api.faults.allow('get', 'pods');
    }
    const pod = await core.readNamespacedPod({name: 'guarded', namespace: 'default'});
    expect(pod.metadata?.name).toBe('guarded');
  });

  it('answers 401 to a wrong token and to a rotated-out one; the service-account file follows the rotation', async () => {
    const bad = new KubeConfig();
    bad.loadFromFile(api.writeKubeconfig(dir, {token: 'not-the-token'}));
    const err = await bad.makeApiClient(CoreV1Api).readNamespacedPod({name: 'guarded', namespace: 'default'}).catch((e: unknown) => e);
    expect((err as ApiException<unknown>).code).toBe(401);

    const sa = api.writeServiceAccount(join(dir, 'sa'));
    const oldToken = api.token;
    expect(readFileSync(sa.tokenPath, 'utf8')).toBe(oldToken);
    api.faults.rotateToken('rotated-token');
    try {
      const stale = await kc.makeApiClient(CoreV1Api).readNamespacedPod({name: 'guarded', namespace: 'default'}).catch((e: unknown) => e);
      expect((stale as ApiException<unknown>).code).toBe(401);
      expect(readFileSync(sa.tokenPath, 'utf8')).toBe('rotated-token');
      const fresh = new KubeConfig();
      fresh.loadFromFile(api.writeKubeconfig(dir));
      const pod = await fresh.makeApiClient(CoreV1Api).readNamespacedPod({name: 'guarded', namespace: 'default'});
      expect(pod.metadata?.name).toBe('guarded');
    } finally {
      api.faults.rotateToken(oldToken);
    }
  });

  it('answers 429 with Retry-After while throttling, then serves again', async () => {
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    api.faults.throttle({count: 1, retryAfterSeconds: 3, resource: 'endpointslices'});
    const err = await discovery.listNamespacedEndpointSlice({namespace: 'default'}).catch((e: unknown) => e);
    expect((err as ApiException<unknown>).code).toBe(429);
    expect((err as ApiException<unknown>).headers['retry-after']).toBe('3');
    const body = apiBody(err);
    expect(body.reason).toBe('TooManyRequests');
    expect(body.details?.retryAfterSeconds).toBe(3);
    const list = await discovery.listNamespacedEndpointSlice({namespace: 'default'});
    expect(list.items.length).toBeGreaterThan(0);
  });

  it('answers 404 NotFound and 409 AlreadyExists with the real reasons', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const missing = await core.readNamespacedPod({name: 'no-such-pod', namespace: 'default'}).catch((e: unknown) => e);
    expect((missing as ApiException<unknown>).code).toBe(404);
    expect(apiBody(missing)).toMatchObject({reason: 'NotFound', message: 'pods "no-such-pod" not found'});
    const dup = await core.createNamespacedPod({namespace: 'default', body: makePod({name: 'guarded'}) as never}).catch((e: unknown) => e);
    expect((dup as ApiException<unknown>).code).toBe(409);
    expect(apiBody(dup)).toMatchObject({reason: 'AlreadyExists', message: 'pods "guarded" already exists'});
  });
});

describe('watch', () => {
  it('delivers synthetic ADDED, then MODIFIED and DELETED, and BOOKMARKs', async () => {
    const w = await recordWatch('/api/v1/namespaces/watched/pods', {allowWatchBookmarks: true});
    try {
      api.store.createPod(makePod({name: 'w-1', namespace: 'watched', ip: '127.0.0.31'}));
      await waitFor(() => w.seen.some((e) => e.type === 'ADDED' && e.name === 'w-1'));
      api.store.setPodReady('watched', 'w-1', true);
      await waitFor(() => w.seen.some((e) => e.type === 'MODIFIED' && e.name === 'w-1'));
      api.store.deletePod('watched', 'w-1', {gracePeriodSeconds: 0});
      await waitFor(() => w.seen.some((e) => e.type === 'DELETED' && e.name === 'w-1'));
      const bookmark = await waitFor(() => w.seen.find((e) => e.type === 'BOOKMARK'));
      expect(Number(bookmark.rv)).toBeGreaterThan(0);
      // Events arrive in resourceVersion order.
      const rvs = w.seen.filter((e) => e.type !== 'BOOKMARK').map((e) => Number(e.rv));
      expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
    } finally {
      w.abort();
    }
  });

  it('resumes after a resourceVersion without replaying older objects', async () => {
    api.store.createPod(makePod({name: 'before', namespace: 'resume', ip: '127.0.0.32'}));
    const core = kc.makeApiClient(CoreV1Api);
    const list = await core.listNamespacedPod({namespace: 'resume'});
    api.store.createPod(makePod({name: 'after', namespace: 'resume', ip: '127.0.0.33'}));
    const w = await recordWatch('/api/v1/namespaces/resume/pods', {resourceVersion: list.metadata?.resourceVersion});
    try {
      await waitFor(() => w.seen.some((e) => e.name === 'after'));
      expect(w.seen.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED after']);
    } finally {
      w.abort();
    }
  });

  it('sends 410 Expired to open watches on compaction and to watches resuming from before it', async () => {
    const w = await recordWatch('/api/v1/namespaces/compact/pods', {});
    api.store.createPod(makePod({name: 'c-1', namespace: 'compact', ip: '127.0.0.34'}));
    await waitFor(() => w.seen.some((e) => e.name === 'c-1'));
    const oldRv = api.store.resourceVersion();
    api.store.createPod(makePod({name: 'c-2', namespace: 'compact', ip: '127.0.0.35'}));
    api.faults.compact();
    expect(await w.done).toBeNull(); // the server ended the stream cleanly after the ERROR event
    expect(w.seen.at(-1)).toMatchObject({type: 'ERROR', code: 410, reason: 'Expired'});

    const late = await recordWatch('/api/v1/namespaces/compact/pods', {resourceVersion: oldRv});
    expect(await late.done).toBeNull();
    expect(late.seen).toEqual([expect.objectContaining({type: 'ERROR', code: 410, reason: 'Expired'})]);
  });

  it('keeps a client-node informer correct across compaction, dropped connections and a server restart', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer(kc, '/api/v1/namespaces/inf/pods', () => core.listNamespacedPod({namespace: 'inf'}));
    let stopped = false;
    informer.on('error', () => {
      // What a controller does with a watch error: start again (re-list and re-watch).
      const t = setTimeout(() => {
        if (!stopped) void informer.start().catch(() => undefined);
      }, 50);
      t.unref();
    });
    const names = (): string[] => informer.list('inf').map((p) => p.metadata?.name ?? '').sort();
    api.store.createPod(makePod({name: 'i-1', namespace: 'inf', ip: '127.0.0.41'}));
    await informer.start();
    try {
      expect(names()).toEqual(['i-1']);
      api.store.createPod(makePod({name: 'i-2', namespace: 'inf', ip: '127.0.0.42'}));
      await waitFor(() => names().includes('i-2'));

      api.faults.compact();
      api.store.createPod(makePod({name: 'i-3', namespace: 'inf', ip: '127.0.0.43'}));
      await waitFor(() => names().includes('i-3'), {what: 'informer to re-list after 410'});

      api.faults.dropWatches();
      api.store.removePod('inf', 'i-1');
      await waitFor(() => !names().includes('i-1'), {what: 'informer to recover from a dropped watch'});

      const url = api.url;
      await api.stop();
      expect(api.openWatches()).toBe(0);
      api.store.createPod(makePod({name: 'i-4', namespace: 'inf', ip: '127.0.0.44'}));
      await api.start();
      expect(api.url).toBe(url);
      await waitFor(() => names().includes('i-4'), {what: 'informer to catch up after a restart', timeoutMs: 20_000});
      expect(names()).toEqual(['i-2', 'i-3', 'i-4']);
    } finally {
      stopped = true;
      await informer.stop();
    }
  });

  it('holds events while watches are stalled and delivers them when the stall ends', async () => {
    const w = await recordWatch('/api/v1/namespaces/stall/pods', {});
    try {
      api.faults.stallWatches(true);
      api.store.createPod(makePod({name: 's-1', namespace: 'stall', ip: '127.0.0.51'}));
      await new Promise((r) => setTimeout(r, 300));
      expect(w.seen).toEqual([]);
      api.faults.stallWatches(false);
      await waitFor(() => w.seen.some((e) => e.name === 's-1'));
    } finally {
      api.faults.stallWatches(false);
      w.abort();
    }
  });
});
