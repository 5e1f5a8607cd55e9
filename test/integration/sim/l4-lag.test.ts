// The balancer's view of a Service follows the EndpointSlices only after a propagation lag (kube-proxy learning of
// the change and reprogramming its rules): new connections keep going to the old endpoint until then.
import {describe, it, expect, afterAll, beforeAll} from '@jest/globals';
import {createServer, request, type Server} from 'node:http';
import {createStore, type Store} from '../../../sim/kube/store.js';
import type {EndpointSlice} from '../../../sim/kube/types.js';
import {createLoopbackIpPool} from '../../../sim/cluster/loopback-ips.js';
import {createEndpointView, type EndpointView} from '../../../sim/cluster/endpoint-view.js';
import {startL4Balancer, type L4Balancer} from '../../../sim/cluster/l4-balancer.js';
import {sleep} from '../../../sim/cluster/wait.js';

const PORT = 13000;

function slice(ip: string, pod: string): EndpointSlice {
  return {
    metadata: {name: 'web-abc', namespace: 'default', labels: {'kubernetes.io/service-name': 'web'}},
    addressType: 'IPv4',
    ports: [{name: 'http', port: PORT, protocol: 'TCP'}],
    endpoints: [{addresses: [ip], conditions: {ready: true, serving: true, terminating: false}, targetRef: {kind: 'Pod', name: pod, namespace: 'default'}}],
  };
}

function get(lb: L4Balancer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({host: lb.host, port: lb.port, path: '/', agent: false}, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.headers['x-pod-name'])));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends a fresh connection every 25 ms until one lands on `pod`; returns the time that took. */
async function timeUntil(lb: L4Balancer, pod: string, limitMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < limitMs) {
    if ((await get(lb)) === pod) return Date.now() - t0;
    await sleep(25);
  }
  throw new Error(`never reached ${pod} within ${limitMs} ms`);
}

describe('L4 balancer: propagation lag', () => {
  const ips = createLoopbackIpPool();
  const vip = ips.allocate();
  const ipA = ips.allocate();
  const ipB = ips.allocate();
  let store: Store;
  let view: EndpointView;
  let lb: L4Balancer;
  const servers: Server[] = [];

  beforeAll(async () => {
    store = createStore();
    for (const [ip, name] of [[ipA, 'a'], [ipB, 'b']] as const) {
      const s = createServer((_req, res) => res.writeHead(200, {'x-pod-name': name, connection: 'close'}).end(name));
      await new Promise<void>((r) => s.listen(PORT, ip, () => r()));
      servers.push(s);
    }
    store.putEndpointSlice(slice(ipA, 'a'));
    view = createEndpointView({store, namespace: 'default', service: 'web', lag: 800});
    lb = await startL4Balancer({view, host: vip});
  });
  afterAll(async () => {
    await lb.close();
    view.close();
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  it('routes new connections to the old endpoint for the fixed lag, then to the new one', async () => {
    expect(await get(lb)).toBe('a');
    store.putEndpointSlice(slice(ipB, 'b'));
    const ms = await timeUntil(lb, 'b', 5000);
    expect(ms).toBeGreaterThanOrEqual(700);
    expect(ms).toBeLessThan(2500);
  });

  it('draws a random lag within the configured range for each change', async () => {
    view.setLag({minMs: 300, maxMs: 1200});
    const seen: number[] = [];
    for (const [ip, pod] of [[ipA, 'a'], [ipB, 'b'], [ipA, 'a']] as const) {
      store.putEndpointSlice(slice(ip, pod));
      seen.push(await timeUntil(lb, pod, 5000));
    }
    for (const ms of seen) {
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(2500);
    }
  });
});
