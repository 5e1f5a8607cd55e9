/**
 * Bytes the parser rejects, arriving right behind complete requests in the same read (cases the fuzz campaign in
 * bench/fuzz/ found): every complete request before them is answered, in order, and its answer closes the
 * connection; the rejected bytes get no answer that could take an earlier response's place. A request pipelined
 * behind one refused for a missing Host never reaches the app. The parser's own refusals carry no body, so a HEAD
 * client cannot read one as the next response.
 */
import {describe, expect, it} from '@jest/globals';
import {rawExchange, startUpstream, statusCodes, useCleanups, type Proxy, type Upstream} from '../../support/forwarder-harness.js';

const {track, proxyTo} = useCleanups();

async function setup(): Promise<{upstream: Upstream; proxy: Proxy}> {
  const upstream = await startUpstream((req, res) => {
    req.resume();
    res.end(`seen ${req.url}`);
  });
  track(() => upstream.close());
  return {upstream, proxy: await proxyTo(upstream.url)};
}

const seenUrls = (u: Upstream): string[] => u.seen.map((s) => s.url);

describe('bytes the parser rejects behind complete requests', () => {
  it('answer the complete request, then close: no 400 in its place', async () => {
    const {upstream, proxy} = await setup();
    const result = await rawExchange(proxy.port, 'GET /first HTTP/1.1\r\nHost: 0\r\n\r\n wor', 3000);
    expect(statusCodes(result.text)).toEqual([200]);
    expect(result.text).toContain('seen /first');
    expect(result.text.toLowerCase()).toContain('connection: close');
    expect(result.closed).toBe(true);
    expect(seenUrls(upstream)).toEqual(['/first']);
  });

  it('answer every pipelined request before them, in order, and nothing after', async () => {
    const {upstream, proxy} = await setup();
    const result = await rawExchange(proxy.port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nX\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n', 3000);
    expect(statusCodes(result.text)).toEqual([200, 200]);
    expect(result.text.indexOf('seen /a')).toBeLessThan(result.text.indexOf('seen /b'));
    expect(result.closed).toBe(true);
    expect(seenUrls(upstream).sort()).toEqual(['/a', '/b']);
  });

  it('drop a pipelined POST whose chunked body is malformed, after answering the request ahead of it', async () => {
    const {upstream, proxy} = await setup();
    const bytes = 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n+b\r\nhello world\r\n0\r\n\r\n';
    const result = await rawExchange(proxy.port, bytes, 3000);
    expect(statusCodes(result.text)).toEqual([200]);
    expect(result.text).toContain('seen /a');
    expect(result.closed).toBe(true);
    expect(seenUrls(upstream)).toEqual(['/a']);
  });

  it('drop a pipelined OPTIONS (safe, so already forwarded) whose chunked body is malformed; the app never gets it whole', async () => {
    const {upstream, proxy} = await setup();
    const bytes = 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0 \r\n\r\n';
    const result = await rawExchange(proxy.port, bytes, 3000);
    expect(statusCodes(result.text)).toEqual([200]);
    expect(result.text).toContain('seen /a');
    expect(result.closed).toBe(true);
    expect(upstream.completed()).toBe(1);
  });

  it('answer the request ahead of a pipelined CONNECT, then close, instead of a 405 in its place', async () => {
    const {upstream, proxy} = await setup();
    const result = await rawExchange(proxy.port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nCONNECT x.example:443 HTTP/1.1\r\nHost: x.example\r\n\r\n', 3000);
    expect(statusCodes(result.text)).toEqual([200]);
    expect(result.text).toContain('seen /a');
    expect(result.closed).toBe(true);
    expect(seenUrls(upstream)).toEqual(['/a']);
  });
});

describe('a request the guard refuses', () => {
  it('closes the connection: a request behind its body never reaches the app', async () => {
    const {upstream, proxy} = await setup();
    const result = await rawExchange(proxy.port, 'POST /a HTTP/1.1\r\nHost: a@b\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n', 3000);
    expect(statusCodes(result.text)).toEqual([400]);
    expect(result.closed).toBe(true);
    expect(seenUrls(upstream)).toEqual([]);
  });
});

describe('a pipelined request the guard refuses behind requests in flight', () => {
  it.each([
    ['an invalid Host', 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: a/b\r\n\r\n', 3],
    ['a chunked coding with parameters', 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;a=b\r\n\r\nB\r\nhello world\r\n0\r\n\r\n', 2],
  ])('%s: the requests ahead are answered first, then its refusal closes the connection', async (_name, bytes, count) => {
    const {upstream, proxy} = await setup();
    const result = await rawExchange(proxy.port, bytes, 3000);
    const codes = statusCodes(result.text);
    expect(codes).toHaveLength(count);
    expect(codes.at(-1)).toBe(400);
    expect(codes.slice(0, -1).every((c) => c === 200)).toBe(true);
    expect(result.closed).toBe(true);
    const answered = [...result.text.matchAll(/seen (\/[a-c])/g)].map((m) => m[1]);
    expect(seenUrls(upstream).sort()).toEqual(answered.sort());
  });
});

describe('a request without Host', () => {
  it('is refused, and a request pipelined behind it never reaches the app', async () => {
    const {upstream, proxy} = await setup();
    const result = await rawExchange(proxy.port, 'GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n', 3000);
    expect(statusCodes(result.text)).toEqual([400]);
    expect(result.closed).toBe(true);
    expect(seenUrls(upstream)).toEqual([]);
  });

  it('is still fine for HTTP/1.0, which has no Host requirement', async () => {
    const {upstream, proxy} = await setup();
    const result = await rawExchange(proxy.port, 'GET /old HTTP/1.0\r\n\r\n', 3000);
    expect(statusCodes(result.text)).toEqual([200]);
    expect(seenUrls(upstream)).toEqual(['/old']);
  });
});

describe("the parser's refusals", () => {
  it.each([
    ['an invalid target on a HEAD: 400', 'HEAD m HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a HEAD with a 17 000-byte target: 431', `HEAD /${'a'.repeat(17_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
  ])('%s, with no body after the head', async (_name, bytes, status) => {
    const {upstream, proxy} = await setup();
    const result = await rawExchange(proxy.port, bytes, 3000);
    expect(statusCodes(result.text)).toEqual([status]);
    expect(result.text).toMatch(/content-length: 0\r\n/i);
    expect(result.text.endsWith('\r\n\r\n')).toBe(true);
    expect(seenUrls(upstream)).toEqual([]);
  });
});
