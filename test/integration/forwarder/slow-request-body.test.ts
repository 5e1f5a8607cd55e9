/**
 * A request body sent one byte at a time would hold an upstream socket for the whole request timeout (5 min by
 * default). The body idle timeout (nginx's client_body_timeout: the longest pause between two reads) cuts it: the
 * client gets 408, the app's request is aborted (it never sees a complete body), and the cut is counted. A body that
 * keeps moving, however slowly, is not cut.
 */
import {describe, expect, it} from '@jest/globals';
import {connect} from 'node:net';
import {fetchBuffer, HOST, startUpstream, statusCodes, useCleanups, waitFor} from '../../support/forwarder-harness.js';

const {track, proxyTo} = useCleanups();

/** Writes the head and the first byte, then one byte every `everyMs` until the body is sent or the connection closes. */
function trickle(port: number, length: number, everyMs: number): Promise<{text: string; sent: number}> {
  return new Promise((resolve) => {
    const socket = connect({port, host: HOST});
    const chunks: Buffer[] = [];
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const send = (): void => {
      if (sent >= length || socket.destroyed || !socket.writable) return;
      socket.write('a');
      sent++;
      if (sent < length) timer = setTimeout(send, everyMs);
    };
    socket.on('connect', () => {
      socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`);
      send();
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({text: Buffer.concat(chunks).toString('latin1'), sent});
    });
    track(async () => void socket.destroy());
  });
}

async function setup() {
  const upstream = await startUpstream((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => res.end(`got ${bytes}`));
  });
  track(() => upstream.close());
  const proxy = await proxyTo(upstream.url, {LAMEDUCK_CLIENT_BODY_TIMEOUT: '1s'});
  return {upstream, proxy};
}

describe('slow request bodies', () => {
  it('Content-Length: 100000 at one byte every 2 s: cut at the body idle timeout with 408, the app request aborted, counted', async () => {
    const {upstream, proxy} = await setup();
    const result = await trickle(proxy.port, 100_000, 2000);
    expect(statusCodes(result.text)).toEqual([408]);
    expect(result.sent).toBeLessThan(10);
    expect(await waitFor(() => upstream.aborted() === 1, 10_000)).toBe(true);
    expect(upstream.completed()).toBe(0);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'body'})).toBe(1);
    expect(await proxy.metric('lameduck_client_aborts_total')).toBe(0);
    expect(proxy.logs.some((l) => l.msg === 'client stopped sending the request body')).toBe(true);
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0, 10_000)).toBe(true);
  });

  it('an app that does not read the body for a while is not taken for a slow client', async () => {
    const upstream = await startUpstream((req, res) => {
      // Reads nothing for 2.5 s (twice the body timeout): lameduck stops reading the client meanwhile (backpressure).
      setTimeout(() => {
        let bytes = 0;
        req.on('data', (c: Buffer) => (bytes += c.length));
        req.on('end', () => res.end(`got ${bytes}`));
      }, 2500);
    });
    track(() => upstream.close());
    const proxy = await proxyTo(upstream.url, {LAMEDUCK_CLIENT_BODY_TIMEOUT: '1s'});
    const body = Buffer.alloc(16 * 1024 * 1024, 'b');
    const res = await fetchBuffer(proxy.port, {method: 'POST', path: '/big-upload', body, timeoutMs: 30_000});
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(`got ${body.length}`);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'body'})).toBe(0);
  });

  it('a body that keeps moving (a byte every 200 ms) is not cut', async () => {
    const {upstream, proxy} = await setup();
    const result = await trickle(proxy.port, 12, 200);
    expect(statusCodes(result.text)).toEqual([200]);
    expect(result.text).toContain('got 12');
    expect(upstream.completed()).toBe(1);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'body'})).toBe(0);
  });
});
