/**
 * Hostile and malformed requests over raw sockets (docs/reliability.md "hostile input"): each gets a 4xx or a
 * closed connection, no complete malformed request reaches the app (counted upstream), and the proxy keeps serving a
 * normal request afterwards. Node's strict parser (insecureHTTPParser off) does most of the work; these tests prove
 * that the proxy keeps it that way and closes the gaps it leaves (request-guard.ts, the DELETE/OPTIONS body).
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {fetchBuffer, rawExchange, startProxy, startUpstream, statusCodes, type Proxy, type Upstream} from '../../support/forwarder-harness.js';

let upstream: Upstream;
let proxy: Proxy;
const bodies: {method: string; url: string; body: string}[] = [];

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push({method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString('latin1')});
      res.end(`ok ${req.method} ${req.url}`);
    });
  });
  proxy = await startProxy(upstream.url, {LAMEDUCK_HEADERS_TIMEOUT: '400ms', LAMEDUCK_REQUEST_TIMEOUT: '800ms'});
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

const H = 'Host: app.example\r\n';
const manyHeaders = Array.from({length: 300}, (_, i) => `X-H${i}: v\r\n`).join('');
const smuggled = `GET /smuggled HTTP/1.1\r\n${H}\r\n`;

/** [name, raw request, whether the request head may reach the app before the parser fails on the body] */
const CASES: [string, string, boolean][] = [
  ['NUL byte in a header value', `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, false],
  ['space in a header name', `GET / HTTP/1.1\r\n${H}X A: b\r\n\r\n`, false],
  ['space before the colon of Transfer-Encoding', `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, false],
  ['obsolete line folding', `GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`, false],
  ['bare LF line endings', `GET / HTTP/1.1\n${H.trim()}\n\n`, false],
  ['oversize header (32 KiB)', `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(32 * 1024)}\r\n\r\n`, false],
  ['oversize URL (32 KiB)', `GET /${'a'.repeat(32 * 1024)} HTTP/1.1\r\n${H}\r\n`, false],
  ['300 header fields', `GET / HTTP/1.1\r\n${H}${manyHeaders}\r\n`, false],
  ['CL.TE smuggling', `POST / HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`, false],
  ['TE.CL smuggling', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n`, false],
  ['duplicate Content-Length, different values', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`, false],
  ['duplicate Content-Length, same value', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`, false],
  ['Content-Length list', `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`, false],
  ['negative Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, false],
  ['chunked not the last coding', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, false],
  ['two Transfer-Encoding fields', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`, false],
  ['unknown coding "xchunked"', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, false],
  ['Transfer-Encoding: identity', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\nhello`, false],
  ['invalid chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`, true],
  ['chunk data longer than its size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n`, true],
  ['huge chunk extensions', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;${'e'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n`, true],
  // The preface selects HTTP/2 (h2c); what follows is no HTTP/2 frame: a connection error (GOAWAY), never a request.
  ['HTTP/2 preface then HTTP/1.1 bytes', `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`, false],
  ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\n\r\n', false],
  ['invalid method token', `G@T / HTTP/1.1\r\n${H}\r\n`, false],
  ['CONNECT tunnel request', `CONNECT app.example:443 HTTP/1.1\r\n${H}\r\n`, false],
];

describe('forwarder malformed requests', () => {
  it.each(CASES)('%s: a 4xx or a closed connection, never a complete request upstream, and the proxy keeps serving', async (_name, raw, headMayReach) => {
    const seenBefore = upstream.seen.length;
    const completedBefore = upstream.completed();
    const res = await rawExchange(proxy.port, raw, 2000);
    const codes = statusCodes(res.text);
    // Exactly one answer, a 4xx, or nothing at all; either way the connection is closed.
    expect(codes.length).toBeLessThanOrEqual(1);
    if (codes.length === 1) {
      expect(codes[0]).toBeGreaterThanOrEqual(400);
      expect(codes[0]).toBeLessThan(500);
    }
    expect(res.closed).toBe(true);
    expect(upstream.completed()).toBe(completedBefore);
    if (!headMayReach) expect(upstream.seen.length).toBe(seenBefore);
    expect(bodies.some((b) => b.url === '/smuggled')).toBe(false);

    const after = await fetchBuffer(proxy.port, {path: '/after'});
    expect(after.status).toBe(200);
    expect(after.body.toString()).toBe('ok GET /after');
  });

  it('counts parser rejections as bad requests', async () => {
    expect(await proxy.metric('lameduck_bad_requests_total')).toBeGreaterThanOrEqual(CASES.length - 3);
  });

  it.each(['DELETE', 'OPTIONS', 'GET'])('%s with a chunked body holding a request: the app gets one request with that body', async (method) => {
    const embedded = smuggled;
    const raw = `${method} /with-body HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${embedded.length.toString(16)}\r\n${embedded}\r\n0\r\n\r\n`;
    const before = bodies.length;
    const res = await rawExchange(proxy.port, raw + `GET /next HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, 2000);
    expect(statusCodes(res.text)).toEqual([200, 200]);
    const got = bodies.slice(before);
    expect(got.map((b) => `${b.method} ${b.url}`)).toEqual([`${method} /with-body`, 'GET /next']);
    expect(got[0]!.body).toBe(embedded);
  });

  it('slowloris: headers not complete within the headers timeout get 408 and a closed connection', async () => {
    const t0 = performance.now();
    // Sends half a request head and then nothing; rawExchange waits up to 5 s for the server to act.
    const res = await rawExchange(proxy.port, `GET / HTTP/1.1\r\n${H}X-Slow: `, 5000);
    const took = performance.now() - t0;
    expect(res.closed).toBe(true);
    expect(statusCodes(res.text)).toEqual([408]);
    expect(took).toBeGreaterThanOrEqual(300);
    expect(took).toBeLessThan(4000);
  });
});
