/**
 * A SIGTERM drain under gRPC load, with lameduck as a real child process in front of an h2c gRPC app: the gRPC
 * clients keep one connection each, behind a TCP balancer that, like kube-proxy, picks a backend only when a
 * connection opens and moves to another backend a fixed time after the trigger. lameduck's GOAWAY at
 * `deregistering` makes the clients re-dial (and so reach the new backend once the balancer moved); calls in flight
 * finish; no call fails; the summary and the metrics count the GOAWAYs and the drained streams.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {createServer, connect as tcpConnect, type AddressInfo, type Server, type Socket} from 'node:net';
import {connect as h2connect} from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import {killAll, startLameduck} from '../../../sim/processes.js';
import {httpGet} from '../../../sim/http.js';
import {echoClient, startGrpcApp, unary, type EchoClient, type EchoMessage} from '../../support/h2-harness.js';

const FALLBACK_MS = 1500;
const SETTLE_MS = 500;
const QUIET_MS = 500;
const LB_MOVES_AFTER_MS = 1000;

afterAll(killAll);

/** A TCP balancer that picks its backend per new connection (kube-proxy's conntrack keeps established ones). */
async function startBalancer(backendPort: number): Promise<{port: number; setBackend(port: number): void; close(): Promise<void>}> {
  let backend = backendPort;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(backend, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    setBackend: (port) => (backend = port),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface CallRecord {
  kind: 'unary' | 'slow' | 'stream';
  start: number;
  end: number;
  code: number;
  details?: string;
}

/** Call loops on each client until stopped: unary calls, some slow (400 ms), some server streams. */
function startGrpcLoad(clients: EchoClient[]): {stop(): Promise<CallRecord[]>} {
  const records: CallRecord[] = [];
  let running = true;
  const loops = clients.map(async (client, w) => {
    for (let i = 0; running; i++) {
      const start = Date.now();
      const kind: CallRecord['kind'] = i % 7 === 3 ? 'slow' : i % 11 === 5 ? 'stream' : 'unary';
      if (kind === 'stream') {
        const call = client.serverStream({n: 10, delayMs: 40, text: `w${w}`}, new grpc.Metadata(), {deadline: Date.now() + 10_000});
        let n = 0;
        call.on('data', (_m: EchoMessage) => n++);
        call.on('error', () => undefined);
        const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
        records.push({kind, start, end: Date.now(), code: status.code === 0 && n !== 10 ? -1 : status.code, details: status.details});
      } else {
        const r = await unary(client, {text: `w${w}-${i}`, delayMs: kind === 'slow' ? 400 : 0}, {deadlineMs: 10_000});
        records.push({kind, start, end: Date.now(), code: r.status?.code ?? -1, details: r.status?.details});
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return records;
    },
  };
}

describe('gRPC drain through a lameduck process', () => {
  it('SIGTERM under gRPC load: GOAWAY at deregistering, no call fails, exit 0, GOAWAYs and streams in the summary', async () => {
    const oldApp = await startGrpcApp();
    const newApp = await startGrpcApp();
    const ld = await startLameduck({
      LAMEDUCK_UPSTREAM: oldApp.url,
      LAMEDUCK_FALLBACK_DELAY: `${FALLBACK_MS}ms`,
      LAMEDUCK_SETTLE: `${SETTLE_MS}ms`,
      LAMEDUCK_QUIET: `${QUIET_MS}ms`,
      LAMEDUCK_DRAIN_TIMEOUT: '20s',
    });
    const lb = await startBalancer(ld.trafficPort);
    const clients = Array.from({length: 4}, () => echoClient(lb.port));
    // An idle HTTP/2 client straight to lameduck: when does its GOAWAY come?
    const watcher = h2connect(`http://127.0.0.1:${ld.trafficPort}`);
    watcher.on('error', () => undefined);
    const goawayAt = new Promise<number>((resolve) => watcher.once('goaway', () => resolve(Date.now())));
    await new Promise<void>((resolve) => watcher.once('connect', () => resolve()));

    try {
      const load = startGrpcLoad(clients);
      await new Promise((r) => setTimeout(r, 1_000));
      // Calls that are sure to be in flight at the trigger: a slow unary call and a server stream on each client.
      const acrossTrigger = clients.flatMap((c) => [
        unary(c, {text: 'slow', delayMs: 1_200}, {deadlineMs: 10_000}).then((r) => r.status?.code ?? -1),
        new Promise<number>((resolve) => {
          const call = c.serverStream({n: 30, delayMs: 50, text: 'across'});
          let n = 0;
          call.on('data', () => n++);
          call.on('error', () => undefined);
          call.on('status', (st: grpc.StatusObject) => resolve(st.code === 0 && n !== 30 ? -1 : st.code));
        }),
      ]);
      await new Promise((r) => setTimeout(r, 200));
      const triggerAt = Date.now();
      ld.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, LB_MOVES_AFTER_MS));
      lb.setBackend(newApp.port);
      await ld.waitForLog((l) => l.msg === 'phase' && l.to === 'settling', 15_000);
      const metrics = (await httpGet({host: '127.0.0.1', port: ld.adminPort, path: '/metrics'})).body;
      const exit = await ld.exited;
      const records = await load.stop();

      // GOAWAY reached an idle connection during `deregistering`, long before `closing`.
      const goaway = await goawayAt;
      const deregistering = Date.parse(ld.logs.find((l) => l.msg === 'phase' && l.to === 'deregistering')!.time as string);
      const closing = Date.parse(ld.logs.find((l) => l.msg === 'phase' && l.to === 'closing')!.time as string);
      expect(goaway).toBeGreaterThanOrEqual(triggerAt);
      expect(goaway - deregistering).toBeLessThan(FALLBACK_MS);
      expect(goaway).toBeLessThan(closing);

      // No call failed: every call in flight at the trigger finished, new calls went to a re-dialled connection.
      expect(records.length).toBeGreaterThan(50);
      expect(records.filter((r) => r.code !== grpc.status.OK)).toEqual([]);
      expect(await Promise.all(acrossTrigger)).toEqual(acrossTrigger.map(() => grpc.status.OK));
      expect(newApp.calls.length).toBeGreaterThan(0);

      expect(exit.code).toBe(0);
      const summary = ld.logs.find((l) => l.msg === 'drain summary') as {drainedRequests: number; cut: Record<string, number>; h2?: {goaways: number; drained: number; cut: number}};
      expect(summary.cut).toEqual({requests: 0, upgrades: 0, connections: 0});
      expect(summary.h2?.goaways).toBeGreaterThanOrEqual(5);
      expect(summary.h2?.drained).toBeGreaterThan(0);
      expect(summary.h2?.cut).toBe(0);
      expect(summary.drainedRequests).toBe(summary.h2?.drained);
      expect(metrics).toMatch(/^lameduck_goaways_total [1-9]\d*$/m);
      expect(metrics).toMatch(/^lameduck_connections_total\{protocol="h2c"\} [1-9]\d*$/m);
    } finally {
      watcher.destroy();
      for (const c of clients) c.close();
      await lb.close();
      await oldApp.close();
      await newApp.close();
    }
  });
});
