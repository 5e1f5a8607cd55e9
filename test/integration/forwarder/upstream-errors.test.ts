/**
 * Upstream failures answer quickly and clearly: refused 502, timeout 504, malformed response 502, reset 502 (cut
 * when the head was already relayed), each counted by reason, with a short text body that leaks nothing internal, and
 * an outage does not flood the log (at most about one warning a second, with a suppressed count).
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket} from 'node:net';
import {request} from 'node:http';
import {PassThrough} from 'node:stream';
import {fetchBuffer, HOST, sleep, startProxy, startUpstream, waitFor, type Proxy, type Upstream} from '../../support/forwarder-harness.js';

/** A TCP "upstream" that does whatever `onData` says with the raw request bytes. */
async function startRawUpstream(onData: (socket: Socket, data: Buffer) => void): Promise<{port: number; close(): Promise<void>}> {
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (data) => onData(socket, data));
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, HOST, resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function expectCleanBody(body: string): void {
  // One short line naming the reason; no stack trace, no internal address or path.
  expect(body.trim().split('\n')).toHaveLength(1);
  expect(body.length).toBeLessThan(120);
  expect(body).not.toMatch(/127\.0\.0\.1|\bat \S+ \(|\/work\/|node:|Error:/);
}

describe('forwarder upstream errors', () => {
  it('refused: 502 with a short body, counted as refused, warnings rate-limited with a suppressed count', async () => {
    const proxy = await startProxy(`http://${HOST}:${await freePort()}`);
    try {
      const t0 = performance.now();
      const first = await fetchBuffer(proxy.port, {path: '/a'});
      expect(first.status).toBe(502);
      expect(first.headers['content-type']).toMatch(/^text\/plain/);
      expect(first.body.toString()).toContain('upstream refused the connection');
      expectCleanBody(first.body.toString());
      expect(performance.now() - t0).toBeLessThan(3000);

      // An outage: 30 more failures in a burst.
      await Promise.all(Array.from({length: 30}, () => fetchBuffer(proxy.port, {path: '/b'})));
      expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'refused'})).toBe(31);
      expect(await proxy.metric('lameduck_requests_total', {phase: 'serving', code: '5xx'})).toBe(31);

      // The suppressed count is flushed after the interval, so every failure is accounted for in the log.
      await sleep(1300);
      const warns = proxy.logs.filter((l) => l.msg === 'upstream request failed');
      expect(warns.length).toBeGreaterThanOrEqual(1);
      expect(warns.length).toBeLessThanOrEqual(3);
      const accounted = warns.reduce((n, l) => n + 1 + ((l.suppressed as number | undefined) ?? 0), 0);
      expect(accounted).toBe(31);
      expect(warns[0]!.reason).toBe('refused');
    } finally {
      await proxy.close();
    }
  });

  describe('with an upstream that never answers', () => {
    let upstream: Upstream;
    let proxy: Proxy;
    beforeAll(async () => {
      upstream = await startUpstream((req) => req.resume()); // reads the request, never responds
      proxy = await startProxy(upstream.url, {LAMEDUCK_UPSTREAM_TIMEOUT: '300ms'});
    });
    afterAll(async () => {
      await proxy.close();
      await upstream.close();
    });

    it('timeout: 504 after upstreamTimeout, counted as timeout, and the upstream request is closed', async () => {
      const t0 = performance.now();
      const res = await fetchBuffer(proxy.port, {path: '/slow'});
      const took = performance.now() - t0;
      expect(res.status).toBe(504);
      expect(res.body.toString()).toContain('did not answer in time');
      expectCleanBody(res.body.toString());
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(5000);
      expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'timeout'})).toBe(1);
      expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'reset'})).toBe(0);
      expect(await waitFor(() => upstream.aborted() === 1)).toBe(true);
    });
  });

  it.each([
    ['garbage instead of a status line', 'NOT HTTP AT ALL\r\n\r\n'],
    ['two different Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
    ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
    ['an invalid header name', 'HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 2\r\n\r\nok'],
    // lameduck never sends Expect upstream (node:http answered the client's), and undici, its upstream client,
    // refuses a 100 nobody asked for (RFC 9110 §15.2 would have it ignored): a known limitation (docs/reliability.md).
    ['a 100 Continue the request did not ask for', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
  ])('malformed response (%s): 502, counted as bad_response', async (_name, raw) => {
    const up = await startRawUpstream((socket) => socket.end(raw));
    const proxy = await startProxy(`http://${HOST}:${up.port}`);
    try {
      const res = await fetchBuffer(proxy.port, {path: '/'});
      expect(res.status).toBe(502);
      expect(res.body.toString()).toContain('malformed response');
      expectCleanBody(res.body.toString());
      expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'bad_response'})).toBe(1);
    } finally {
      await proxy.close();
      await up.close();
    }
  });

  it('refused while requests wait for a connection (LAMEDUCK_UPSTREAM_MAX_SOCKETS reached): each gets its 502, the proxy keeps serving', async () => {
    const port = await freePort();
    const proxy = await startProxy(`http://${HOST}:${port}`, {LAMEDUCK_UPSTREAM_MAX_SOCKETS: '1'});
    try {
      const results = await Promise.all(Array.from({length: 8}, (_, i) => fetchBuffer(proxy.port, {path: `/queued/${i}`})));
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(502));
      expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'refused'})).toBe(8);
      // Still serving (before the fix, undici's own assertion threw out of its connect-error callback: the process died).
      expect((await fetchBuffer(proxy.port, {path: '/still-alive'})).status).toBe(502);
      expect(proxy.forwarder.stats().inFlight).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('an app that answers before reading the whole upload: the answer is relayed with Connection: close, nothing hangs', async () => {
    const up = await startUpstream((req, res) => {
      // Answers at once and never reads the body.
      res.writeHead(413, {'content-type': 'text/plain'});
      res.end('too big');
    });
    const proxy = await startProxy(up.url);
    try {
      const body = new PassThrough();
      const pending = fetchBuffer(proxy.port, {method: 'POST', path: '/upload', body, headers: {'content-type': 'application/octet-stream'}, timeoutMs: 8000});
      body.write(Buffer.alloc(64 * 1024, 1));
      const res = await pending;
      body.destroy();
      expect(res.status).toBe(413);
      expect(res.body.toString()).toBe('too big');
      expect(res.headers.connection).toBe('close');
    } finally {
      await proxy.close();
      await up.close();
    }
  });

  it('an informational response (103 Early Hints) before the final one: the final response is relayed', async () => {
    const up = await startRawUpstream((socket) =>
      socket.end('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'),
    );
    const proxy = await startProxy(`http://${HOST}:${up.port}`);
    try {
      const res = await fetchBuffer(proxy.port, {path: '/'});
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('ok');
      expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'bad_response'})).toBe(0);
    } finally {
      await proxy.close();
      await up.close();
    }
  });

  it('an app answering a plain request with 101: 502 at once, counted as bad_response (the client is not left waiting)', async () => {
    // The connection stays open: node's client drops it without an error event, only `close`.
    const up = await startRawUpstream((socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n'));
    const proxy = await startProxy(`http://${HOST}:${up.port}`, {LAMEDUCK_UPSTREAM_TIMEOUT: '30s'});
    try {
      const started = performance.now();
      const res = await fetchBuffer(proxy.port, {path: '/'});
      expect(res.status).toBe(502);
      expectCleanBody(res.body.toString());
      // Long before the upstream timeout.
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'bad_response'})).toBe(1);
      expect(proxy.forwarder.stats().inFlight).toBe(0);
    } finally {
      await proxy.close();
      await up.close();
    }
  });

  it('reset before any response on a fresh connection: 502 reset, not retried', async () => {
    const up = await startRawUpstream((socket) => socket.resetAndDestroy());
    const proxy = await startProxy(`http://${HOST}:${up.port}`);
    try {
      const res = await fetchBuffer(proxy.port, {path: '/'});
      expect(res.status).toBe(502);
      expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'reset'})).toBe(1);
      expect(await proxy.metric('lameduck_upstream_retries_total')).toBe(0);
    } finally {
      await proxy.close();
      await up.close();
    }
  });

  it('reset in the middle of the body: the client connection is cut (no truncated body passed as complete), counted as reset', async () => {
    const up = await startRawUpstream((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n' + 'x'.repeat(100));
      setTimeout(() => socket.resetAndDestroy(), 50);
    });
    const proxy = await startProxy(`http://${HOST}:${up.port}`);
    try {
      const outcome = await new Promise<string>((resolve) => {
        let got = 0;
        request({host: HOST, port: proxy.port, path: '/', agent: false}, (res) => {
          res.on('data', (c: Buffer) => (got += c.length));
          res.on('end', () => resolve(`complete ${got}`));
          res.on('error', () => resolve(`error after ${got}`));
          res.on('aborted', () => resolve(`aborted after ${got}`));
        })
          .on('error', (e) => resolve(`request error ${e.message}`))
          .end();
      });
      expect(outcome).toMatch(/^(aborted|error) after 100$/);
      expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'reset'})).toBe(1);
      expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0)).toBe(true);
      expect(await proxy.metric('lameduck_requests_total', {phase: 'serving', code: '5xx'})).toBe(1);
      expect(await proxy.metric('lameduck_client_aborts_total')).toBe(0);
    } finally {
      await proxy.close();
      await up.close();
    }
  });
});
