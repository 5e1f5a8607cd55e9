/**
 * Requests RFC 9112 says a server must refuse, and a response it must not pass on, each sent as the exact bytes over a
 * raw socket: the client gets the refusal, the app never sees the request. Also what lameduck writes into the
 * X-Forwarded-* fields when a client sends its own, and the upstream timeout against an app that answers only with
 * `102 Processing`.
 */
import {describe, expect, it} from '@jest/globals';
import {HOST, rawExchange, startUpstream, statusCodes, useCleanups, type Proxy, type Upstream} from '../../support/forwarder-harness.js';

const {track, proxyTo} = useCleanups();

/** An app that answers every request with its URL, sends 102 forever on /processing, and a bare status on /status/N. */
async function app(): Promise<Upstream> {
  const upstream = await startUpstream(
    (req, res) => {
      const url = req.url ?? '/';
      req.resume();
      if (url === '/processing') {
        const timer = setInterval(() => res.writeProcessing(), 200);
        res.on('close', () => clearInterval(timer));
        return;
      }
      const status = /^\/status\/(\d+)$/.exec(url);
      if (status) {
        res.writeHead(Number(status[1]), {'content-length': '2'});
        res.end('hi');
        return;
      }
      res.end(`seen ${url}`);
    },
    {webSocketEcho: true},
  );
  track(() => upstream.close());
  return upstream;
}

const seenUrls = (u: Upstream): string[] => u.seen.map((s) => s.url);

async function setup(env: Record<string, string> = {}): Promise<{upstream: Upstream; proxy: Proxy}> {
  const upstream = await app();
  return {upstream, proxy: await proxyTo(upstream.url, env)};
}

const WS_HANDSHAKE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

describe('requests RFC 9112 says to refuse never reach the app', () => {
  it.each([
    ['Transfer-Encoding: gzip, chunked (a coding lameduck does not implement): 501', 'POST /te-gzip HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 501],
    ['a WebSocket handshake with Transfer-Encoding: xchunked: 400', `GET /ws-te HTTP/1.1\r\nHost: x\r\n${WS_HANDSHAKE}Transfer-Encoding: xchunked\r\n\r\n`, 400],
    ['two Host fields: 400', 'GET /two-hosts HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n', 400],
    ['an invalid Host: 400', 'GET /bad-host HTTP/1.1\r\nHost: x/../@evil\r\n\r\n', 400],
    ['a WebSocket handshake with two Host fields: 400', `GET /ws-hosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n${WS_HANDSHAKE}\r\n`, 400],
    ['an HTTP/2.0 request line: 505', 'GET /v2 HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['an HTTP/0.9 request line: 400', 'GET /v09\r\n\r\n', 400],
    ['TRACE (it would echo the cookies back): 405', 'TRACE /trace HTTP/1.1\r\nHost: x\r\nCookie: session=secret\r\n\r\n', 405],
  ])('%s', async (_name, bytes, status) => {
    const {upstream, proxy} = await setup();
    const path = /^[A-Z]+ (\S+)/.exec(bytes)![1]!;
    const result = await rawExchange(proxy.port, bytes, 3000);
    expect(statusCodes(result.text)).toEqual([status]);
    expect(result.closed).toBe(true);
    expect(seenUrls(upstream)).not.toContain(path);
    expect(await proxy.metric('lameduck_bad_requests_total')).toBe(1);
    if (status === 405) expect(result.text).toMatch(/\r\nAllow: GET, HEAD, POST/);
    // The proxy still serves a well-formed request.
    expect(statusCodes((await rawExchange(proxy.port, 'GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 3000)).text)).toEqual([200]);
  });
});

describe('X-Forwarded-* a client sends', () => {
  it('X-Forwarded-Proto and -Port are single values: one well-formed client value kept, else http and the listening port', async () => {
    const {upstream, proxy} = await setup();
    await rawExchange(proxy.port, 'GET /xf1 HTTP/1.1\r\nHost: shop.example:8443\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n', 3000);
    let h = upstream.seen.at(-1)!.headers;
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-port']).toBe(String(proxy.port));
    await rawExchange(proxy.port, 'GET /xf2 HTTP/1.1\r\nHost: shop.example:8443\r\nX-Forwarded-Proto: https,http\r\nX-Forwarded-Port: 1,2\r\nConnection: close\r\n\r\n', 3000);
    h = upstream.seen.at(-1)!.headers;
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-port']).toBe(String(proxy.port));
    // The same on a WebSocket handshake (http-proxy alone would append `ws` to the client's value).
    const ws = await rawExchange(proxy.port, `GET /xf-ws HTTP/1.1\r\nHost: shop.example:8443\r\n${WS_HANDSHAKE}X-Forwarded-Proto: https\r\n\r\n`, 1000);
    expect(statusCodes(ws.text)).toEqual([101]);
    h = upstream.seen.at(-1)!.headers;
    expect(upstream.seen.at(-1)!.url).toBe('/xf-ws');
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-port']).toBe(String(proxy.port));
  });

  it('Connection: X-Forwarded-For does not remove X-Forwarded-For, on a plain request or a WebSocket handshake', async () => {
    const {upstream, proxy} = await setup();
    await rawExchange(proxy.port, 'GET /xff HTTP/1.1\r\nHost: x\r\nConnection: close, X-Forwarded-For\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n', 3000);
    expect(upstream.seen.at(-1)!.headers['x-forwarded-for']).toBe(`203.0.113.9,${HOST}`);
    const ws = await rawExchange(proxy.port, `GET /xff-ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, X-Forwarded-For\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n`, 1000);
    expect(statusCodes(ws.text)).toEqual([101]);
    expect(upstream.seen.at(-1)!.url).toBe('/xff-ws');
    expect(upstream.seen.at(-1)!.headers['x-forwarded-for']).toBe(`203.0.113.9,${HOST}`);
  });
});

describe('what the app answers', () => {
  it('102 Processing every 200 ms does not hold the request past the upstream timeout: 504', async () => {
    const {proxy} = await setup({LAMEDUCK_UPSTREAM_TIMEOUT: '1s'});
    const result = await rawExchange(proxy.port, 'GET /processing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 15_000);
    expect(statusCodes(result.text)).toEqual([504]);
    expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'timeout'})).toBe(1);
  });

  it.each([600, 999])('status %s is not passed on: 502 bad_response', async (status) => {
    const {proxy} = await setup();
    const result = await rawExchange(proxy.port, `GET /status/${status} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 3000);
    expect(statusCodes(result.text)).toEqual([502]);
    expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'bad_response'})).toBe(1);
  });
});
