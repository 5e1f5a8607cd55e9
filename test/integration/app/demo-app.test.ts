import {afterAll, afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import {createHash, randomBytes} from 'node:crypto';
import {request, type IncomingMessage} from 'node:http';
import {connect} from 'node:net';
import {WebSocket} from 'ws';
import {classifyError} from '../../../sim/load.js';
import {assertDemoAppBuilt, startDemoApp, killDemoApps, type DemoAppProcess} from '../../support/demo-app-process.js';

// The demo-app as a real child process, built by `npm run build` (npm test's pretest): its endpoints, and the two
// legacy behaviours of docs/design.md that lameduck exists for — kind (a) dies at once on SIGTERM, dropping what is in
// flight; kind (b) (IGNORE_SIGTERM=1) ignores SIGTERM and only SIGKILL ends it.

const startApp = startDemoApp;
type App = DemoAppProcess;

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  chunks: number;
}

function get(port: number, path: string, opts: {method?: string; body?: Buffer; headers?: Record<string, string>} = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false}, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts), chunks: parts.length}));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(assertDemoAppBuilt);

const killAll = killDemoApps;

afterAll(killAll);

describe('demo-app endpoints', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    app.child.kill('SIGKILL');
    await app.exited;
  });

  it('logs one JSON listening line with the bound port', () => {
    expect(JSON.parse(app.stdout[0]!)).toMatchObject({msg: 'listening', port: app.port});
  });

  it('/ answers with the pod name in the body and in X-Pod-Name; /alive answers 200; unknown paths 404', async () => {
    const root = await get(app.port, '/');
    expect(root.status).toBe(200);
    expect(root.body.toString()).toContain('demo-test-pod');
    expect(root.headers['x-pod-name']).toBe('demo-test-pod');
    expect((await get(app.port, '/alive')).status).toBe(200);
    expect((await get(app.port, '/nope')).status).toBe(404);
  });

  it('/slow?ms=N answers after N ms', async () => {
    const t0 = Date.now();
    const r = await get(app.port, '/slow?ms=300');
    expect(r.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(295);
    expect((await get(app.port, '/slow?ms=abc')).status).toBe(400);
  });

  it('/stream sends N chunks at the interval, chunked', async () => {
    const t0 = Date.now();
    const r = await get(app.port, '/stream?chunks=4&interval=60');
    expect(r.status).toBe(200);
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.body.toString()).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\n');
    expect(r.chunks).toBeGreaterThanOrEqual(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(170);
  });

  it('POST /echo streams a 10 MB body back unchanged', async () => {
    const body = randomBytes(10 * 1024 * 1024);
    const r = await get(app.port, '/echo', {method: 'POST', body, headers: {'content-type': 'application/x-test'}});
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/x-test');
    expect(r.body.length).toBe(body.length);
    expect(createHash('sha256').update(r.body).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    expect((await get(app.port, '/echo')).status).toBe(405);
  });

  it('/headers echoes the request headers as JSON', async () => {
    const r = await get(app.port, '/headers', {headers: {'x-forwarded-for': '10.1.2.3', 'x-test': 'yes'}});
    expect(JSON.parse(r.body.toString())).toMatchObject({'x-forwarded-for': '10.1.2.3', 'x-test': 'yes', host: `127.0.0.1:${app.port}`});
  });

  it('/ws echoes text and binary WebSocket messages', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${app.port}/ws`);
    const received: Array<{data: string; binary: boolean}> = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('open', () => {
        ws.send('hello');
        ws.send(Buffer.from([1, 2, 3]));
      });
      ws.on('message', (data, binary) => {
        received.push({data: (data as Buffer).toString('hex'), binary});
        if (received.length === 2) resolve();
      });
    });
    ws.close();
    expect(received).toEqual([
      {data: Buffer.from('hello').toString('hex'), binary: false},
      {data: '010203', binary: true},
    ]);
  });
});

describe('demo-app process behaviour', () => {
  afterEach(killAll);

  it('rejects an invalid PORT naming the variable', async () => {
    await expect(startApp({PORT: 'eighty'})).rejects.toThrow(/PORT="eighty"/);
  });

  it('KEEPALIVE_TIMEOUT_MS sets how long an idle keep-alive connection stays open', async () => {
    const app = await startApp({KEEPALIVE_TIMEOUT_MS: '300'});
    const socket = connect(app.port, '127.0.0.1');
    const closedAfter = await new Promise<number>((resolve, reject) => {
      let answeredAt = 0;
      socket.on('error', reject);
      socket.on('data', () => (answeredAt ||= Date.now()));
      socket.on('close', () => resolve(Date.now() - answeredAt));
      socket.write('GET /alive HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    // Node's default would hold it for 5 s.
    expect(closedAfter).toBeGreaterThanOrEqual(250);
    expect(closedAfter).toBeLessThan(3000);
  });

  it('POST /shutdown answers, then the process exits 0', async () => {
    const app = await startApp();
    expect((await get(app.port, '/shutdown')).status).toBe(405);
    const r = await get(app.port, '/shutdown', {method: 'POST'});
    expect(r.status).toBe(200);
    expect(await app.exited).toEqual({code: 0, signal: null});
    expect(app.stdout.some((l) => JSON.parse(l).msg === 'shutdown requested')).toBe(true);
  });

  it('kind (a): SIGTERM kills it at once, and the client of an in-flight request sees a reset', async () => {
    const app = await startApp();
    let killedAt = 0;
    // A streaming response makes "in flight" observable without timing guesses: SIGTERM after the first chunk.
    const outcome = new Promise<string>((resolve) => {
      const req = request({host: '127.0.0.1', port: app.port, path: '/stream?chunks=100&interval=50', agent: false}, (res) => {
        res.once('data', () => {
          killedAt = Date.now();
          app.child.kill('SIGTERM');
        });
        res.on('end', () => resolve('complete'));
        res.on('error', (err: NodeJS.ErrnoException) => resolve(classifyError(err)));
        res.on('close', () => resolve(res.complete ? 'complete' : 'reset'));
        res.resume();
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(classifyError(err)));
      req.end();
    });
    expect(await outcome).toBe('reset');
    expect(await app.exited).toEqual({code: null, signal: 'SIGTERM'});
    // "At once": far sooner than the 5 s the stream still had to go.
    expect(Date.now() - killedAt).toBeLessThan(3000);
  });

  it('kind (b), IGNORE_SIGTERM=1: SIGTERM is ignored (in-flight work completes, new requests served) until SIGKILL', async () => {
    const app = await startApp({IGNORE_SIGTERM: '1'});
    const slow = get(app.port, '/slow?ms=1000');
    await sleep(200);
    app.child.kill('SIGTERM');
    await sleep(300);
    expect(app.child.exitCode).toBeNull();
    expect((await get(app.port, '/alive')).status).toBe(200);
    expect((await slow).status).toBe(200);
    expect(app.stdout.some((l) => JSON.parse(l).msg === 'SIGTERM ignored')).toBe(true);
    app.child.kill('SIGKILL');
    expect(await app.exited).toEqual({code: null, signal: 'SIGKILL'});
  });
});
