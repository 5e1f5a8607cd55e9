// Wire details of the simulated API server that typed clients hide: list and watch encoding, selectors, the graceful
// deletion rules, Status errors, PATCH, eviction, plain HTTP and TLS verification.
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {request as httpRequest, type IncomingMessage} from 'node:http';
import {request as httpsRequest} from 'node:https';
import {startApiServer, type ApiServer} from '../../../sim/kube/apiserver.js';
import {makePod, makeService} from '../../../sim/kube/fixtures.js';
import type {Pod} from '../../../sim/kube/types.js';
import {waitFor} from '../../../sim/kube/wait-for.js';

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

let api: ApiServer;

beforeAll(async () => {
  api = await startApiServer({tls: false, bookmarkIntervalMs: 100});
});

afterAll(async () => {
  await api.stop();
});

function call(
  method: string,
  path: string,
  opts: {body?: unknown; headers?: Record<string, string>; token?: string | null; server?: ApiServer} = {},
): Promise<Reply> {
  const server = opts.server ?? api;
  const url = new URL(path, server.url);
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = {Accept: 'application/json', ...opts.headers};
  const token = opts.token === undefined ? server.token : opts.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    headers['Content-Type'] ??= 'application/json';
    // Node sends no framing for a DELETE body unless told its length (as kubectl and client-node do).
    headers['Content-Length'] = String(Buffer.byteLength(body));
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, {method, headers, ca: server.caPem || undefined, agent: false}, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({status: res.statusCode ?? 0, headers: res.headers, text, json});
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens a raw watch and collects its NDJSON lines until the server ends it or `stop` is called. */
function rawWatch(path: string) {
  const lines: {type: string; object: any}[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  let response: IncomingMessage | undefined;
  const url = new URL(path, api.url);
  const req = httpRequest(url, {headers: {Authorization: `Bearer ${api.token}`}, agent: false});
  const ended = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      response = res;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          lines.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
      });
      res.on('end', () => resolve());
      res.on('close', () => resolve());
    });
    req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
  });
  req.end();
  return {lines, ended, response: () => response, stop: () => req.destroy()};
}

describe('lists', () => {
  it('carry kind, apiVersion and resourceVersion, and items without kind/apiVersion, like the real server', async () => {
    api.store.createPod(makePod({name: 'l-1', namespace: 'lists', ip: '127.0.0.60'}));
    const r = await call('GET', '/api/v1/namespaces/lists/pods');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json.kind).toBe('PodList');
    expect(r.json.apiVersion).toBe('v1');
    expect(r.json.metadata.resourceVersion).toBe(String(api.store.resourceVersion()));
    expect(r.json.items).toHaveLength(1);
    expect(r.json.items[0].kind).toBeUndefined();
    expect(r.json.items[0].apiVersion).toBeUndefined();
    const one = await call('GET', '/api/v1/namespaces/lists/pods/l-1');
    expect(one.json).toMatchObject({kind: 'Pod', apiVersion: 'v1', metadata: {name: 'l-1'}});
  });

  it('filter by label selectors (equality, set-based, existence) and by metadata.name', async () => {
    const labels: Record<string, string>[] = [{app: 'a', tier: 'web'}, {app: 'b', tier: 'web'}, {app: 'c'}];
    labels.forEach((l, i) => api.store.createPod(makePod({name: `sel-${i}`, namespace: 'sel', labels: l, ip: `127.0.0.${70 + i}`})));
    const names = async (query: string): Promise<string[]> => {
      const r = await call('GET', `/api/v1/namespaces/sel/pods?${query}`);
      expect(r.status).toBe(200);
      return r.json.items.map((p: Pod) => p.metadata.name);
    };
    expect(await names('labelSelector=app%3Da')).toEqual(['sel-0']);
    expect(await names(`labelSelector=${encodeURIComponent('tier=web,app!=a')}`)).toEqual(['sel-1']);
    expect(await names(`labelSelector=${encodeURIComponent('app in (a,c)')}`)).toEqual(['sel-0', 'sel-2']);
    expect(await names(`labelSelector=${encodeURIComponent('!tier')}`)).toEqual(['sel-2']);
    expect(await names('labelSelector=tier')).toEqual(['sel-0', 'sel-1']);
    expect(await names('fieldSelector=metadata.name%3Dsel-1')).toEqual(['sel-1']);
    const bad = await call('GET', '/api/v1/namespaces/sel/pods?fieldSelector=spec.bogus%3D1');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({kind: 'Status', reason: 'BadRequest', message: 'field label not supported: spec.bogus'});
    const cluster = await call('GET', '/api/v1/pods?labelSelector=app%3Dc');
    expect(cluster.json.items.map((p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(['sel/sel-2']);
  });
});

describe('watch streams', () => {
  it('are chunked NDJSON with Content-Type application/json, filtered by label selector, and end at timeoutSeconds', async () => {
    api.store.createPod(makePod({name: 'stay', namespace: 'ws', labels: {app: 'x'}, ip: '127.0.0.80'}));
    const w = rawWatch('/api/v1/namespaces/ws/pods?watch=1&labelSelector=app%3Dx&timeoutSeconds=2');
    await waitFor(() => w.lines.length >= 1);
    const res = w.response()!;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(w.lines[0]).toMatchObject({type: 'ADDED', object: {kind: 'Pod', apiVersion: 'v1', metadata: {name: 'stay'}}});

    api.store.createPod(makePod({name: 'ignored', namespace: 'ws', labels: {app: 'y'}, ip: '127.0.0.81'}));
    const pod = api.store.getPod('ws', 'stay')!;
    // An object that stops matching the selector leaves the filtered watch as DELETED.
    api.store.updatePod({...pod, metadata: {...pod.metadata, labels: {app: 'y'}}});
    const started = Date.now();
    await w.ended;
    expect(w.lines.map((l) => `${l.type} ${l.object.metadata.name}`)).toEqual(['ADDED stay', 'DELETED stay']);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('send periodic BOOKMARKs carrying only kind, apiVersion and resourceVersion', async () => {
    const w = rawWatch(`/apis/discovery.k8s.io/v1/namespaces/bm/endpointslices?watch=true&allowWatchBookmarks=true&resourceVersion=${api.store.resourceVersion()}`);
    try {
      const bookmark = await waitFor(() => w.lines.find((l) => l.type === 'BOOKMARK'));
      expect(bookmark.object).toEqual({
        kind: 'EndpointSlice',
        apiVersion: 'discovery.k8s.io/v1',
        metadata: {resourceVersion: expect.stringMatching(/^\d+$/)},
      });
    } finally {
      w.stop();
    }
  });

  it('answer a compacted resourceVersion with a single ERROR 410 Expired event', async () => {
    const old = api.store.resourceVersion();
    api.store.createPod(makePod({name: 'x', namespace: 'expired', ip: '127.0.0.82'}));
    api.faults.compact();
    const w = rawWatch(`/api/v1/namespaces/expired/pods?watch=true&resourceVersion=${old}`);
    await w.ended;
    expect(w.lines).toEqual([
      {type: 'ERROR', object: expect.objectContaining({kind: 'Status', status: 'Failure', reason: 'Expired', code: 410})},
    ]);
  });
});

describe('graceful pod deletion over HTTP', () => {
  it('takes gracePeriodSeconds from DeleteOptions or the query; a later delete may only shorten it; 0 removes', async () => {
    api.store.createPod(makePod({name: 'g', namespace: 'grace', ip: '127.0.0.90', ready: true}));
    const first = await call('DELETE', '/api/v1/namespaces/grace/pods/g', {body: {kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 60}});
    expect(first.status).toBe(200);
    expect(first.json.metadata.deletionGracePeriodSeconds).toBe(60);
    const ts60 = Date.parse(first.json.metadata.deletionTimestamp);

    const longer = await call('DELETE', '/api/v1/namespaces/grace/pods/g?gracePeriodSeconds=120');
    expect(longer.json.metadata.deletionGracePeriodSeconds).toBe(60);
    expect(longer.json.metadata.deletionTimestamp).toBe(first.json.metadata.deletionTimestamp);

    const shorter = await call('DELETE', '/api/v1/namespaces/grace/pods/g?gracePeriodSeconds=20');
    expect(shorter.json.metadata.deletionGracePeriodSeconds).toBe(20);
    expect(Date.parse(shorter.json.metadata.deletionTimestamp)).toBe(ts60 - 40_000);

    const now = await call('DELETE', '/api/v1/namespaces/grace/pods/g', {body: {gracePeriodSeconds: 0}});
    expect(now.status).toBe(200);
    expect(api.store.getPod('grace', 'g')).toBeUndefined();
  });

  it('defaults the grace period from the pod spec and removes a pod in a terminal phase at once', async () => {
    api.store.createPod(makePod({name: 'spec', namespace: 'grace', ip: '127.0.0.91', terminationGracePeriodSeconds: 7}));
    const r = await call('DELETE', '/api/v1/namespaces/grace/pods/spec');
    expect(r.json.metadata.deletionGracePeriodSeconds).toBe(7);
    api.store.createPod(makePod({name: 'done', namespace: 'grace', ip: '127.0.0.92', phase: 'Succeeded'}));
    await call('DELETE', '/api/v1/namespaces/grace/pods/done?gracePeriodSeconds=30');
    expect(api.store.getPod('grace', 'done')).toBeUndefined();
  });

  it('evicts through pods/eviction: DisruptionTarget condition, then graceful deletion', async () => {
    api.store.createPod(makePod({name: 'ev', namespace: 'grace', ip: '127.0.0.93', ready: true}));
    const r = await call('POST', '/api/v1/namespaces/grace/pods/ev/eviction', {
      body: {apiVersion: 'policy/v1', kind: 'Eviction', metadata: {name: 'ev', namespace: 'grace'}, deleteOptions: {gracePeriodSeconds: 15}},
    });
    expect(r.status).toBe(201);
    const pod = api.store.getPod('grace', 'ev')!;
    expect(pod.metadata.deletionGracePeriodSeconds).toBe(15);
    expect(pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget')).toMatchObject({status: 'True', reason: 'EvictionByEvictionAPI'});
  });
});

describe('writes and errors', () => {
  it('patches pod status (merge and strategic merge) and the EndpointSlice follows', async () => {
    api.store.createService(makeService({name: 'patched', namespace: 'patch', selector: {app: 'p'}}));
    api.store.createPod(makePod({name: 'p', namespace: 'patch', ip: '127.0.0.94', ready: false, labels: {app: 'p'}}));
    const r = await call('PATCH', '/api/v1/namespaces/patch/pods/p/status', {
      headers: {'Content-Type': 'application/strategic-merge-patch+json'},
      body: {status: {conditions: [{type: 'Ready', status: 'True'}]}},
    });
    expect(r.status).toBe(200);
    const conditions = (r.json as Pod).status?.conditions ?? [];
    expect(conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(conditions.find((c) => c.type === 'ContainersReady')?.status).toBe('False'); // merged by type, not replaced
    await waitFor(() => api.store.endpointSlices('patch', 'patched')[0]?.endpoints?.[0]?.conditions?.ready);

    const labels = await call('PATCH', '/api/v1/namespaces/patch/pods/p', {
      headers: {'Content-Type': 'application/merge-patch+json'},
      body: {metadata: {labels: {extra: 'yes'}}, status: {phase: 'Failed'}},
    });
    expect(labels.json.metadata.labels).toEqual({app: 'p', extra: 'yes'});
    expect(labels.json.status.phase).toBe('Running'); // status changes only through /status
  });

  it('answers 401, 404, 409, 422 and 400 with Status bodies, and serves /version without a token', async () => {
    const noToken = await call('GET', '/api/v1/namespaces/default/pods', {token: null});
    expect(noToken.status).toBe(401);
    expect(noToken.json).toEqual({kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401});
    expect((await call('GET', '/version', {token: null})).json.gitVersion).toMatch(/^v1\.\d+/);

    const missing = await call('GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/nope');
    expect(missing.json).toMatchObject({code: 404, reason: 'NotFound', message: 'endpointslices.discovery.k8s.io "nope" not found',
      details: {name: 'nope', group: 'discovery.k8s.io', kind: 'endpointslices'}});

    const invalid = await call('POST', '/api/v1/namespaces/default/pods', {body: {metadata: {name: 'bad'}, spec: {containers: []}}});
    expect(invalid.status).toBe(422);
    expect(invalid.json).toMatchObject({reason: 'Invalid', message: 'Pod "bad" is invalid: spec.containers: Required value',
      details: {name: 'bad', kind: 'Pod', causes: [{field: 'spec.containers', reason: 'FieldValueRequired'}]}});

    const created = await call('POST', '/api/v1/namespaces/default/pods', {body: makePod({name: 'once'})});
    expect(created.status).toBe(201);
    expect(created.json.status).toEqual({phase: 'Pending', qosClass: 'BestEffort'}); // clients cannot set status on create
    const again = await call('POST', '/api/v1/namespaces/default/pods', {body: makePod({name: 'once'})});
    expect(again.json).toMatchObject({code: 409, reason: 'AlreadyExists'});

    const stale = await call('PUT', '/api/v1/namespaces/default/pods/once', {body: {...created.json, metadata: {...created.json.metadata, resourceVersion: '1'}}});
    expect(stale.json).toMatchObject({code: 409, reason: 'Conflict'});

    const badSelector = await call('GET', '/api/v1/pods?labelSelector=app%20in%20(a');
    expect(badSelector.json).toMatchObject({code: 400, reason: 'BadRequest'});

    const noNamespace = await call('POST', '/api/v1/namespaces/nowhere/events', {
      body: {metadata: {name: 'e'}, involvedObject: {kind: 'Pod', name: 'x', namespace: 'nowhere'}},
    });
    expect(noNamespace.json).toMatchObject({code: 404, message: 'namespaces "nowhere" not found'});
  });

  it('logs every request with its verb, resource and status', async () => {
    const since = Date.now();
    await call('GET', '/api/v1/namespaces/default/pods/once');
    await call('GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?limit=10');
    const log = api.requests.filter({since});
    expect(log.map((r) => [r.method, r.verb, r.resource, r.namespace, r.name, r.status])).toEqual([
      ['GET', 'get', 'pods', 'default', 'once', 200],
      ['GET', 'list', 'endpointslices', 'default', '', 200],
    ]);
    expect(log[1].query).toEqual({limit: '10'});
  });
});

describe('TLS', () => {
  it('serves HTTPS with a certificate the CA verifies for 127.0.0.1 and localhost, and rejects unverified clients', async () => {
    const secure = await startApiServer();
    try {
      expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect((await call('GET', '/version', {server: secure})).status).toBe(200);
      const viaName = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          {host: '127.0.0.1', port: new URL(secure.url).port, path: '/version', servername: 'localhost', ca: secure.caPem, agent: false},
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(viaName).toBe(200);
      const untrusted = await new Promise<string>((resolve) => {
        const req = httpsRequest(`${secure.url}/version`, {agent: false}, () => resolve('connected'));
        req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
        req.end();
      });
      expect(untrusted).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    } finally {
      await secure.stop();
    }
  });
});
