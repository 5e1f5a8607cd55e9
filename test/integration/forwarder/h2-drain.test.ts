/**
 * The HTTP/2 drain on the forwarder: from `deregistering` on every client session gets the two-step graceful GOAWAY
 * (last-stream-id 2^31-1 first, then the last processed stream), streams in flight finish; a session opened during
 * the drain serves its first stream and then gets the GOAWAY; close() waits for open streams; at the deadline an
 * open gRPC stream ends with UNAVAILABLE and is counted as cut.
 */
import {describe, expect, it} from '@jest/globals';
import {constants, type ClientHttp2Session} from 'node:http2';
import {connect as tcpConnect} from 'node:net';
import * as grpc from '@grpc/grpc-js';
import {sleep, useCleanups, waitFor} from '../../support/forwarder-harness.js';
import {closeSession, echoClient, h2Connect, h2Request, startGrpcApp, startH2App, type EchoMessage} from '../../support/h2-harness.js';
import {within} from '../../../sim/cluster/wait.js';

const cleanups = useCleanups();

function goaways(session: ClientHttp2Session): {lastStreamIds: number[]} {
  const seen = {lastStreamIds: [] as number[]};
  session.on('goaway', (_code: number, last: number) => seen.lastStreamIds.push(last));
  return seen;
}

/** An app that answers each request after `?ms=` milliseconds. */
async function slowApp() {
  const app = await startH2App((stream, headers) => {
    const ms = Number(new URL(`http://x${headers[':path']}`).searchParams.get('ms') ?? 0);
    stream.resume();
    stream.on('end', () => {
      const answer = setTimeout(() => {
        if (stream.closed) return;
        stream.respond({':status': 200});
        stream.end(`done ${headers[':path']}`);
      }, ms);
      // A stream cut by the drain deadline closes before its answer is due; its timer must not outlive the test.
      stream.once('close', () => clearTimeout(answer));
    });
  });
  cleanups.track(() => app.close());
  return app;
}

describe('HTTP/2 drain', () => {
  it('sends the two-step GOAWAY at deregistering while a stream in flight finishes', async () => {
    const app = await slowApp();
    const proxy = await cleanups.proxyTo(app.url);
    const s = await h2Connect(proxy.port);
    cleanups.track(() => closeSession(s));
    const seen = goaways(s);
    await h2Request(s, {':path': '/warm'});
    const inFlight = h2Request(s, {':path': '/slow?ms=800'});
    await waitFor(() => app.seen.length === 2);
    proxy.setPhase('deregistering');
    proxy.forwarder.drainStarted();
    expect(await waitFor(() => seen.lastStreamIds.length >= 2, 5_000)).toBe(true);
    // First 2^31-1 ("new connections, please"), then the real last stream id: the stream in flight (id 3).
    expect(seen.lastStreamIds[0]).toBe(2 ** 31 - 1);
    expect(seen.lastStreamIds[1]).toBe(3);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('done /slow?ms=800');
    expect(await proxy.metric('lameduck_goaways_total')).toBe(1);
    expect(await waitFor(() => proxy.forwarder.stats().h2.sessions === 0, 5_000)).toBe(true);
    expect(proxy.forwarder.stats().h2.drained).toBe(0); // both streams arrived while serving
  });

  it('a client that never acks the PING still gets the final GOAWAY, after the bound', async () => {
    const app = await slowApp();
    const proxy = await cleanups.proxyTo(app.url);
    // A raw client: the preface and an empty SETTINGS frame, then silence (no SETTINGS ack, no PING ack).
    const socket = tcpConnect(proxy.port, '127.0.0.1');
    cleanups.track(async () => void socket.destroy());
    const frames: {type: number; lastStreamId?: number; at: number}[] = [];
    let buf = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3]!;
        frames.push({type, at: Date.now(), ...(type === 7 ? {lastStreamId: buf.readUInt32BE(9) & 0x7fffffff} : {})});
        buf = buf.subarray(9 + len);
      }
    });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    expect(await waitFor(() => proxy.forwarder.stats().h2.sessions === 1)).toBe(true);
    proxy.setPhase('deregistering');
    proxy.forwarder.drainStarted();
    expect(await waitFor(() => frames.filter((f) => f.type === 7).length >= 2, 5_000)).toBe(true);
    const goaways = frames.filter((f) => f.type === 7);
    expect(goaways[0]!.lastStreamId).toBe(2 ** 31 - 1);
    expect(goaways[1]!.lastStreamId).toBe(0);
    // A PING went out between them, and the final GOAWAY waited for its ack up to the bound (1 s), not forever.
    expect(frames.some((f) => f.type === 6 && f.at >= goaways[0]!.at)).toBe(true);
    expect(goaways[1]!.at - goaways[0]!.at).toBeGreaterThanOrEqual(900);
  });

  it('a session opened during the drain is served, then told to go', async () => {
    const app = await slowApp();
    const proxy = await cleanups.proxyTo(app.url);
    proxy.setPhase('deregistering');
    proxy.forwarder.drainStarted();
    const s = await h2Connect(proxy.port);
    cleanups.track(() => closeSession(s));
    const seen = goaways(s);
    const res = await h2Request(s, {':path': '/new'});
    expect(res.status).toBe(200);
    expect(await waitFor(() => seen.lastStreamIds.length >= 1, 5_000)).toBe(true);
    expect(seen.lastStreamIds[0]).toBe(2 ** 31 - 1);
    expect(await proxy.metric('lameduck_drained_requests_total')).toBe(1);
    expect(proxy.forwarder.stats().h2.drained).toBe(1);
  });

  it('close() waits for open streams and closes idle sessions', async () => {
    const app = await slowApp();
    const proxy = await cleanups.proxyTo(app.url);
    const busy = await h2Connect(proxy.port);
    const idle = await h2Connect(proxy.port);
    cleanups.track(() => closeSession(busy));
    cleanups.track(() => closeSession(idle));
    await h2Request(idle, {':path': '/once'});
    const pending = h2Request(busy, {':path': '/slow?ms=700'});
    await waitFor(() => app.seen.length === 2);
    proxy.setPhase('closing');
    let closed = false;
    const closing = proxy.forwarder.close().then(() => (closed = true));
    await sleep(300);
    expect(closed).toBe(false);
    expect((await pending).status).toBe(200);
    await within(closing, 5_000, undefined);
    expect(closed).toBe(true);
    expect(proxy.forwarder.stats().openConnections).toBe(0);
  });

  it('at the deadline an open gRPC call ends with UNAVAILABLE and a plain stream is reset; both are counted as cut', async () => {
    const grpcApp = await startGrpcApp();
    cleanups.track(() => grpcApp.close());
    const proxy = await cleanups.proxyTo(grpcApp.url);
    const client = echoClient(proxy.port);
    cleanups.track(async () => client.close());
    const call = client.serverStream({n: 10_000, delayMs: 50, text: 'long'});
    const got: EchoMessage[] = [];
    call.on('data', (m: EchoMessage) => got.push(m));
    call.on('error', () => undefined);
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(await waitFor(() => got.length > 0, 5_000)).toBe(true);

    const plainApp = await slowApp();
    const plainProxy = await cleanups.proxyTo(plainApp.url);
    const s = await h2Connect(plainProxy.port);
    cleanups.track(() => closeSession(s));
    const plain = h2Request(s, {':path': '/slow?ms=60000'}).catch((err: Error) => err);
    await waitFor(() => plainApp.seen.length === 1);

    proxy.setPhase('closing');
    void proxy.forwarder.close();
    const cut = proxy.forwarder.destroy();
    expect(cut.requests).toBe(1);
    const st = await within(status, 5_000, undefined);
    expect(st?.code).toBe(grpc.status.UNAVAILABLE);
    expect(st?.details).toMatch(/drain deadline/);
    expect(await proxy.metric('lameduck_cut_total', {kind: 'request'})).toBe(1);
    expect(await proxy.metric('lameduck_grpc_responses_total', {grpc_status: 'unavailable'})).toBe(1);
    expect(proxy.forwarder.stats().h2.cut).toBe(1);
    // The app's stream was cancelled too.
    expect(await within(grpcApp.calls[0]!.cancelled, 5_000, 'timeout')).toBe(true);

    plainProxy.forwarder.destroy();
    const err = await plain;
    expect(err).toBeInstanceOf(Error);
    expect(String(err)).toMatch(new RegExp(`rstCode ${constants.NGHTTP2_CANCEL}|closed`));
    expect(await plainProxy.metric('lameduck_cut_total', {kind: 'request'})).toBe(1);
  });
});
