// The kube-proxy-like balancer keeps an established connection on its pod whatever the view says later (conntrack),
// sends new connections by the current view, falls back to serving+terminating endpoints only when none is ready
// (KEP-1669), and resets connections it cannot route or whose pod is gone.
import {describe, it, expect, afterAll, beforeAll} from '@jest/globals';
import {createServer, request, Agent, type Server} from 'node:http';
import type {Socket} from 'node:net';
import {createStore, type Store} from '../../../sim/kube/store.js';
import type {EndpointSlice} from '../../../sim/kube/types.js';
import {createLoopbackIpPool} from '../../../sim/cluster/loopback-ips.js';
import {createEndpointView, type EndpointView} from '../../../sim/cluster/endpoint-view.js';
import {startL4Balancer, type L4Balancer} from '../../../sim/cluster/l4-balancer.js';
import {waitFor} from '../../../sim/cluster/wait.js';

const PORT = 13000;

function backend(ip: string, name: string): Promise<{server: Server; sockets: Set<Socket>}> {
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.writeHead(200, {'x-pod-name': name}).end(name));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => server.listen(PORT, ip, () => resolve({server, sockets})));
}

function slice(eps: {ip: string; pod: string; ready: boolean; serving: boolean; terminating: boolean}[]): EndpointSlice {
  return {
    metadata: {name: 'web-abc', namespace: 'default', labels: {'kubernetes.io/service-name': 'web'}},
    addressType: 'IPv4',
    ports: [{name: 'http', port: PORT, protocol: 'TCP'}],
    endpoints: eps.map((e) => ({addresses: [e.ip], conditions: {ready: e.ready, serving: e.serving, terminating: e.terminating}, targetRef: {kind: 'Pod', name: e.pod, namespace: 'default'}})),
  };
}

function get(lb: L4Balancer, agent: Agent | false): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({host: lb.host, port: lb.port, path: '/', agent}, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.headers['x-pod-name'])));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('L4 balancer: pinning, fallback, failures', () => {
  const ips = createLoopbackIpPool();
  const vip = ips.allocate();
  const ipA = ips.allocate();
  const ipB = ips.allocate();
  let store: Store;
  let view: EndpointView;
  let lb: L4Balancer;
  let a: {server: Server; sockets: Set<Socket>};
  let b: {server: Server; sockets: Set<Socket>};
  const agent = new Agent({keepAlive: true, maxSockets: 1});

  beforeAll(async () => {
    store = createStore();
    a = await backend(ipA, 'a');
    b = await backend(ipB, 'b');
    store.putEndpointSlice(slice([{ip: ipA, pod: 'a', ready: true, serving: true, terminating: false}]));
    view = createEndpointView({store, namespace: 'default', service: 'web', lag: 0});
    lb = await startL4Balancer({view, host: vip});
  });
  afterAll(async () => {
    agent.destroy();
    await lb.close();
    view.close();
    for (const x of [a, b]) {
      for (const s of x.sockets) s.destroy();
      await new Promise((r) => x.server.close(r));
    }
  });

  it('keeps a keep-alive connection on its pod after the endpoint changed; new connections follow the view', async () => {
    expect(await get(lb, agent)).toBe('a');
    store.putEndpointSlice(slice([
      {ip: ipA, pod: 'a', ready: false, serving: true, terminating: true},
      {ip: ipB, pod: 'b', ready: true, serving: true, terminating: false},
    ]));
    await waitFor('view update', () => view.endpoints().some((e) => e.pod === 'b' && e.ready), 5000);
    // Same pooled socket (maxSockets 1): still pod a, as conntrack keeps the DNAT.
    expect(await get(lb, agent)).toBe('a');
    expect(await get(lb, agent)).toBe('a');
    // Fresh connections: only the ready endpoint.
    for (let i = 0; i < 10; i++) expect(await get(lb, false)).toBe('b');
    expect(lb.open().some((o) => o.pod === 'a')).toBe(true);
  });

  it('falls back to a serving+terminating endpoint only when none is ready, and resets when there is nothing', async () => {
    store.putEndpointSlice(slice([
      {ip: ipA, pod: 'a', ready: false, serving: true, terminating: true},
      {ip: ipB, pod: 'b', ready: false, serving: false, terminating: false},
    ]));
    await waitFor('view update', () => view.endpoints().every((e) => !e.ready), 5000);
    const before = lb.stats.fallback;
    for (let i = 0; i < 5; i++) expect(await get(lb, false)).toBe('a');
    expect(lb.stats.fallback - before).toBe(5);

    store.putEndpointSlice(slice([{ip: ipA, pod: 'a', ready: false, serving: false, terminating: true}]));
    await waitFor('view update', () => view.endpoints().length === 1 && !view.endpoints()[0]!.serving, 5000);
    const noEndpoint = lb.stats.noEndpoint;
    await expect(get(lb, false)).rejects.toMatchObject({code: 'ECONNRESET'});
    expect(lb.stats.noEndpoint).toBe(noEndpoint + 1);
  });

  it('resets a new connection to a pod that is gone, and an established one when the pod dies', async () => {
    store.putEndpointSlice(slice([{ip: ipB, pod: 'b', ready: true, serving: true, terminating: false}]));
    await waitFor('view update', () => view.endpoints().length === 1 && view.endpoints()[0]!.pod === 'b', 5000);
    const pinned = new Agent({keepAlive: true, maxSockets: 1});
    try {
      expect(await get(lb, pinned)).toBe('b');
      // The pod dies: its listener and its connections go (a process exit closes them all).
      await new Promise<void>((resolve) => {
        b.server.close(() => resolve());
        for (const s of b.sockets) s.resetAndDestroy();
      });
      const refused = lb.stats.refused;
      await expect(get(lb, false)).rejects.toMatchObject({code: 'ECONNRESET'});
      expect(lb.stats.refused).toBe(refused + 1);
      // The pooled connection was reset underneath the client: its next request fails or re-dials into the refusal.
      await expect(get(lb, pinned)).rejects.toBeDefined();
    } finally {
      pinned.destroy();
    }
  });
});
