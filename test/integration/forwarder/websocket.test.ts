/**
 * WebSocket upgrades through the proxy: echo identical to direct, the upgraded socket counted while open, and the
 * failure cases answered on the raw socket: an upstream that refuses (502), an upstream that answers the handshake
 * with a plain response (relayed), an upgrade that is not WebSocket (400).
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {createServer} from 'node:net';
import type {AddressInfo} from 'node:net';
import WebSocket from 'ws';
import {HOST, rawExchange, startProxy, startUpstream, statusCodes, waitFor, type Proxy, type Upstream} from '../../support/forwarder-harness.js';

let upstream: Upstream;
let proxy: Proxy;

beforeAll(async () => {
  upstream = await startUpstream((_req, res) => res.end('plain'), {webSocketEcho: true});
  proxy = await startProxy(upstream.url);
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

function open(port: number, path = '/ws'): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${HOST}:${port}${path}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function echo(ws: WebSocket, messages: (string | Buffer)[]): Promise<string[]> {
  const out: string[] = [];
  for (const m of messages) {
    const reply = new Promise<string>((resolve) =>
      ws.once('message', (data: Buffer, isBinary: boolean) => resolve(`${isBinary ? 'bin' : 'txt'}:${data.toString('hex')}`)),
    );
    ws.send(m, {binary: Buffer.isBuffer(m)});
    out.push(await reply);
  }
  return out;
}

function closed(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once('close', () => resolve());
  });
}

describe('forwarder WebSocket', () => {
  const messages = ['hello', Buffer.from([0, 1, 2, 255]), 'x'.repeat(100_000), Buffer.alloc(70_000, 7)];

  it('echoes text and binary messages exactly as the app does directly, and counts the upgraded socket', async () => {
    const direct = await open(upstream.port);
    const directReplies = await echo(direct, messages);
    direct.close();

    const ws = await open(proxy.port);
    expect(await waitFor(() => proxy.forwarder.stats().upgraded === 1)).toBe(true);
    expect(await proxy.metric('lameduck_upgraded_connections')).toBe(1);
    expect(await echo(ws, messages)).toEqual(directReplies);
    const seen = upstream.seen.filter((s) => s.url === '/ws').at(-1)!;
    expect(seen.headers['x-forwarded-for']).toBe(HOST);
    expect(seen.headers.upgrade).toBe('websocket');

    ws.close();
    await closed(ws);
    expect(await waitFor(() => proxy.forwarder.stats().upgraded === 0)).toBe(true);
    expect(await proxy.metric('lameduck_upgraded_connections')).toBe(0);
    expect(await proxy.metric('lameduck_requests_total', {phase: 'serving', code: '1xx'})).toBeGreaterThanOrEqual(1);
  });

  it('answers 502 on the raw socket when the upstream refuses the upgrade connection', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, HOST, resolve));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const refusing = await startProxy(`http://${HOST}:${deadPort}`);
    try {
      const before = await refusing.metric('lameduck_upstream_errors_total', {reason: 'refused'});
      const res = await rawExchange(
        refusing.port,
        `GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
      expect(statusCodes(res.text)).toEqual([502]);
      expect(res.text).toContain('upstream refused the connection');
      expect(res.closed).toBe(true);
      expect(await refusing.metric('lameduck_upstream_errors_total', {reason: 'refused'})).toBe(before + 1);
      expect(await waitFor(() => refusing.forwarder.stats().upgraded === 0)).toBe(true);
    } finally {
      await refusing.close();
    }
  });

  it('relays a plain response from an upstream that does not accept the upgrade', async () => {
    const res = await rawExchange(
      proxy.port,
      `GET /not-ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
    expect(statusCodes(res.text)).toEqual([404]);
    expect(res.text).toContain('not here');
  });

  it('answers 400 to an upgrade that is not WebSocket (e.g. h2c) without bothering the app', async () => {
    const before = upstream.seen.length;
    const res = await rawExchange(proxy.port, `GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n`);
    expect(statusCodes(res.text)).toEqual([400]);
    expect(res.closed).toBe(true);
    expect(upstream.seen.length).toBe(before);
  });
});
