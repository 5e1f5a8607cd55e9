/**
 * Through the proxy and direct give identical results: 10 MB bodies both ways (hash compared), a chunked streaming
 * response arriving incrementally, a request body streamed (not buffered) to the app, and 100 concurrent keep-alive
 * clients each getting their own answers.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {randomBytes} from 'node:crypto';
import {Agent, request} from 'node:http';
import {PassThrough} from 'node:stream';
import {fetchBuffer, HOST, sha256, startProxy, startUpstream, waitFor, type Proxy, type Upstream} from '../../support/forwarder-harness.js';

const TEN_MB = 10 * 1024 * 1024;
const big = randomBytes(TEN_MB);
let upstream: Upstream;
let proxy: Proxy;
/** Bytes of the current /upload body the app has received so far (to observe streaming). */
let uploadReceived = 0;

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const url = req.url ?? '/';
    if (url === '/big') {
      res.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': String(big.length)});
      res.end(big);
    } else if (url === '/upload') {
      const hash = (async () => {
        const {createHash} = await import('node:crypto');
        const h = createHash('sha256');
        uploadReceived = 0;
        for await (const chunk of req) {
          uploadReceived += (chunk as Buffer).length;
          h.update(chunk as Buffer);
        }
        return h.digest('hex');
      })();
      void hash.then((digest) => {
        res.writeHead(200, {'content-type': 'text/plain'});
        res.end(`${req.method} ${uploadReceived} ${digest} ${req.headers['transfer-encoding'] ?? 'cl=' + req.headers['content-length']}`);
      });
    } else if (url.startsWith('/stream')) {
      res.writeHead(200, {'content-type': 'text/plain'});
      let i = 0;
      const timer = setInterval(() => {
        res.write(`chunk ${i}\n`);
        if (++i === 5) {
          clearInterval(timer);
          res.end();
        }
      }, 120);
      res.on('close', () => clearInterval(timer));
    } else if (url.startsWith('/echo/')) {
      // Answers after a little while so that many requests are in flight together.
      setTimeout(() => res.end(`you asked for ${url}`), 5 + (url.length % 7));
    } else {
      res.end('hello');
    }
  });
  proxy = await startProxy(upstream.url);
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

describe('forwarder transparency', () => {
  it('GET of a 10 MB body: same status, length and SHA-256 as direct', async () => {
    const direct = await fetchBuffer(upstream.port, {path: '/big'});
    const proxied = await fetchBuffer(proxy.port, {path: '/big'});
    expect(direct.body.length).toBe(TEN_MB);
    expect(proxied.status).toBe(direct.status);
    expect(proxied.headers['content-length']).toBe(direct.headers['content-length']);
    expect(sha256(proxied.body)).toBe(sha256(direct.body));
    expect(sha256(proxied.body)).toBe(sha256(big));
  });

  it.each([
    ['with Content-Length', {'content-length': String(TEN_MB)}],
    ['chunked', {}],
  ])('POST of a 10 MB body %s: the app receives the same bytes as direct', async (_name, headers) => {
    const send = (port: number) => {
      // Written in 64 KiB pieces through a stream, so that the client sends it progressively.
      const body = new PassThrough();
      const done = fetchBuffer(port, {method: 'POST', path: '/upload', headers, body});
      for (let off = 0; off < big.length; off += 65536) body.write(big.subarray(off, off + 65536));
      body.end();
      return done;
    };
    const direct = await send(upstream.port);
    const proxied = await send(proxy.port);
    expect(direct.body.toString()).toContain(`POST ${TEN_MB} ${sha256(big)}`);
    expect(proxied.status).toBe(200);
    expect(proxied.body.toString()).toBe(direct.body.toString());
  });

  it('streams the request body: the app has the first megabyte before the client sent the rest', async () => {
    const body = new PassThrough();
    const done = fetchBuffer(proxy.port, {method: 'PUT', path: '/upload', body, headers: {'content-length': String(2 * 1024 * 1024)}});
    body.write(big.subarray(0, 1024 * 1024));
    // The client holds back the second half until the app has seen the first (bounded wait): a proxy that buffers
    // the body would pass nothing on before the end.
    const arrived = await waitFor(() => uploadReceived >= 1024 * 1024, 5000);
    body.end(big.subarray(1024 * 1024, 2 * 1024 * 1024));
    const res = await done;
    expect(arrived).toBe(true);
    expect(res.body.toString()).toContain(`PUT ${2 * 1024 * 1024} ${sha256(big.subarray(0, 2 * 1024 * 1024))}`);
  });

  it('relays a chunked streaming response incrementally, with the same content as direct', async () => {
    const receive = (port: number) =>
      new Promise<{body: string; arrivals: number[]; chunked: boolean}>((resolve, reject) => {
        const started = performance.now();
        const arrivals: number[] = [];
        let body = '';
        request({host: HOST, port, path: '/stream', agent: false}, (res) => {
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            arrivals.push(performance.now() - started);
            body += c;
          });
          res.on('end', () => resolve({body, arrivals, chunked: res.headers['transfer-encoding'] === 'chunked'}));
        })
          .on('error', reject)
          .end();
      });
    const direct = await receive(upstream.port);
    const proxied = await receive(proxy.port);
    expect(proxied.body).toBe(direct.body);
    expect(proxied.body.split('\n').filter(Boolean)).toHaveLength(5);
    expect(proxied.chunked).toBe(true);
    // Five chunks written 120 ms apart: a buffering proxy would deliver them in one go at the end.
    expect(proxied.arrivals.length).toBeGreaterThanOrEqual(3);
    expect(proxied.arrivals[proxied.arrivals.length - 1]! - proxied.arrivals[0]!).toBeGreaterThan(200);
  });

  it('100 concurrent keep-alive clients each get their own answers, the same as direct', async () => {
    const run = async (port: number) => {
      const agent = new Agent({keepAlive: true, maxSockets: 100});
      try {
        const clients = Array.from({length: 100}, async (_, c) => {
          const bodies: string[] = [];
          for (let r = 0; r < 5; r++) {
            const res = await fetchBuffer(port, {path: `/echo/${c}/${r}`, agent});
            bodies.push(`${res.status} ${res.body.toString()}`);
          }
          return bodies;
        });
        return await Promise.all(clients);
      } finally {
        agent.destroy();
      }
    };
    const connectionsBefore = upstream.connections();
    const proxied = await run(proxy.port);
    const direct = await run(upstream.port);
    expect(proxied).toEqual(direct);
    expect(proxied[42]![3]).toBe('200 you asked for /echo/42/3');
    // The upstream pool reused its sockets: far fewer upstream connections than the 500 requests.
    expect(upstream.connections() - connectionsBefore).toBeLessThan(300);
    expect(proxy.forwarder.stats().served).toBeGreaterThanOrEqual(500);
  });
});
