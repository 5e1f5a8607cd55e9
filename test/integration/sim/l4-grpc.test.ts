// gRPC through the kube-proxy-like balancer: HTTP/2 passes byte for byte, and balancing is per TCP connection, so a
// long-lived channel stays on the pod it first reached whatever the endpoints do later — until that connection ends.
// A pod that dies under it breaks its calls (no GOAWAY: not told), and the channel's re-dial follows the view.
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {createLoopbackIpPool} from '../../../sim/cluster/loopback-ips.js';
import {createStaticView} from '../../../sim/cluster/data-plane.js';
import {startL4Balancer, type L4Balancer} from '../../../sim/cluster/l4-balancer.js';
import {waitFor} from '../../../sim/cluster/wait.js';
import {startGrpcLoad} from '../../../sim/grpc-load.js';
import {assertDemoAppBuilt, killDemoApps, startDemoApp, type DemoAppProcess} from '../../support/demo-app-process.js';

const PORT = 13000;
const ep = (ip: string, pod: string): {ip: string; port: number; ready: boolean; serving: boolean; terminating: boolean; pod: string} => ({ip, port: PORT, ready: true, serving: true, terminating: false, pod});

describe('L4 balancer carrying gRPC', () => {
  const ips = createLoopbackIpPool();
  const vip = ips.allocate();
  const ipA = ips.allocate();
  const ipB = ips.allocate();
  let a: DemoAppProcess;
  let lb: L4Balancer;
  const view = createStaticView([ep(ipA, 'pod-a')]);

  beforeAll(async () => {
    assertDemoAppBuilt();
    a = await startDemoApp({PROTOCOL: 'grpc', HOST: ipA, PORT: String(PORT), POD_NAME: 'pod-a'});
    await startDemoApp({PROTOCOL: 'grpc', HOST: ipB, PORT: String(PORT), POD_NAME: 'pod-b'});
    lb = await startL4Balancer({view, host: vip});
  });
  afterAll(async () => {
    await lb?.close();
    await killDemoApps();
  });

  it('keeps a channel on its pod after the endpoints changed; a dead pod breaks its calls; the re-dial follows the view', async () => {
    const load = await startGrpcLoad({host: lb.host, port: lb.port, rps: 40, channels: 1, streams: 1, streamMessages: 1000, streamIntervalMs: 20});
    await waitFor('calls served', () => load.records.filter((r) => r.outcome === 'ok').length >= 10, 20_000);
    view.set([ep(ipB, 'pod-b')]);
    const switchedAt = load.records.length;
    await waitFor('more calls', () => load.records.length >= switchedAt + 20, 20_000);
    // Conntrack: the channel's one connection still goes to pod-a, every call on it too.
    expect(load.records.filter((r) => r.kind === 'grpc-unary').every((r) => r.outcome === 'ok' && r.pod === 'pod-a')).toBe(true);
    expect(lb.stats.connections).toBe(1);

    a.child.kill('SIGKILL');
    await waitFor('calls served by pod-b', () => load.records.some((r) => r.pod === 'pod-b' && r.outcome === 'ok'), 20_000);
    const report = await load.stop();
    const failed = report.records.filter((r) => r.outcome !== 'ok');
    expect(failed.length).toBeGreaterThan(0);
    // The open stream broke with the pod, and nothing had told the client to move.
    expect(failed.some((r) => r.kind === 'grpc-stream' && r.outcome === 'unavailable')).toBe(true);
    expect(failed.every((r) => r.toldToReconnect === false)).toBe(true);
    expect(lb.stats.byPod['pod-b']).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
