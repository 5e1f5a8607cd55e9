/**
 * A client that goes away aborts its upstream request: the app sees `close` (http-proxy 1.18.1 leaked these; the
 * docs/design.md reason for http-proxy-3), and the abort is counted. Four cases: mid-response-stream, before the response
 * head, mid-upload, and a pipelining client with requests queued behind each other.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {request} from 'node:http';
import {connect} from 'node:net';
import {HOST, startProxy, startUpstream, waitFor, type Proxy, type Upstream} from '../../support/forwarder-harness.js';

let upstream: Upstream;
let proxy: Proxy;
/** Per path: the app saw `close` on the response before it ended. */
const upstreamClosed = new Map<string, boolean>();

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const url = req.url ?? '/';
    upstreamClosed.set(url, false);
    res.on('close', () => upstreamClosed.set(url, !res.writableFinished));
    if (url === '/stream') {
      res.writeHead(200, {'content-type': 'text/plain'});
      let i = 0;
      const timer = setInterval(() => {
        res.write(`chunk ${i++}\n`);
        if (i === 400) {
          clearInterval(timer);
          res.end();
        }
      }, 25);
      res.on('close', () => clearInterval(timer));
    } else if (url === '/upload') {
      req.resume(); // answers only when the body ends
      req.on('end', () => res.end('got it'));
    } else {
      // /never: reads the request, answers in 20 s (the test does not wait for it)
      req.resume();
      const timer = setTimeout(() => res.end('late'), 20_000);
      res.on('close', () => clearTimeout(timer));
    }
  });
  proxy = await startProxy(upstream.url);
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

describe('forwarder client abort', () => {
  it('mid-stream: the upstream response sees close, the abort is counted, nothing stays in flight', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request({host: HOST, port: proxy.port, path: '/stream', agent: false}, (res) => {
        res.once('data', () => {
          req.destroy(); // the client goes away after the first chunk
          resolve();
        });
      });
      req.on('error', () => {});
      req.setTimeout(5000, () => reject(new Error('no first chunk')));
      req.end();
    });
    expect(await waitFor(() => upstreamClosed.get('/stream') === true, 5000)).toBe(true);
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0)).toBe(true);
    expect(await proxy.metric('lameduck_client_aborts_total')).toBe(1);
    expect(await proxy.metric('lameduck_requests_in_flight')).toBe(0);
    expect(await proxy.metric('lameduck_upstream_errors_total', {reason: 'reset'})).toBe(0);
  });

  it('before the response head: the waiting upstream request sees close', async () => {
    const req = request({host: HOST, port: proxy.port, path: '/never', agent: false});
    req.on('error', () => {});
    req.end();
    expect(await waitFor(() => upstreamClosed.has('/never'), 5000)).toBe(true);
    req.destroy();
    expect(await waitFor(() => upstreamClosed.get('/never') === true, 5000)).toBe(true);
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0)).toBe(true);
    expect(await proxy.metric('lameduck_client_aborts_total')).toBe(2);
  });

  it('mid-upload: the upstream request sees close and never gets a complete body', async () => {
    const completedBefore = upstream.completed();
    const req = request({host: HOST, port: proxy.port, path: '/upload', method: 'POST', agent: false, headers: {'content-length': '1000000'}});
    req.on('error', () => {});
    req.write(Buffer.alloc(64 * 1024, 1));
    expect(await waitFor(() => upstreamClosed.has('/upload'), 5000)).toBe(true);
    req.destroy();
    expect(await waitFor(() => upstreamClosed.get('/upload') === true, 5000)).toBe(true);
    expect(upstream.completed()).toBe(completedBefore);
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0)).toBe(true);
    expect(await proxy.metric('lameduck_client_aborts_total')).toBe(3);
  });

  it('pipelined: every queued request is released and its upstream request closed when the client goes away', async () => {
    const socket = connect(proxy.port, HOST);
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(['/p1', '/p2', '/p3'].map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
    expect(await waitFor(() => ['/p1', '/p2', '/p3'].every((p) => upstreamClosed.has(p)), 5000)).toBe(true);
    expect(proxy.forwarder.stats().inFlight).toBe(3);
    socket.destroy();
    // node 20 does not close responses queued behind the first one by itself: the forwarder must.
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0, 5000)).toBe(true);
    expect(await waitFor(() => ['/p1', '/p2', '/p3'].every((p) => upstreamClosed.get(p) === true), 5000)).toBe(true);
    expect(await proxy.metric('lameduck_client_aborts_total')).toBe(6);
    expect(await proxy.metric('lameduck_requests_in_flight')).toBe(0);
  });
});
