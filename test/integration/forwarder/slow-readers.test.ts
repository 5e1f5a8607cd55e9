/**
 * Clients that ask for a large response and never read it must not stall the pod: each would otherwise hold an upstream
 * socket for as long as it likes (undici's body timeout does not run while the response is paused for backpressure),
 * and with every socket held, everyone else waited without bound. Now the response is cut after the send timeout and
 * its upstream request aborted, and a request that cannot get an upstream socket gets a fast 503 with Retry-After.
 */
import {describe, expect, it} from '@jest/globals';
import {connect, type Socket} from 'node:net';
import {fetchBuffer, HOST, startUpstream, useCleanups, waitFor} from '../../support/forwarder-harness.js';

const {track, proxyTo} = useCleanups();
const MAX_SOCKETS = 2;

/** /big?mb=N streams N MiB with backpressure; anything else: a short answer. */
async function app() {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const upstream = await startUpstream((req, res) => {
    req.resume();
    const mb = /^\/big\?mb=(\d+)$/.exec(req.url ?? '');
    if (!mb) {
      res.end('small');
      return;
    }
    let left = Number(mb[1]) * 16;
    res.writeHead(200, {'content-length': String(left * chunk.length)});
    const pump = (): void => {
      while (left > 0 && !res.destroyed) {
        left--;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (left === 0) res.end();
    };
    pump();
  });
  track(() => upstream.close());
  return upstream;
}

/** Sends the request and never reads a byte of the answer. */
function slowReader(port: number, path: string): Socket {
  const socket = connect({port, host: HOST});
  socket.on('error', () => {});
  socket.on('connect', () => {
    socket.pause();
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
  track(async () => void socket.destroy());
  return socket;
}

describe('slow readers', () => {
  it(`2 × LAMEDUCK_UPSTREAM_MAX_SOCKETS clients not reading 200 MB: a normal request is answered or gets a fast 503, and the readers are cut at the send timeout`, async () => {
    const upstream = await app();
    const proxy = await proxyTo(upstream.url, {
      LAMEDUCK_UPSTREAM_MAX_SOCKETS: String(MAX_SOCKETS),
      LAMEDUCK_SEND_TIMEOUT: '2s',
      LAMEDUCK_UPSTREAM_QUEUE_TIMEOUT: '1s',
    });
    for (let i = 0; i < 2 * MAX_SOCKETS; i++) slowReader(proxy.port, '/big?mb=200');
    // Both upstream sockets are taken by readers that do not read.
    expect(await waitFor(() => upstream.seen.length >= MAX_SOCKETS, 10_000)).toBe(true);

    const normal = await fetchBuffer(proxy.port, {path: '/normal', timeoutMs: 20_000});
    expect([200, 503]).toContain(normal.status);
    if (normal.status === 503) {
      expect(normal.headers['retry-after']).toBe('1');
      expect(await proxy.metric('lameduck_refused_requests_total', {reason: 'queue_timeout'})).toBeGreaterThanOrEqual(1);
    }

    // The readers holding sockets are cut, their upstream requests aborted, and counted.
    expect(await waitFor(() => upstream.aborted() >= MAX_SOCKETS, 20_000)).toBe(true);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'send'})).toBeGreaterThanOrEqual(MAX_SOCKETS);
    // Its own kind of warning: the 503s' warnings, however many, do not hide it.
    expect(await waitFor(() => proxy.logs.some((l) => l.msg === 'client stopped reading the response'), 5_000)).toBe(true);
    // Not client aborts: the proxy cut them.
    expect(await proxy.metric('lameduck_client_aborts_total')).toBe(0);

    // With the sockets free again, a normal request is served.
    let after = 0;
    for (let i = 0; i < 40 && after !== 200; i++) after = (await fetchBuffer(proxy.port, {path: '/after', timeoutMs: 20_000})).status;
    expect(after).toBe(200);
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0, 20_000)).toBe(true);
  });

  it('a client that reads slowly, with pauses shorter than the send timeout, gets its whole response', async () => {
    const upstream = await app();
    // 600 ms pauses against a 2 s send timeout (with a 300 ms one this client is cut: it does block the proxy).
    const proxy = await proxyTo(upstream.url, {LAMEDUCK_SEND_TIMEOUT: '2s'});
    const mb = 48;
    const received = await new Promise<number>((resolve) => {
      const socket = connect({port: proxy.port, host: HOST});
      let bytes = 0;
      let reading: NodeJS.Timeout | undefined;
      socket.on('connect', () => socket.write(`GET /big?mb=${mb} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      socket.on('data', (c: Buffer) => (bytes += c.length));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(reading);
        resolve(bytes);
      });
      // Reads in short bursts with 600 ms pauses for 4 s (the proxy blocks on it again and again), then all of it.
      let turns = 0;
      reading = setInterval(() => {
        if (++turns > 6) {
          clearInterval(reading);
          socket.resume();
          return;
        }
        socket.resume();
        setTimeout(() => socket.pause(), 20);
      }, 620);
      socket.pause();
      track(async () => void socket.destroy());
    });
    expect(received).toBeGreaterThan(mb * 1024 * 1024);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'send'})).toBe(0);
    expect(upstream.aborted()).toBe(0);
  });

  it('a full upstream queue answers 503 at once (LAMEDUCK_UPSTREAM_MAX_QUEUE)', async () => {
    const upstream = await app();
    const proxy = await proxyTo(upstream.url, {
      LAMEDUCK_UPSTREAM_MAX_SOCKETS: '1',
      LAMEDUCK_UPSTREAM_MAX_QUEUE: '1',
      LAMEDUCK_UPSTREAM_QUEUE_TIMEOUT: '0',
      LAMEDUCK_SEND_TIMEOUT: '0',
    });
    slowReader(proxy.port, '/big?mb=200');
    expect(await waitFor(() => upstream.seen.length === 1, 10_000)).toBe(true);
    slowReader(proxy.port, '/big?mb=200'); // waits in the queue (no queue timeout)
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 2, 10_000)).toBe(true);
    const refused = await fetchBuffer(proxy.port, {path: '/third', timeoutMs: 20_000});
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(await proxy.metric('lameduck_refused_requests_total', {reason: 'queue_full'})).toBe(1);
    expect(upstream.seen.map((s) => s.url)).not.toContain('/third');
  });
});
