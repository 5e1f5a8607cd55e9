/**
 * Pipelined requests (RFC 9112 §9.3.2, §9.6): after a response that carries `Connection: close` no later request on
 * that connection is forwarded; unsafe requests are forwarded one at a time, never beside another; safe ones may run
 * in parallel; and one connection cannot queue requests without bound.
 */
import {describe, expect, it} from '@jest/globals';
import type {IncomingMessage} from 'node:http';
import {rawExchange, startUpstream, statusCodes, useCleanups, waitFor} from '../../support/forwarder-harness.js';

const {track, proxyTo} = useCleanups();

/** An app that holds each request `holdMs` and records how many it had at once. */
async function app(holdMs: number) {
  let active = 0;
  let maxActive = 0;
  const upstream = await startUpstream((req: IncomingMessage, res) => {
    active++;
    maxActive = Math.max(maxActive, active);
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        active--;
        res.end(`done ${req.method} ${req.url}\n`);
      }, holdMs),
    );
  });
  track(() => upstream.close());
  return {upstream, maxActive: () => maxActive};
}

const post = (path: string): string => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi`;
const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

describe('pipelining', () => {
  it('during a drain, three pipelined POSTs in one write: the answered one reaches the app once, the others never', async () => {
    const {upstream} = await app(50);
    const proxy = await proxyTo(upstream.url);
    proxy.setPhase('deregistering');
    const result = await rawExchange(proxy.port, post('/p1') + post('/p2') + post('/p3'), 3000);
    expect(statusCodes(result.text)).toEqual([200]);
    expect(result.text).toMatch(/\r\nConnection: close\r\n/i);
    expect(result.closed).toBe(true);
    // Give a late forward every chance to show up.
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0, 5000)).toBe(true);
    expect(upstream.seen.map((s) => s.url)).toEqual(['/p1']);
    expect(await proxy.metric('lameduck_refused_requests_total', {reason: 'after_close'})).toBe(2);
    expect(await proxy.metric('lameduck_client_aborts_total')).toBe(0);
  });

  it("after the client's own Connection: close, a pipelined request is not forwarded", async () => {
    const {upstream} = await app(50);
    const proxy = await proxyTo(upstream.url);
    const result = await rawExchange(proxy.port, `GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n${get('/after')}`, 3000);
    expect(statusCodes(result.text)).toEqual([200]);
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0, 5000)).toBe(true);
    expect(upstream.seen.map((s) => s.url)).toEqual(['/last']);
    expect(await proxy.metric('lameduck_refused_requests_total', {reason: 'after_close'})).toBe(1);
    expect(await proxy.metric('lameduck_bad_requests_total')).toBe(0);
  });

  it('outside a drain, pipelined POSTs reach the app one at a time, each once, answered in order', async () => {
    const {upstream, maxActive} = await app(200);
    const proxy = await proxyTo(upstream.url);
    const result = await rawExchange(proxy.port, post('/a') + post('/b') + post('/c') + `GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 10_000);
    expect(statusCodes(result.text)).toEqual([200, 200, 200, 200]);
    expect([...result.text.matchAll(/done (\w+ \/\w+)/g)].map((m) => m[1])).toEqual(['POST /a', 'POST /b', 'POST /c', 'GET /end']);
    expect(upstream.seen.map((s) => s.url)).toEqual(['/a', '/b', '/c', '/end']);
    expect(maxActive()).toBe(1);
  });

  it('pipelined GETs still run in parallel (safe methods), answered in order', async () => {
    const {upstream, maxActive} = await app(300);
    const proxy = await proxyTo(upstream.url);
    const result = await rawExchange(proxy.port, get('/g1') + get('/g2') + `GET /g3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 10_000);
    expect(statusCodes(result.text)).toEqual([200, 200, 200]);
    expect([...result.text.matchAll(/done GET (\/\w+)/g)].map((m) => m[1])).toEqual(['/g1', '/g2', '/g3']);
    expect(maxActive()).toBe(3);
  });

  it('past LAMEDUCK_MAX_PIPELINED in flight, the connection closes after the answered ones; the rest never reach the app', async () => {
    const {upstream} = await app(200);
    const proxy = await proxyTo(upstream.url, {LAMEDUCK_MAX_PIPELINED: '2'});
    const result = await rawExchange(proxy.port, get('/l1') + get('/l2') + get('/l3') + get('/l4'), 5000);
    expect(statusCodes(result.text)).toEqual([200, 200]);
    expect(result.closed).toBe(true);
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0, 5000)).toBe(true);
    expect(upstream.seen.map((s) => s.url)).toEqual(['/l1', '/l2']);
    expect(await proxy.metric('lameduck_refused_requests_total', {reason: 'pipeline_limit'})).toBe(2);
  });
});
