// One kube-proxy per node: each node's clients go through their own node's proxy, which routes by its own view of
// the slices. While one node has caught up with a change and another has not, their clients see different
// endpoints — the straggler node keeps sending new connections to a pod the others have already dropped.
import {describe, it, expect, afterAll, beforeAll} from '@jest/globals';
import {createServer, type Server} from 'node:http';
import {createLoopbackIpPool} from '../../../sim/cluster/loopback-ips.js';
import {createStaticView, startDataPlaneParts} from '../../../sim/cluster/data-plane.js';
import type {ViewEndpoint} from '../../../sim/cluster/routing.js';

const PORT = 13500;
const ep = (ip: string, pod: string, ready: boolean): ViewEndpoint => ({ip, port: PORT, ready, serving: true, terminating: !ready, pod});

describe('per-node kube-proxies', () => {
  const ips = createLoopbackIpPool();
  const podA = ips.allocate();
  const podB = ips.allocate();
  const servers: Server[] = [];

  beforeAll(async () => {
    for (const [ip, name] of [[podA, 'a'], [podB, 'b']] as const) {
      const s = createServer((_req, res) => res.writeHead(200, {'x-pod-name': name}).end(name));
      await new Promise<void>((r) => s.listen(PORT, ip, () => r()));
      servers.push(s);
    }
  });
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it("routes each node's clients by that node's own view", async () => {
    // Node 0 has applied "a is terminating"; node 1 still has the old state where only a is ready.
    const node0 = createStaticView([ep(podA, 'a', false), ep(podB, 'b', true)]);
    const node1 = createStaticView([ep(podA, 'a', true), ep(podB, 'b', false)]);
    const parts = await startDataPlaneParts({
      views: {lb: [node0, node1], ingress: createStaticView([]), dns: createStaticView([])},
      hosts: {lb: [ips.allocate(), ips.allocate()], ingress: ips.allocate()},
    });
    const options = {rps: 40, keepAliveFraction: 0.5, maxRequests: 30, durationMs: 5000};
    parts.startLoads([{via: 'service', node: 0, options}, {via: 'service', node: 1, options}]);
    await new Promise((r) => setTimeout(r, 1500));
    const result = await parts.stop();
    const podsSeen = (node: number): string[] => [...new Set(result.records.filter((r) => r.node === node && r.outcome === 'ok').map((r) => r.pod!))];
    expect(result.records.filter((r) => r.outcome !== 'ok')).toEqual([]);
    expect(podsSeen(0)).toEqual(['b']);
    expect(podsSeen(1)).toEqual(['a']);
    expect(result.lbByNode.map((s) => Object.keys(s.byPod))).toEqual([['b'], ['a']]);
    expect(result.lb.connections).toBe(result.lbByNode[0]!.connections + result.lbByNode[1]!.connections);
  }, 30_000);
});
