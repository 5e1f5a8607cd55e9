/**
 * The forwarder's part of the drain, on its own (the state machine drives it in production):
 * - from the trigger, every response carries `Connection: close` and its connection closes, new connections are
 *   still accepted, and requests that arrived after the trigger are counted as drained;
 * - close(): listener closed, idle keep-alive sockets closed at once, in-flight requests finish and their sockets
 *   then close, the promise resolves only after them;
 * - destroy() (the deadline): whatever remains is cut and counted by kind, in stats and metrics;
 * - an open WebSocket keeps close() pending until it ends or destroy() cuts it;
 * - probes do not count as traffic for the quiet period.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {Agent, request, type IncomingHttpHeaders} from 'node:http';
import {connect, type Socket} from 'node:net';
import WebSocket from 'ws';
import {fetchBuffer, HOST, rawExchange, sleep, startProxy, startUpstream, waitFor, type Proxy, type Upstream} from '../../support/forwarder-harness.js';

let upstream: Upstream;
let proxy: Proxy;
const agents: Agent[] = [];
const sockets: Socket[] = [];

/** The app: `/slow?ms=N` answers after N ms (and notes when its response closed early), `/stream` sends 4 chunks. */
const closedEarly = new Set<string>();
async function start(env: Record<string, string> = {}): Promise<void> {
  upstream = await startUpstream(
    (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.on('close', () => {
        if (!res.writableFinished) closedEarly.add(url.pathname + url.search);
      });
      if (url.pathname === '/slow') {
        const timer = setTimeout(() => res.end('slow done'), Number(url.searchParams.get('ms')));
        res.on('close', () => clearTimeout(timer));
      } else if (url.pathname === '/stream') {
        let i = 0;
        res.write(`part ${i++}\n`);
        const timer = setInterval(() => {
          res.write(`part ${i++}\n`);
          if (i === 4) {
            clearInterval(timer);
            res.end();
          }
        }, 100);
        res.on('close', () => clearInterval(timer));
      } else {
        res.end(`ok ${url.pathname}`);
      }
    },
    {webSocketEcho: true},
  );
  proxy = await startProxy(upstream.url, {LAMEDUCK_QUIET_IGNORE_PATHS: '/healthz', ...env});
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const a of agents.splice(0)) a.destroy();
  await proxy.close();
  await upstream.close();
  closedEarly.clear();
});

function keepAliveAgent(): Agent {
  const agent = new Agent({keepAlive: true, maxSockets: 1});
  agents.push(agent);
  return agent;
}

interface Got {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  socket: Socket;
}

/** A request that also hands back the client socket that carried it; `onHead` runs when the response head arrived. */
function get(path: string, agent: Agent | false, headers: Record<string, string> = {}, onHead?: () => void): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({host: HOST, port: proxy.port, path, agent, headers}, (res) => {
      onHead?.();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body, socket: req.socket as Socket}));
    });
    req.setTimeout(15_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end();
  });
}

function isClosed(socket: Socket): Promise<boolean> {
  return waitFor(() => socket.destroyed, 3000);
}

function openRaw(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(proxy.port, HOST, () => resolve(s));
    s.on('error', reject);
    sockets.push(s);
  });
}

describe('forwarder drain behaviour', () => {
  it('after the trigger: Connection: close on every response, the connection closes, new connections accepted, drained counted', async () => {
    await start();
    const agent = keepAliveAgent();
    const before = await get('/a', agent);
    expect(before.headers.connection).toBe('keep-alive');
    expect(before.socket.destroyed).toBe(false);

    proxy.setPhase('settling');
    // The same keep-alive connection: answered, told to close, closed.
    const after = await get('/b', agent);
    expect(after.socket).toBe(before.socket);
    expect(after.status).toBe(200);
    expect(after.headers.connection).toBe('close');
    expect(await isClosed(after.socket)).toBe(true);
    // The listener still accepts new connections; every answer says close.
    for (const path of ['/c', '/d', '/e']) {
      const r = await get(path, keepAliveAgent());
      expect(r.body).toBe(`ok ${path}`);
      expect(r.headers.connection).toBe('close');
    }
    // Local answers too (here: OPTIONS *).
    expect((await rawExchange(proxy.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n')).text).toMatch(/Connection: close/i);

    expect(proxy.forwarder.stats().drained).toBe(5);
    expect(await proxy.metric('lameduck_drained_requests_total')).toBe(5);
    expect(await proxy.metric('lameduck_requests_total', {phase: 'settling', code: '2xx'})).toBe(5);
    expect(await proxy.metric('lameduck_requests_total', {phase: 'serving', code: '2xx'})).toBe(1);
    expect(proxy.forwarder.stats().served).toBe(6);
  });

  it('close(): idle keep-alive sockets close at once, in-flight requests finish and then their sockets close, the promise waits for them', async () => {
    await start();
    // An idle keep-alive connection, a slow request in flight, a streaming response that started before close().
    const idle = await get('/idle', keepAliveAgent());
    expect(idle.headers.connection).toBe('keep-alive');
    const slow = get('/slow?ms=700', keepAliveAgent());
    let streamHead = false;
    const stream = get('/stream', keepAliveAgent(), {}, () => (streamHead = true));
    expect(await waitFor(() => streamHead && proxy.forwarder.stats().inFlight === 2)).toBe(true);
    expect(proxy.forwarder.stats()).toMatchObject({openConnections: 3, idleConnections: 1, inFlight: 2, upgraded: 0});

    proxy.setPhase('closing');
    let resolved = false;
    const closing = proxy.forwarder.close().then(() => (resolved = true));
    expect(proxy.forwarder.close()).toBe(proxy.forwarder.close()); // idempotent: the same promise

    expect(await isClosed(idle.socket)).toBe(true);
    // No new connections.
    await expect(fetchBuffer(proxy.port, {path: '/new', timeoutMs: 2000})).rejects.toThrow(/ECONNREFUSED/);
    expect(resolved).toBe(false);

    const slowRes = await slow;
    expect(slowRes.status).toBe(200);
    expect(slowRes.body).toBe('slow done');
    expect(slowRes.headers.connection).toBe('close');
    const streamRes = await stream;
    expect(streamRes.body).toBe('part 0\npart 1\npart 2\npart 3\n');
    // The stream's head went out keep-alive before close(): its socket is closed once its response is done.
    expect(streamRes.headers.connection).toBe('keep-alive');
    expect(await isClosed(streamRes.socket)).toBe(true);
    expect(await isClosed(slowRes.socket)).toBe(true);

    await closing;
    expect(resolved).toBe(true);
    expect(proxy.forwarder.stats()).toMatchObject({openConnections: 0, inFlight: 0, cut: {requests: 0, upgrades: 0, connections: 0}});
    expect(closedEarly.size).toBe(0);
  });

  it('destroy() at the deadline cuts a request longer than it and a half-sent one, and counts them in stats and metrics', async () => {
    await start();
    const longOne = get('/slow?ms=20000', false).then(
      () => 'completed',
      (e: Error) => `failed: ${e.message}`,
    );
    const halfSent = await openRaw();
    halfSent.write('GET / HTTP/1.1\r\nHost: x\r\n'); // never finishes its head
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 1 && proxy.forwarder.stats().openConnections === 2)).toBe(true);
    await sleep(150); // let the server read the partial head (a connection that sent nothing yet counts as idle)

    let resolved = false;
    const closing = proxy.forwarder.close().then(() => (resolved = true));
    await sleep(300);
    expect(resolved).toBe(false);

    const cut = proxy.forwarder.destroy();
    expect(cut).toEqual({requests: 1, upgrades: 0, connections: 1});
    expect(proxy.forwarder.destroy()).toEqual(cut); // idempotent, counted once
    expect(await longOne).toMatch(/^failed/);
    await closing;
    expect(proxy.forwarder.stats().cut).toEqual(cut);
    expect(await proxy.metric('lameduck_cut_total', {kind: 'request'})).toBe(1);
    expect(await proxy.metric('lameduck_cut_total', {kind: 'connection'})).toBe(1);
    expect(await proxy.metric('lameduck_cut_total', {kind: 'upgrade'})).toBe(0);
    // A cut is not a client abort, and the app's request was closed with it.
    expect(await proxy.metric('lameduck_client_aborts_total')).toBe(0);
    expect(await waitFor(() => closedEarly.has('/slow?ms=20000'))).toBe(true);
  });

  it('an open WebSocket keeps close() pending until destroy() cuts it, counted as an upgrade', async () => {
    await start();
    const ws = new WebSocket(`ws://${HOST}:${proxy.port}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const wsClosed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.on('error', () => {});
    expect(await waitFor(() => proxy.forwarder.stats().upgraded === 1)).toBe(true);

    let resolved = false;
    const closing = proxy.forwarder.close().then(() => (resolved = true));
    await sleep(400);
    expect(resolved).toBe(false);
    // Still a working pipe while closing.
    const echoed = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
    ws.send('still here');
    expect(await echoed).toBe('still here');

    expect(proxy.forwarder.destroy()).toEqual({requests: 0, upgrades: 1, connections: 0});
    await wsClosed;
    await closing;
    expect(resolved).toBe(true);
    expect(await proxy.metric('lameduck_cut_total', {kind: 'upgrade'})).toBe(1);
    expect(await proxy.metric('lameduck_upgraded_connections')).toBe(0);
  });

  it('a WebSocket that ends by itself lets close() resolve without a cut; an upgrade completed after close() began gets 503', async () => {
    await start();
    const ws = new WebSocket(`ws://${HOST}:${proxy.port}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    // A connection that never sent a byte is idle: close() closes it.
    const silent = await openRaw();
    // A connection in the middle of an upgrade request head when close() begins.
    const late = await openRaw();
    late.write('GET /ws HTTP/1.1\r\nHost: x\r\n');
    const lateText: Buffer[] = [];
    late.on('data', (c: Buffer) => lateText.push(c));
    expect(await waitFor(() => proxy.forwarder.stats().openConnections === 3)).toBe(true);
    await sleep(150); // let the server read the partial head (a connection that sent nothing yet counts as idle)

    const closing = proxy.forwarder.close();
    let resolved = false;
    void closing.then(() => (resolved = true));
    expect(await isClosed(silent)).toBe(true);
    late.write('Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    expect(await isClosed(late)).toBe(true);
    expect(Buffer.concat(lateText).toString()).toMatch(/^HTTP\/1\.1 503 /);
    await sleep(200);
    expect(resolved).toBe(false);

    ws.close();
    await closing;
    expect(proxy.forwarder.stats().cut).toEqual({requests: 0, upgrades: 0, connections: 0});
  });

  it('lastTrafficAt(): requests count, probes (kube-probe, ELB, GoogleHC, ignored paths) do not', async () => {
    await start();
    expect(proxy.forwarder.lastTrafficAt()).toBe(0);
    await get('/real', false);
    const afterReal = proxy.forwarder.lastTrafficAt();
    expect(afterReal).toBeGreaterThan(0);
    await sleep(20);
    await get('/probe', false, {'user-agent': 'kube-probe/1.33'});
    await get('/lb', false, {'user-agent': 'ELB-HealthChecker/2.0'});
    await get('/gcp', false, {'user-agent': 'GoogleHC/1.0'});
    await get('/healthz?full=1', false);
    expect(proxy.forwarder.lastTrafficAt()).toBe(afterReal);
    await get('/real-again', false, {'user-agent': 'curl/8'});
    expect(proxy.forwarder.lastTrafficAt()).toBeGreaterThan(afterReal);
  });
});
