/**
 * Header handling: X-Forwarded-For/-Proto/-Host/-Port added, hop-by-hop headers (RFC 9110 §7.6.1) removed in both
 * directions while end-to-end ones (repeated Set-Cookie, case) pass, trailers relayed, absolute-form targets
 * (RFC 9112 §3.2.2) forwarded in origin-form, `OPTIONS *` answered by the proxy, HTTP/1.0 clients framed correctly.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {fetchBuffer, HOST, rawExchange, startProxy, startUpstream, statusCodes, type Proxy, type Upstream} from '../../support/forwarder-harness.js';
import {connect} from 'node:net';

let upstream: Upstream;
let proxy: Proxy;

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = req.url ?? '/';
      if (url === '/hop') {
        res.writeHead(200, [
          'Content-Type', 'text/plain',
          'Connection', 'X-Hop-Res',
          'X-Hop-Res', 'secret',
          'Keep-Alive', 'timeout=5, max=1000',
          'Proxy-Connection', 'keep-alive',
          'Upgrade', 'foo/1',
          'Set-Cookie', 'a=1',
          'Set-Cookie', 'b=2',
          'X-CamelCase', 'kept',
        ]);
        res.end('ok');
      } else if (url === '/trailers') {
        res.writeHead(200, {'Content-Type': 'text/plain', Trailer: 'X-Checksum'});
        res.write('part 1\n');
        res.addTrailers({'X-Checksum': 'abc123'});
        res.end('part 2\n');
      } else if (url === '/chunked') {
        res.write('no length, ');
        res.end('so chunked to 1.1 clients');
      } else {
        res.end(`seen ${req.method} ${url}`);
      }
    });
  });
  proxy = await startProxy(upstream.url);
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

const last = () => upstream.seen.at(-1)!;

describe('forwarder headers', () => {
  it("adds X-Forwarded-For (appending to the client value), -Proto, -Host, and -Port (lameduck's listening port)", async () => {
    await fetchBuffer(proxy.port, {path: '/xf', headers: {host: 'shop.example:8443', 'x-forwarded-for': '203.0.113.9'}});
    expect(last().headers['x-forwarded-for']).toBe(`203.0.113.9,${HOST}`);
    expect(last().headers['x-forwarded-proto']).toBe('http');
    expect(last().headers['x-forwarded-host']).toBe('shop.example:8443');
    // The port the connection arrived on, not the one the client wrote in Host.
    expect(last().headers['x-forwarded-port']).toBe(String(proxy.port));
    // The app sees the Host the client asked for.
    expect(last().headers.host).toBe('shop.example:8443');
  });

  it('removes hop-by-hop request headers, including those named by Connection, and keeps TE: trailers', async () => {
    await fetchBuffer(proxy.port, {
      path: '/req-hop',
      headers: {
        connection: 'keep-alive, X-Hop-Req, x-forwarded-for',
        'x-hop-req': 'secret',
        'x-forwarded-for': '198.51.100.1',
        'keep-alive': '300',
        'proxy-connection': 'keep-alive',
        te: 'trailers, deflate;q=0.5',
        upgrade: 'foo/1',
        'x-end-to-end': 'kept',
      },
    });
    const h = last().headers;
    expect(h['x-hop-req']).toBeUndefined();
    expect(h['keep-alive']).toBeUndefined();
    expect(h['proxy-connection']).toBeUndefined();
    expect(h.upgrade).toBeUndefined();
    expect(h.te).toBe('trailers');
    expect(h['x-end-to-end']).toBe('kept');
    // Connection only carries the proxy's own connection option to the app.
    expect(h.connection).toBe('keep-alive');
    // Connection cannot remove X-Forwarded-For: it is end-to-end, and the proxy extends it.
    expect(h['x-forwarded-for']).toBe(`198.51.100.1,${HOST}`);
  });

  it('never lets Connection remove the framing: a body announced by Content-Length still arrives whole', async () => {
    const res = await fetchBuffer(proxy.port, {
      method: 'POST',
      path: '/framing',
      headers: {connection: 'content-length, transfer-encoding, host', 'content-length': '11'},
      body: 'hello world',
    });
    expect(res.body.toString()).toBe('seen POST /framing');
    expect(last().headers['content-length']).toBe('11');
    expect(upstream.completed()).toBeGreaterThan(0);
  });

  it('sends a POST without a body to the app with Content-Length: 0, not as a chunked body', async () => {
    // A raw request: node's own client would add Content-Length itself.
    const sock = connect(proxy.port, HOST);
    const answer = new Promise<string>((resolve) => {
      let out = '';
      sock.on('data', (d) => (out += d.toString('latin1')));
      sock.on('close', () => resolve(out));
    });
    sock.write('POST /logout HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n');
    expect(await answer).toContain('seen POST /logout');
    expect(last().headers['content-length']).toBe('0');
    expect(last().headers['transfer-encoding']).toBeUndefined();
  });

  it('removes hop-by-hop response headers and keeps repeated and case-preserved end-to-end ones', async () => {
    const res = await fetchBuffer(proxy.port, {path: '/hop'});
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ok');
    const names = res.rawHeaders.filter((_, i) => i % 2 === 0);
    expect(res.headers['x-hop-res']).toBeUndefined();
    expect(res.headers['proxy-connection']).toBeUndefined();
    expect(res.headers.upgrade).toBeUndefined();
    // The proxy's own keep-alive answer, not the app's.
    expect(res.headers['keep-alive'] ?? '').not.toContain('max=1000');
    expect(res.headers.connection).not.toContain('X-Hop-Res');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(names).toContain('X-CamelCase');
  });

  it('relays response trailers to an HTTP/1.1 client', async () => {
    const direct = await fetchBuffer(upstream.port, {path: '/trailers'});
    const proxied = await fetchBuffer(proxy.port, {path: '/trailers'});
    expect(proxied.body.toString()).toBe(direct.body.toString());
    expect(proxied.trailers['x-checksum']).toBe('abc123');
  });

  it('frames a response without length for an HTTP/1.0 client by closing the connection (no chunked coding)', async () => {
    const res = await rawExchange(proxy.port, 'GET /chunked HTTP/1.0\r\n\r\n');
    expect(statusCodes(res.text)).toEqual([200]);
    expect(res.text).not.toMatch(/transfer-encoding/i);
    expect(res.text.endsWith('no length, so chunked to 1.1 clients')).toBe(true);
    expect(res.closed).toBe(true);
  });

  it('forwards an absolute-form target in origin-form with the Host of the target (RFC 9112 §3.2.2)', async () => {
    const res = await rawExchange(proxy.port, 'GET http://app.example:8080/path/x?q=1 HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n');
    expect(statusCodes(res.text)).toEqual([200]);
    expect(res.text).toContain('seen GET /path/x?q=1');
    expect(last().url).toBe('/path/x?q=1');
    expect(last().headers.host).toBe('app.example:8080');

    const bare = await rawExchange(proxy.port, 'GET http://app.example HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n');
    expect(bare.text).toContain('seen GET /');
    expect(last().url).toBe('/');
  });

  it.each([
    ['a non-http scheme', 'GET ftp://app.example/x HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['userinfo in the target', 'GET http://user:pw@app.example/x HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['an asterisk with GET', 'GET * HTTP/1.1\r\nHost: x\r\n\r\n'],
  ])('answers 400 to %s without bothering the app', async (_name, raw) => {
    const before = upstream.seen.length;
    const res = await rawExchange(proxy.port, raw, 500);
    expect(statusCodes(res.text)).toEqual([400]);
    expect(upstream.seen.length).toBe(before);
  });

  it('answers OPTIONS * itself (200), and the connection stays usable', async () => {
    const before = upstream.seen.length;
    const res = await rawExchange(proxy.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(statusCodes(res.text)).toEqual([200, 200]);
    expect(res.text).toContain('seen GET /after');
    expect(upstream.seen.length).toBe(before + 1);
  });
});
