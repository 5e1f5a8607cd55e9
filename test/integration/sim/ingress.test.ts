// The ingress-like L7 balancer: a keep-alive pool per pod (requests reuse upstream connections until the pod says
// Connection: close), routing by its own lagged view, and a 502 — not a retry — when the pod it picked is gone.
import {describe, it, expect, afterAll, beforeAll} from '@jest/globals';
import {createServer, request, type Server} from 'node:http';
import type {Socket} from 'node:net';
import {createStore, type Store} from '../../../sim/kube/store.js';
import type {EndpointSlice} from '../../../sim/kube/types.js';
import {createLoopbackIpPool} from '../../../sim/cluster/loopback-ips.js';
import {createEndpointView, type EndpointView} from '../../../sim/cluster/endpoint-view.js';
import {startIngress, type Ingress} from '../../../sim/cluster/ingress.js';
import {waitFor} from '../../../sim/cluster/wait.js';

const PORT = 13000;

function slice(eps: {ip: string; pod: string; ready: boolean}[]): EndpointSlice {
  return {
    metadata: {name: 'web-x', namespace: 'default', labels: {'kubernetes.io/service-name': 'web'}},
    addressType: 'IPv4',
    ports: [{name: 'http', port: PORT}],
    endpoints: eps.map((e) => ({addresses: [e.ip], conditions: {ready: e.ready, serving: e.ready, terminating: !e.ready}, targetRef: {kind: 'Pod', name: e.pod}})),
  };
}

function get(ingress: Ingress, path = '/'): Promise<{status: number; pod?: string; body: string}> {
  return new Promise((resolve, reject) => {
    const req = request({host: ingress.host, port: ingress.port, path, agent: false}, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({status: res.statusCode ?? 0, pod: res.headers['x-pod-name'] as string | undefined, body}));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ingress-like L7 balancer', () => {
  const ips = createLoopbackIpPool();
  const vip = ips.allocate();
  const ipA = ips.allocate();
  const ipB = ips.allocate();
  let store: Store;
  let view: EndpointView;
  let ingress: Ingress;
  const servers: {server: Server; sockets: Set<Socket>; connections: number}[] = [];
  let closeNext = false;

  beforeAll(async () => {
    store = createStore();
    for (const [ip, name] of [[ipA, 'a'], [ipB, 'b']] as const) {
      const entry = {server: createServer(), sockets: new Set<Socket>(), connections: 0};
      entry.server.on('request', (req, res) => {
        const headers: Record<string, string> = {'x-pod-name': name, 'x-seen-xff': String(req.headers['x-forwarded-for'] ?? '')};
        if (closeNext) headers.connection = 'close';
        res.writeHead(200, headers).end(name);
      });
      entry.server.on('connection', (s: Socket) => {
        entry.connections++;
        entry.sockets.add(s);
        s.on('close', () => entry.sockets.delete(s));
      });
      await new Promise<void>((r) => entry.server.listen(PORT, ip, () => r()));
      servers.push(entry);
    }
    store.putEndpointSlice(slice([{ip: ipA, pod: 'a', ready: true}]));
    view = createEndpointView({store, namespace: 'default', service: 'web', lag: 0});
    ingress = await startIngress({view, host: vip});
  });
  afterAll(async () => {
    await ingress.close();
    view.close();
    for (const s of servers) {
      for (const sock of s.sockets) sock.destroy();
      await new Promise((r) => s.server.close(r));
    }
  });

  it('reuses one upstream connection per pod for sequential requests, and re-dials after Connection: close', async () => {
    const before = servers[0]!.connections;
    for (let i = 0; i < 5; i++) expect((await get(ingress)).pod).toBe('a');
    expect(servers[0]!.connections - before).toBe(1);
    closeNext = true;
    await get(ingress);
    closeNext = false;
    await get(ingress);
    expect(servers[0]!.connections - before).toBe(2);
  });

  it('follows its view: a not-ready endpoint gets no new requests once the view has it', async () => {
    store.putEndpointSlice(slice([{ip: ipA, pod: 'a', ready: false}, {ip: ipB, pod: 'b', ready: true}]));
    await waitFor('view', () => view.endpoints().some((e) => e.pod === 'b'), 5000);
    for (let i = 0; i < 5; i++) expect((await get(ingress)).pod).toBe('b');
    expect(ingress.stats.byPod.b).toBeGreaterThanOrEqual(5);
  });

  it('sends nothing to a serving+terminating pod, even when it is the last one (no kube-proxy fallback)', async () => {
    const last = slice([{ip: ipA, pod: 'a', ready: false}]);
    last.endpoints![0]!.conditions = {ready: false, serving: true, terminating: true};
    store.putEndpointSlice(last);
    await waitFor('view', () => view.endpoints().length === 1 && view.endpoints()[0]!.serving, 5000);
    const before = servers[0]!.connections;
    const r = await get(ingress);
    expect(r.status).toBe(503);
    expect(servers[0]!.connections).toBe(before);
    store.putEndpointSlice(slice([{ip: ipA, pod: 'a', ready: false}, {ip: ipB, pod: 'b', ready: true}]));
    await waitFor('view', () => view.endpoints().some((e) => e.pod === 'b' && e.ready), 5000);
  });

  it('answers 502 when the picked pod is gone, and 503 when nothing is routable', async () => {
    const b = servers[1]!;
    await new Promise<void>((resolve) => {
      b.server.close(() => resolve());
      for (const s of b.sockets) s.destroy();
    });
    const r = await get(ingress);
    expect(r.status).toBe(502);
    expect(r.body).toMatch(/bad gateway/);
    expect(ingress.stats.badGateway).toBeGreaterThanOrEqual(1);
    store.putEndpointSlice(slice([{ip: ipA, pod: 'a', ready: false}]));
    await waitFor('view', () => view.endpoints().every((e) => !e.serving), 5000);
    expect((await get(ingress)).status).toBe(503);
  });
});
