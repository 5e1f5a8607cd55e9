// The gRPC load generator against real servers: the demo-app in gRPC mode (a real child process) and a @grpc/grpc-js
// server shut down the graceful way. What it must get right: which pod served each call, streams restarted and
// cancelled (not failed) at stop, and whether a broken call had been told to reconnect (a GOAWAY before the break).
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import {DEMO_SERVICE, type StreamReply, type StreamRequest} from '../../../demo-app/src/grpc-service.js';
import {startGrpcLoad} from '../../../sim/grpc-load.js';
import {assertDemoAppBuilt, killDemoApps, startDemoApp} from '../../support/demo-app-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

beforeAll(assertDemoAppBuilt);
afterAll(killDemoApps);

describe('gRPC load', () => {
  it('serves unary calls and restarted streams from the demo-app; stop cancels open streams without failing them', async () => {
    const app = await startDemoApp({PROTOCOL: 'grpc', POD_NAME: 'pod-a'});
    const load = await startGrpcLoad({host: '127.0.0.1', port: app.port, rps: 50, channels: 2, streams: 2, streamMessages: 5, streamIntervalMs: 20});
    await waitFor('two completed streams per slot', () => load.records.filter((r) => r.kind === 'grpc-stream').length >= 4);
    const report = await load.stop();
    expect(report.failed).toBe(0);
    const unary = report.records.filter((r) => r.kind === 'grpc-unary');
    expect(unary.length).toBeGreaterThan(5);
    for (const r of unary) expect(r).toMatchObject({outcome: 'ok', pod: 'pod-a', grpcCode: 0});
    const streams = report.records.filter((r) => r.kind === 'grpc-stream' && !r.cancelledAtStop);
    for (const r of streams) expect(r).toMatchObject({outcome: 'ok', pod: 'pod-a', messages: 5});
    // Stop cancels whatever is open: at most one stream per slot, counted ok.
    expect(report.records.filter((r) => r.cancelledAtStop).length).toBeLessThanOrEqual(2);
  }, 60_000);

  it('a stream broken by a server that died (no GOAWAY) was not told to reconnect', async () => {
    const app = await startDemoApp({PROTOCOL: 'grpc'});
    const load = await startGrpcLoad({host: '127.0.0.1', port: app.port, rps: 20, channels: 1, streams: 1, streamMessages: 200, streamIntervalMs: 20});
    await waitFor('the first unary call', () => load.records.some((r) => r.kind === 'grpc-unary'));
    app.child.kill('SIGKILL');
    await waitFor('the stream to break', () => load.records.some((r) => r.kind === 'grpc-stream'));
    const report = await load.stop();
    const broken = report.records.find((r) => r.kind === 'grpc-stream')!;
    expect(broken).toMatchObject({outcome: 'unavailable', grpcCode: grpc.status.UNAVAILABLE, toldToReconnect: false});
    expect(report.failed).toBeGreaterThan(0);
  }, 60_000);

  it('a stream broken after the server sent GOAWAY (graceful shutdown, then forced) had been told to reconnect', async () => {
    const server = new grpc.Server();
    server.addService(DEMO_SERVICE, {
      hello: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {pod: 'p', message: 'hi'}),
      stream(call: grpc.ServerWritableStream<StreamRequest, StreamReply>) {
        const t = setInterval(() => call.write({pod: 'p', seq: 0}), 20);
        call.on('cancelled', () => clearInterval(t));
        call.on('close', () => clearInterval(t));
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    const load = await startGrpcLoad({host: '127.0.0.1', port, rps: 20, channels: 1, streams: 1, streamMessages: 1000, streamIntervalMs: 20});
    await waitFor('the first unary call', () => load.records.some((r) => r.kind === 'grpc-unary'));
    await sleep(200);
    // tryShutdown closes every HTTP/2 session gracefully: GOAWAY, then waits for the open stream (which never ends).
    server.tryShutdown(() => undefined);
    await sleep(500);
    server.forceShutdown();
    await waitFor('the stream to break', () => load.records.some((r) => r.kind === 'grpc-stream'));
    const report = await load.stop();
    const broken = report.records.find((r) => r.kind === 'grpc-stream')!;
    expect(broken.outcome).not.toBe('ok');
    expect(broken.toldToReconnect).toBe(true);
  }, 60_000);
});
