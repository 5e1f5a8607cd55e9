/**
 * The upstream connection pool (upstream-pool.ts): requests reuse idle keep-alive connections to the app, the most
 * recently used first; at most LAMEDUCK_UPSTREAM_MAX_SOCKETS at once (the rest wait, none fail); idle connections
 * close after LAMEDUCK_UPSTREAM_IDLE_TIMEOUT; a pooled connection the app closed is never handed out.
 */
import {describe, expect, it} from '@jest/globals';
import type {Socket} from 'node:net';
import {fetchBuffer, sleep, startUpstream, useCleanups, waitFor, type Upstream} from '../../support/forwarder-harness.js';

const {track, proxyTo} = useCleanups();

/** An upstream that names, in each answer, which of its connections carried the request. */
async function startNamingUpstream(opts: {delayMs?: number} = {}): Promise<Upstream & {open: () => number; sockets: Socket[]}> {
  const ids = new WeakMap<Socket, number>();
  const sockets: Socket[] = [];
  let open = 0;
  const upstream = await startUpstream((req, res) => {
    const answer = () => res.end(String(ids.get(req.socket)));
    req.resume();
    if (opts.delayMs) setTimeout(answer, opts.delayMs);
    else answer();
  });
  upstream.server.on('connection', (socket: Socket) => {
    ids.set(socket, sockets.length);
    sockets.push(socket);
    open++;
    socket.on('close', () => open--);
  });
  track(() => upstream.close());
  return Object.assign(upstream, {open: () => open, sockets});
}


describe('forwarder upstream connection pool', () => {
  it('carries sequential requests on one reused connection', async () => {
    const upstream = await startNamingUpstream();
    const proxy = await proxyTo(upstream.url);
    const carriers = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const r = await fetchBuffer(proxy.port, {path: `/seq/${i}`});
      expect(r.status).toBe(200);
      carriers.add(r.body.toString());
    }
    expect(upstream.connections()).toBe(1);
    expect([...carriers]).toEqual(['0']);
  });

  it('opens no more than LAMEDUCK_UPSTREAM_MAX_SOCKETS connections; the requests beyond wait and all succeed', async () => {
    const upstream = await startNamingUpstream({delayMs: 30});
    const proxy = await proxyTo(upstream.url, {LAMEDUCK_UPSTREAM_MAX_SOCKETS: '4'});
    const results = await Promise.all(Array.from({length: 24}, (_, i) => fetchBuffer(proxy.port, {path: `/burst/${i}`})));
    expect(results.map((r) => r.status)).toEqual(Array(24).fill(200));
    expect(upstream.connections()).toBe(4);
    // A second burst reuses the same four.
    const again = await Promise.all(Array.from({length: 8}, (_, i) => fetchBuffer(proxy.port, {path: `/again/${i}`})));
    expect(again.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(upstream.connections()).toBe(4);
  });

  it('hands out the most recently used idle connection first (LIFO), so the others can time out', async () => {
    const upstream = await startNamingUpstream({delayMs: 20});
    const proxy = await proxyTo(upstream.url);
    await Promise.all(Array.from({length: 3}, (_, i) => fetchBuffer(proxy.port, {path: `/warm/${i}`})));
    expect(upstream.connections()).toBe(3);
    const first = (await fetchBuffer(proxy.port, {path: '/one'})).body.toString();
    const carriers = new Set<string>();
    for (let i = 0; i < 10; i++) carriers.add((await fetchBuffer(proxy.port, {path: `/lifo/${i}`})).body.toString());
    expect([...carriers]).toEqual([first]);
  });

  it('closes idle pooled connections after LAMEDUCK_UPSTREAM_IDLE_TIMEOUT', async () => {
    const upstream = await startNamingUpstream();
    const proxy = await proxyTo(upstream.url, {LAMEDUCK_UPSTREAM_IDLE_TIMEOUT: '300ms'});
    expect((await fetchBuffer(proxy.port, {path: '/idle'})).status).toBe(200);
    expect(upstream.open()).toBe(1);
    expect(await waitFor(() => upstream.open() === 0, 5000)).toBe(true);
    // The next request opens a new connection and succeeds.
    expect((await fetchBuffer(proxy.port, {path: '/after-idle'})).status).toBe(200);
    expect(upstream.connections()).toBe(2);
  });

  it('never hands out a pooled connection the app has closed', async () => {
    const upstream = await startNamingUpstream();
    const proxy = await proxyTo(upstream.url);
    await Promise.all(Array.from({length: 3}, (_, i) => fetchBuffer(proxy.port, {path: `/pool/${i}`})));
    const before = upstream.connections();
    // The app closes every idle connection (as its keep-alive timeout would); the proxy sees the FIN.
    for (const s of upstream.sockets) s.end();
    await sleep(100);
    for (let i = 0; i < 5; i++) {
      const r = await fetchBuffer(proxy.port, {path: `/after-close/${i}`});
      expect(r.status).toBe(200);
    }
    expect(upstream.connections()).toBeGreaterThan(before);
    // Not by luck of a retry: the closed connections left the pool when their FIN arrived.
    expect(await proxy.metric('lameduck_upstream_retries_total')).toBe(0);
    expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'reset'})).toBe(0);
  });

  it('a request whose client leaves while it waits for a connection never reaches the app', async () => {
    const upstream = await startNamingUpstream({delayMs: 300});
    const proxy = await proxyTo(upstream.url, {LAMEDUCK_UPSTREAM_MAX_SOCKETS: '1'});
    const first = fetchBuffer(proxy.port, {path: '/holds-the-connection'});
    await waitFor(() => upstream.seen.length === 1, 5000);
    // Waits behind the first request (one connection allowed), and its client gives up.
    await expect(fetchBuffer(proxy.port, {path: '/gives-up', timeoutMs: 100})).rejects.toThrow('client timeout');
    expect((await first).status).toBe(200);
    expect((await fetchBuffer(proxy.port, {path: '/after'})).status).toBe(200);
    expect(upstream.seen.map((r) => r.url)).toEqual(['/holds-the-connection', '/after']);
    expect(await proxy.metric('lameduck_client_aborts_total')).toBe(1);
    expect(proxy.forwarder.stats().inFlight).toBe(0);
  });
});
