/**
 * HTTP/2 with prior knowledge (h2c) on the traffic listener, beside HTTP/1.1: requests with bodies both ways,
 * trailers both ways, a client's RST_STREAM cancelling the app's stream, flow control end to end, lameduck's own
 * errors, an h2c client in front of an HTTP/1.1 app, and HTTP/1.1 still served on the same port.
 */
import {describe, expect, it} from '@jest/globals';
import {constants, type ClientHttp2Session} from 'node:http2';
import {createHash, randomBytes} from 'node:crypto';
import {fetchBuffer, HOST, sleep, startUpstream, useCleanups, waitFor} from '../../support/forwarder-harness.js';
import {closeSession, h2Connect, h2Request, startH2App} from '../../support/h2-harness.js';
import {within} from '../../../sim/cluster/wait.js';

const cleanups = useCleanups();

async function session(port: number): Promise<ClientHttp2Session> {
  const s = await h2Connect(port);
  cleanups.track(() => closeSession(s));
  return s;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('h2c client -> h2c app', () => {
  it('forwards a POST with a body and the response body unchanged, with X-Forwarded-For and the client authority', async () => {
    const app = await startH2App((stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        stream.respond({':status': 201, 'x-got-bytes': String(body.length), 'x-path': headers[':path']});
        stream.end(Buffer.concat([body, body]));
      });
    });
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url);
    const s = await session(proxy.port);
    const body = randomBytes(300_000);
    const res = await h2Request(s, {':method': 'POST', ':path': '/upload?x=1', 'content-type': 'application/octet-stream'}, {body});
    expect(res.status).toBe(201);
    expect(res.headers['x-got-bytes']).toBe(String(body.length));
    expect(res.headers['x-path']).toBe('/upload?x=1');
    expect(sha(res.body)).toBe(sha(Buffer.concat([body, body])));
    const seen = app.seen[0]!.headers;
    expect(seen['x-forwarded-for']).toBe(HOST);
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen[':authority']).toBe(`${HOST}:${proxy.port}`);
    expect(await proxy.metric('lameduck_h2_streams_total', {phase: 'serving'})).toBe(1);
    expect(await proxy.metric('lameduck_requests_total', {phase: 'serving', code: '2xx'})).toBe(1);
    expect(await proxy.metric('lameduck_connections_total', {protocol: 'h2c'})).toBe(1);
  });

  it('passes trailers both ways and multiplexes streams on one client connection', async () => {
    const app = await startH2App((stream) => {
      let requestTrailers: Record<string, unknown> = {};
      stream.on('trailers', (t) => (requestTrailers = t));
      stream.resume();
      stream.on('end', () => {
        stream.respond({':status': 200}, {waitForTrailers: true});
        stream.once('wantTrailers', () => stream.sendTrailers({'x-checksum': 'abc', 'x-request-trailer': String(requestTrailers['x-client-trailer'])}));
        stream.end('body');
      });
    });
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url);
    const s = await session(proxy.port);
    const results = await Promise.all(
      // The client accepts trailers (TE) and declares its own (Trailer): both are relayed.
      Array.from({length: 20}, (_, i) => h2Request(s, {':method': 'POST', ':path': `/t${i}`, te: 'trailers', trailer: 'x-client-trailer'}, {body: 'x', trailers: {'x-client-trailer': `v${i}`}})),
    );
    results.forEach((r, i) => {
      expect(r.body.toString()).toBe('body');
      expect(r.trailers?.['x-checksum']).toBe('abc');
      expect(r.trailers?.['x-request-trailer']).toBe(`v${i}`);
    });
    // All 20 streams went through one upstream session: multiplexed, not a connection each.
    expect(app.sessions()).toBe(1);
  });

  it("cancels the app's stream when the client resets its stream", async () => {
    const app = await startH2App((stream) => {
      stream.respond({':status': 200});
      stream.write('first');
      // Never ends by itself.
    });
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url);
    const s = await session(proxy.port);
    const req = s.request({':path': '/forever'});
    req.on('error', () => undefined);
    await new Promise<void>((resolve) => req.once('data', () => resolve()));
    req.close(constants.NGHTTP2_CANCEL);
    const code = await within(app.seen[0]!.closed, 5_000, -1);
    expect(code).toBe(constants.NGHTTP2_CANCEL);
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0)).toBe(true);
    expect(await proxy.metric('lameduck_client_aborts_total')).toBe(1);
  });

  it('does not buffer without bound for a client that does not read (flow control end to end)', async () => {
    const total = 40 * 1024 * 1024;
    let written = 0;
    let finished = false;
    const app = await startH2App((stream) => {
      stream.respond({':status': 200});
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!stream.write(chunk)) return void stream.once('drain', pump);
        }
        stream.end();
        finished = true;
      };
      pump();
    });
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url);
    const s = await session(proxy.port);
    const req = s.request({':path': '/big'});
    req.on('error', () => undefined);
    req.pause();
    await sleep(1_500);
    // The app could hand over only what the windows and stream buffers hold (a few MB), not the 40 MB.
    expect(finished).toBe(false);
    expect(written).toBeLessThan(16 * 1024 * 1024);
    // Reading resumes the flow: everything arrives.
    let received = 0;
    req.on('data', (c: Buffer) => (received += c.length));
    req.resume();
    await new Promise<void>((resolve) => req.once('end', () => resolve()));
    expect(received).toBe(total);
  });

  it('a client that stops reading past LAMEDUCK_SEND_TIMEOUT gets its stream reset, and the app its stream cancelled', async () => {
    const app = await startH2App((stream) => {
      stream.respond({':status': 200});
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = (): void => {
        while (!stream.closed && stream.write(chunk));
        if (!stream.closed) stream.once('drain', pump);
      };
      pump();
    });
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url, {LAMEDUCK_SEND_TIMEOUT: '1s'});
    const s = await session(proxy.port);
    const req = s.request({':path': '/never-read'});
    req.on('error', () => undefined);
    req.pause();
    const code = await within(new Promise<number>((resolve) => req.once('close', () => resolve(req.rstCode ?? -1))), 10_000, -2);
    expect(code).toBe(constants.NGHTTP2_CANCEL);
    expect(await within(app.seen[0]!.closed, 5_000, -1)).toBe(constants.NGHTTP2_CANCEL);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'send'})).toBe(1);
  });

  it('an app that answers nothing within LAMEDUCK_UPSTREAM_TIMEOUT: 504, counted as a timeout, its stream cancelled', async () => {
    const app = await startH2App(() => undefined);
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url, {LAMEDUCK_UPSTREAM_TIMEOUT: '400ms'});
    const s = await session(proxy.port);
    const started = performance.now();
    const res = await h2Request(s, {':path': '/slow'});
    // Never before the bound (the timer is armed late, never early); the upper side is left to the deadline above.
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
    expect(res.status).toBe(504);
    expect(await within(app.seen[0]!.closed, 5_000, -1)).toBe(constants.NGHTTP2_CANCEL);
    expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'timeout'})).toBe(1);
  });

  it('answers 502 with a text body when the app is down, counted by reason', async () => {
    const app = await startH2App(() => undefined);
    const url = app.url;
    await app.close();
    const proxy = await cleanups.proxyTo(url);
    const s = await session(proxy.port);
    const res = await h2Request(s, {':path': '/'});
    expect(res.status).toBe(502);
    expect(res.body.toString()).toMatch(/502 .*refused/);
    expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'refused'})).toBe(1);
  });
});

describe('lameduck-made errors for gRPC requests on the wire', () => {
  it('are HTTP 200 trailers-only responses with grpc-status 14 and a grpc-message', async () => {
    const app = await startH2App(() => undefined);
    const url = app.url;
    await app.close();
    const proxy = await cleanups.proxyTo(url);
    const s = await session(proxy.port);
    const res = await h2Request(s, {':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc', te: 'trailers'}, {body: Buffer.from([0, 0, 0, 0, 0])});
    expect(res.status).toBe(200);
    expect(res.headersEndedStream).toBe(true);
    expect(res.headers['grpc-status']).toBe('14');
    expect(res.headers['grpc-message']).toBe('lameduck: upstream refused the connection');
    expect(res.body.length).toBe(0);
  });

  it("RESOURCE_EXHAUSTED (gRPC) or 503 when the app's stream limit is reached and no stream may wait (LAMEDUCK_UPSTREAM_MAX_QUEUE)", async () => {
    const app = await startH2App(
      (stream) => {
        stream.respond({':status': 200});
        stream.write('held'); // never ends: holds the app's only stream slot
      },
      {maxConcurrentStreams: 1},
    );
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url, {LAMEDUCK_UPSTREAM_MAX_SOCKETS: '1', LAMEDUCK_UPSTREAM_MAX_QUEUE: '0'});
    const s = await session(proxy.port);
    const held = s.request({':path': '/hold'});
    held.on('error', () => undefined);
    await new Promise<void>((resolve) => held.once('data', () => resolve()));
    const grpcRes = await h2Request(s, {':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc'}, {body: Buffer.from([0, 0, 0, 0, 0])});
    expect(grpcRes.status).toBe(200);
    expect(grpcRes.headersEndedStream).toBe(true);
    expect(grpcRes.headers['grpc-status']).toBe('8');
    const plain = await h2Request(s, {':path': '/plain'});
    expect(plain.status).toBe(503);
    expect(app.seen).toHaveLength(1);
    held.close(constants.NGHTTP2_CANCEL);
  });
});

describe('the same listener', () => {
  it('still serves HTTP/1.1 (the first bytes decide per connection)', async () => {
    const upstream = await startUpstream((_req, res) => res.end('h1 ok'));
    cleanups.track(() => upstream.close());
    const proxy = await cleanups.proxyTo(upstream.url);
    const res = await fetchBuffer(proxy.port, {path: '/x'});
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('h1 ok');
    expect(await proxy.metric('lameduck_connections_total', {protocol: 'http1'})).toBe(1);
  });

  it('HTTP/1.1 client -> h2c app: body both ways, Host as :authority, Connection: close once the drain began', async () => {
    const app = await startH2App((stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        stream.respond({':status': 200, 'x-authority': headers[':authority'], 'x-method': headers[':method']});
        stream.end(Buffer.concat(chunks));
      });
    });
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url);
    const body = randomBytes(50_000);
    const res = await fetchBuffer(proxy.port, {method: 'POST', path: '/h1', headers: {host: 'api.example', connection: 'keep-alive'}, body});
    expect(res.status).toBe(200);
    expect(sha(res.body)).toBe(sha(body));
    expect(res.headers['x-authority']).toBe('api.example');
    expect(res.headers['x-method']).toBe('POST');
    expect(res.headers.connection).not.toBe('close');
    proxy.setPhase('deregistering');
    const during = await fetchBuffer(proxy.port, {path: '/h1-drain'});
    expect(during.status).toBe(200);
    expect(during.headers.connection).toBe('close');
    expect(await proxy.metric('lameduck_drained_requests_total')).toBe(1);
  });

  it('h2c client -> HTTP/1.1 app: the request and its body reach the app as HTTP/1.1 with Host from :authority', async () => {
    const upstream = await startUpstream((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, {'content-type': 'text/plain', 'x-host': req.headers.host ?? '', 'x-version': req.httpVersion, Connection: 'keep-alive'});
        res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).length}`);
      });
    });
    cleanups.track(() => upstream.close());
    const proxy = await cleanups.proxyTo(upstream.url);
    const s = await session(proxy.port);
    const res = await h2Request(s, {':method': 'PUT', ':path': '/thing', ':authority': 'shop.example'}, {body: randomBytes(10_000)});
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('PUT /thing 10000');
    expect(res.headers['x-host']).toBe('shop.example');
    expect(res.headers['x-version']).toBe('1.1');
    // Connection-specific fields never reach an HTTP/2 client (RFC 9113 §8.2.2).
    expect(res.headers.connection).toBeUndefined();
    expect(res.headers['keep-alive']).toBeUndefined();
  });
});
