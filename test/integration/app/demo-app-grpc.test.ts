// The demo-app's gRPC mode (PROTOCOL=grpc) as a real child process, with a real @grpc/grpc-js client: its methods,
// the health Check, a clear error for a bad PROTOCOL, and the two legacy behaviours of docs/design.md in gRPC terms —
// kind (a) dies at once on SIGTERM and the client's open stream breaks with UNAVAILABLE; kind (b) ignores SIGTERM,
// so the stream completes and new calls are served until SIGKILL.
import {afterAll, afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import {DEMO_SERVICE, HEALTH_SERVICE, POD_METADATA_KEY, SERVING, type HelloReply, type StreamReply} from '../../../demo-app/src/grpc-service.js';
import {assertDemoAppBuilt, killDemoApps, startDemoApp, type DemoAppProcess} from '../../support/demo-app-process.js';

interface DemoClient extends grpc.Client {
  hello(req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: HelloReply) => void): grpc.ClientUnaryCall;
  stream(req: object, md: grpc.Metadata, opts: grpc.CallOptions): grpc.ClientReadableStream<StreamReply>;
}
interface HealthClient extends grpc.Client {
  check(req: {service?: string}, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: {status: number}) => void): grpc.ClientUnaryCall;
}
const Demo = grpc.makeGenericClientConstructor(DEMO_SERVICE, 'Demo') as unknown as new (a: string, c: grpc.ChannelCredentials) => DemoClient;
const Health = grpc.makeGenericClientConstructor(HEALTH_SERVICE, 'Health') as unknown as new (a: string, c: grpc.ChannelCredentials) => HealthClient;

const clients: grpc.Client[] = [];
function demo(port: number): DemoClient {
  const c = new Demo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  clients.push(c);
  return c;
}
const deadline = (): grpc.CallOptions => ({deadline: Date.now() + 10_000});

function hello(c: DemoClient): Promise<{err: grpc.ServiceError | null; res?: HelloReply; pod?: unknown}> {
  return new Promise((resolve) => {
    let pod: unknown;
    const call = c.hello({name: 'test'}, new grpc.Metadata(), deadline(), (err, res) => resolve({err, res, pod}));
    call.on('metadata', (md) => (pod = md.get(POD_METADATA_KEY)[0]));
  });
}

/** Opens a stream; `onFirst` runs after the first message. Resolves with the messages and the final status. */
function stream(c: DemoClient, req: object, onFirst?: () => void): Promise<{messages: StreamReply[]; status: grpc.StatusObject}> {
  return new Promise((resolve) => {
    const messages: StreamReply[] = [];
    const call = c.stream(req, new grpc.Metadata(), deadline());
    call.on('data', (m: StreamReply) => {
      messages.push(m);
      if (messages.length === 1) onFirst?.();
    });
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => resolve({messages, status}));
  });
}

beforeAll(assertDemoAppBuilt);
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await killDemoApps();
});
afterAll(killDemoApps);

describe('demo-app PROTOCOL=grpc', () => {
  let app: DemoAppProcess;

  it('logs its protocol; Hello answers with the pod name in the reply and in the x-pod-name metadata', async () => {
    app = await startDemoApp({PROTOCOL: 'grpc'});
    expect(app.stdout.map((l) => JSON.parse(l) as {msg: string; protocol?: string}).find((l) => l.msg === 'listening')?.protocol).toBe('grpc');
    const r = await hello(demo(app.port));
    expect(r.err).toBeNull();
    expect(r.res).toEqual({pod: 'demo-test-pod', message: 'hello test from demo-test-pod'});
    expect(r.pod).toBe('demo-test-pod');
  });

  it('Stream sends count messages, then OK; bad arguments get INVALID_ARGUMENT naming them', async () => {
    app = await startDemoApp({PROTOCOL: 'grpc'});
    const c = demo(app.port);
    const ok = await stream(c, {count: 5, intervalMs: 20});
    expect(ok.status.code).toBe(grpc.status.OK);
    expect(ok.messages).toEqual([0, 1, 2, 3, 4].map((seq) => ({pod: 'demo-test-pod', seq})));
    const bad = await stream(c, {count: -1, intervalMs: 'x'});
    expect(bad.status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.status.details).toMatch(/count.*intervalMs/);
  });

  it('answers the standard health Check with SERVING (protobuf)', async () => {
    app = await startDemoApp({PROTOCOL: 'grpc'});
    const h = new Health(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure());
    clients.push(h);
    const res = await new Promise<{status: number} | undefined>((resolve, reject) => h.check({service: ''}, new grpc.Metadata(), deadline(), (err, r) => (err ? reject(err) : resolve(r))));
    expect(res).toEqual({status: SERVING});
  });

  it('refuses an unknown PROTOCOL at start-up, naming the variable', async () => {
    await expect(startDemoApp({PROTOCOL: 'h3'})).rejects.toThrow(/exited \(2\).*invalid PROTOCOL="h3": expected http or grpc/);
  });

  it('kind (a): SIGTERM kills it at once; the open stream breaks with UNAVAILABLE', async () => {
    app = await startDemoApp({PROTOCOL: 'grpc'});
    const r = await stream(demo(app.port), {count: 100, intervalMs: 50}, () => app.child.kill('SIGTERM'));
    expect(r.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.messages.length).toBeLessThan(100);
    expect(await app.exited).toEqual({code: null, signal: 'SIGTERM'});
  });

  it('kind (b), IGNORE_SIGTERM=1: SIGTERM is ignored (the stream completes, new calls are served) until SIGKILL', async () => {
    app = await startDemoApp({PROTOCOL: 'grpc', IGNORE_SIGTERM: '1'});
    const c = demo(app.port);
    const r = await stream(c, {count: 10, intervalMs: 50}, () => app.child.kill('SIGTERM'));
    expect(r.status.code).toBe(grpc.status.OK);
    expect(r.messages).toHaveLength(10);
    expect((await hello(c)).err).toBeNull();
    expect(app.stdout.some((l) => (JSON.parse(l) as {msg: string}).msg === 'SIGTERM ignored')).toBe(true);
    app.child.kill('SIGKILL');
    expect(await app.exited).toEqual({code: null, signal: 'SIGKILL'});
  });
});
