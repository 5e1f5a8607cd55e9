/**
 * gRPC through lameduck (h2c both sides), with real @grpc/grpc-js clients and servers: every call shape, metadata and
 * trailers, cancellation and deadlines pass unchanged; errors lameduck makes itself are gRPC statuses, not bare
 * HTTP errors; health checks are not traffic for the quiet detector.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import {useCleanups, waitFor, type Proxy} from '../../support/forwarder-harness.js';
import {echoClient, HealthClientCtor, startGrpcApp, unary, type EchoClient, type EchoMessage, type GrpcApp} from '../../support/h2-harness.js';
import {within} from '../../../sim/cluster/wait.js';

const cleanups = useCleanups();
let app: GrpcApp;
let proxy: Proxy;
let client: EchoClient;

beforeAll(async () => {
  app = await startGrpcApp();
  cleanups.track(() => app.close());
  proxy = await cleanups.proxyTo(app.url);
  client = echoClient(proxy.port);
  cleanups.track(async () => client.close());
});

afterAll(() => undefined);

describe('gRPC through lameduck', () => {
  it('unary: message, initial metadata and trailing metadata arrive unchanged', async () => {
    const md = new grpc.Metadata();
    md.set('x-test', 'hello-md');
    const r = await unary(client, {text: 'ping'}, {metadata: md});
    expect(r.err).toBeUndefined();
    expect(r.res).toEqual({text: 'ping'});
    expect(r.metadata?.get('x-test-echo')).toEqual(['hello-md']);
    expect(r.status?.code).toBe(grpc.status.OK);
    expect(r.status?.metadata.get('x-trailer')).toEqual(['done']);
    expect(await proxy.metric('lameduck_grpc_responses_total', {grpc_status: 'ok'})).toBeGreaterThanOrEqual(1);
  });

  it("unary: the app's error status and message reach the client as the app sent them", async () => {
    const r = await unary(client, {fail: grpc.status.NOT_FOUND});
    expect(r.err?.code).toBe(grpc.status.NOT_FOUND);
    expect(r.err?.details).toBe('failed as asked (5)');
    expect(await proxy.metric('lameduck_grpc_responses_total', {grpc_status: 'client_error'})).toBeGreaterThanOrEqual(1);
  });

  it('server streaming delivers every message and the trailers', async () => {
    const call = client.serverStream({n: 50, text: 's'});
    const got: EchoMessage[] = [];
    call.on('data', (m: EchoMessage) => got.push(m));
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(status.code).toBe(grpc.status.OK);
    expect(got.map((m) => m.n)).toEqual(Array.from({length: 50}, (_, i) => i));
    expect(status.metadata.get('x-trailer')).toEqual(['done']);
  });

  it('client streaming: every message reaches the app', async () => {
    const result = await new Promise<{err: grpc.ServiceError | null; res?: EchoMessage}>((resolve) => {
      const call = client.clientStream(new grpc.Metadata(), {}, (err, res) => resolve({err, res}));
      for (let i = 0; i < 30; i++) call.write({text: String(i % 10)});
      call.end();
    });
    expect(result.err).toBeNull();
    expect(result.res?.n).toBe(30);
    expect(result.res?.text).toBe('012345678901234567890123456789');
  });

  it('bidi streaming: interleaved messages both ways', async () => {
    const call = client.bidi();
    const got: EchoMessage[] = [];
    call.on('data', (m: EchoMessage) => got.push(m));
    for (let i = 0; i < 10; i++) {
      call.write({text: 'b', n: i});
      // Each answer arrives before the next message goes: a real exchange, not one buffered batch.
      expect(await waitFor(() => got.length === i + 1, 5_000)).toBe(true);
    }
    call.end();
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(status.code).toBe(grpc.status.OK);
    expect(got.map((m) => m.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a cancelled call cancels the call on the app', async () => {
    const before = app.calls.length;
    const call = client.serverStream({n: 1_000, delayMs: 20, text: 'c'});
    call.on('error', () => undefined);
    await new Promise<void>((resolve) => call.once('data', () => resolve()));
    call.cancel();
    const cancelled = await within(app.calls[before]!.cancelled, 5_000, 'timeout');
    expect(cancelled).toBe(true);
  });

  it("a deadline passes through: the client sees DEADLINE_EXCEEDED and the app's call is cancelled", async () => {
    const before = app.calls.length;
    const r = await unary(client, {delayMs: 3_000}, {deadlineMs: 300});
    expect(r.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // grpc-timeout reached the app (grpc-js sends it; the app's call carries the deadline).
    const cancelled = await within(app.calls[before]!.cancelled, 5_000, 'timeout');
    expect(cancelled).toBe(true);
  });

  it('health checks are served but are not traffic for the quiet detector', async () => {
    const health = new HealthClientCtor(`127.0.0.1:${proxy.port}`, grpc.credentials.createInsecure());
    cleanups.track(async () => health.close());
    await unary(client, {text: 'warm'});
    const before = proxy.forwarder.lastTrafficAt();
    const res = await new Promise<{status: string} | undefined>((resolve, reject) => health.check({}, (err, r) => (err ? reject(err) : resolve(r))));
    expect(res?.status).toBe('SERVING');
    expect(proxy.forwarder.lastTrafficAt()).toBe(before);
  });
});

describe('errors lameduck makes for gRPC requests are gRPC statuses', () => {
  it('app down: UNAVAILABLE with a message, HTTP 200 trailers-only (not a bare 502)', async () => {
    const gone = await startGrpcApp();
    const url = gone.url;
    await gone.close();
    const p = await cleanups.proxyTo(url);
    const c = echoClient(p.port);
    cleanups.track(async () => c.close());
    const r = await unary(c, {text: 'x'});
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.err?.details).toMatch(/lameduck: upstream refused the connection/);
    expect(await p.metric('lameduck_grpc_responses_total', {grpc_status: 'unavailable'})).toBe(1);
    expect(await p.metric('lameduck_upstream_errors_total', {reason: 'refused'})).toBe(1);
  });

  it('gRPC to an HTTP/1.1 app is refused with UNIMPLEMENTED naming the setting', async () => {
    const {startUpstream} = await import('../../support/forwarder-harness.js');
    const h1 = await startUpstream((_req, res) => res.end('never'));
    cleanups.track(() => h1.close());
    const p = await cleanups.proxyTo(h1.url);
    const c = echoClient(p.port);
    cleanups.track(async () => c.close());
    const r = await unary(c, {text: 'x'});
    expect(r.err?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(r.err?.details).toMatch(/LAMEDUCK_UPSTREAM=h2c:\/\//);
    expect(h1.seen).toHaveLength(0);
  });
});
