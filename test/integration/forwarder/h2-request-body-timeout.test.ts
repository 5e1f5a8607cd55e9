/**
 * LAMEDUCK_CLIENT_BODY_TIMEOUT on HTTP/2 streams: a client that opens a request body and stops sending DATA would
 * hold the app's stream for the whole upstream timeout. Past the timeout: 408 when no response has started, else
 * RST_STREAM(CANCEL); the app's stream (or HTTP/1.1 request) is cancelled; counted and logged. A body that keeps
 * moving is never cut, an app that is slow to read is not the client's fault, and gRPC streams idle between
 * messages are left alone.
 */
import {describe, expect, it} from '@jest/globals';
import {constants, type ClientHttp2Session, type ClientHttp2Stream} from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import {sleep, startUpstream, useCleanups, waitFor} from '../../support/forwarder-harness.js';
import {closeSession, echoClient, h2Connect, startGrpcApp, startH2App, type H2Handler} from '../../support/h2-harness.js';
import {within} from '../../../sim/cluster/wait.js';
import {FLAG, FRAME, frame, getHeaders, grantedWindows, rawH2, requestHeaders, rstStream, type Frame} from '../../support/h2-raw.js';

const cleanups = useCleanups();

async function session(port: number): Promise<ClientHttp2Session> {
  const s = await h2Connect(port);
  cleanups.track(() => closeSession(s));
  return s;
}

/** The stream's response status (0: none), body and RST_STREAM code once it closes (bounded wait). */
function outcome(req: ClientHttp2Stream, timeoutMs = 15_000): Promise<{status: number; body: string; rstCode: number}> {
  return new Promise((resolve) => {
    let status = 0;
    const chunks: Buffer[] = [];
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    const timer = setTimeout(() => resolve({status: -1, body: '', rstCode: -1}), timeoutMs);
    req.once('close', () => {
      clearTimeout(timer);
      resolve({status, body: Buffer.concat(chunks).toString(), rstCode: req.rstCode ?? -1});
    });
  });
}

/** Request bodies the app received whole (END_STREAM, not a reset). */
let completeBodies = 0;

/** An h2c app that reads the body and answers with its size at the end. */
const countingApp: H2Handler = (stream) => {
  let bytes = 0;
  stream.on('data', (c: Buffer) => (bytes += c.length));
  stream.on('end', () => {
    // node ends the readable side of a reset stream too: only a body that really ended counts.
    if (stream.aborted || stream.destroyed) return;
    completeBodies++;
    stream.respond({':status': 200});
    stream.end(`got ${bytes}`);
  });
};

/** Whether the app's stream was reset rather than ended by the client (bounded wait). */
async function appAborted(seen: {stream: {aborted: boolean}; closed: Promise<number>}): Promise<boolean> {
  await within(seen.closed, 10_000, undefined);
  return seen.stream.aborted;
}

describe('HTTP/2 request body idle timeout', () => {
  it('a body that stops after its first bytes: 408, the app stream cancelled, counted and logged', async () => {
    const app = await startH2App(countingApp);
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url, {LAMEDUCK_CLIENT_BODY_TIMEOUT: '300ms'});
    const s = await session(proxy.port);
    completeBodies = 0;
    const req = s.request({':method': 'POST', ':path': '/upload', 'content-type': 'application/octet-stream'});
    const done = outcome(req);
    req.write('first bytes');
    // ...and nothing more: the stream stays open.
    const result = await done;
    expect(result.status).toBe(408);
    expect(result.body).toContain('request body not received in time');
    // The app's stream was reset, never ended: it cannot take the cut upload for a complete one.
    expect(await appAborted(app.seen[0]!)).toBe(true);
    expect(completeBodies).toBe(0);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'body'})).toBe(1);
    expect(await proxy.metric('lameduck_client_aborts_total')).toBe(0);
    expect(proxy.logs.some((l) => l.msg === 'client stopped sending the request body' && l.protocol === 'h2c')).toBe(true);
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0, 10_000)).toBe(true);
    // The session is not the client's fault beyond that stream: another request on it is served.
    const again = s.request({':method': 'POST', ':path': '/ok'});
    const ok = outcome(again);
    again.end('abc');
    expect((await ok).body).toBe('got 3');
  });

  it('a client that resets its stream mid-upload (RST_STREAM, no END_STREAM): the app stream is reset, its body never ends', async () => {
    const app = await startH2App(countingApp);
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url);
    completeBodies = 0;
    // Raw frames: node's own client sends END_STREAM before its RST_STREAM, which is a complete body.
    const raw = await rawH2(proxy.port, Buffer.concat([getHeaders(1, '/upload', [], false), frame(FRAME.DATA, 0, 1, Buffer.from('part of it'))]));
    cleanups.track(async () => raw.destroy());
    expect(await waitFor(() => app.seen.length === 1, 10_000)).toBe(true);
    await sleep(100);
    raw.write(rstStream(1));
    expect(await appAborted(app.seen[0]!)).toBe(true);
    expect(completeBodies).toBe(0);
    expect(await waitFor(() => proxy.forwarder.stats().inFlight === 0, 10_000)).toBe(true);
  });

  it('to an HTTP/1.1 app: 408, and the app request aborted before a complete body', async () => {
    const upstream = await startUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.end('complete'));
    });
    cleanups.track(() => upstream.close());
    const proxy = await cleanups.proxyTo(upstream.url, {LAMEDUCK_CLIENT_BODY_TIMEOUT: '300ms'});
    const s = await session(proxy.port);
    const req = s.request({':method': 'PUT', ':path': '/object'});
    const done = outcome(req);
    req.write('x');
    expect((await done).status).toBe(408);
    expect(await waitFor(() => upstream.aborted() === 1, 10_000)).toBe(true);
    expect(upstream.completed()).toBe(0);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'body'})).toBe(1);
  });

  it('a body that keeps moving, however slowly, is never cut', async () => {
    const app = await startH2App(countingApp);
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url, {LAMEDUCK_CLIENT_BODY_TIMEOUT: '1s'});
    const s = await session(proxy.port);
    const req = s.request({':method': 'POST', ':path': '/trickle'});
    const done = outcome(req);
    // 3 s in all, well past the timeout, one byte every 200 ms.
    for (let i = 0; i < 15; i++) {
      req.write('a');
      await sleep(200);
    }
    req.end();
    const result = await done;
    expect(result.status).toBe(200);
    expect(result.body).toBe('got 15');
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'body'})).toBe(0);
  });

  it('an app slow to read the body is not taken for a slow client', async () => {
    const app = await startH2App((stream) => {
      stream.pause();
      // Reads nothing for 1.5 s (five times the timeout): lameduck stops reading the client meanwhile.
      setTimeout(() => {
        countingApp(stream, {});
        stream.resume();
      }, 1_500);
    });
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url, {LAMEDUCK_CLIENT_BODY_TIMEOUT: '300ms'});
    const s = await session(proxy.port);
    const body = Buffer.alloc(8 * 1024 * 1024, 'b');
    const req = s.request({':method': 'POST', ':path': '/big'});
    const done = outcome(req, 30_000);
    req.end(body);
    const result = await done;
    expect(result.status).toBe(200);
    expect(result.body).toBe(`got ${body.length}`);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'body'})).toBe(0);
  });

  it('a client the app held back gets the whole timeout from when its window reopens', async () => {
    // The app holds the body three times, each time longer than the timeout. After each hold the client answers the
    // reopened window only after 60 % of the timeout (a slow network, a busy client): it never idled a whole timeout
    // while it could send, so it must not be cut, whenever the timer happens to fire.
    const timeoutMs = 1_000;
    const answerMs = 600;
    // Well past what the chain buffers while the app holds (the client's windows, node's stream buffers on each side:
    // 16 KiB high-water marks on Node 20, 64 KiB from Node 22), so every hold closes the client's window.
    const segment = 512 * 1024;
    const size = 4 * segment;
    completeBodies = 0;
    const app = await startH2App((stream) => {
      countingApp(stream, {});
      let bytes = 0;
      let holds = 0;
      stream.on('data', (c: Buffer) => {
        bytes += c.length;
        if (holds < 3 && bytes >= (holds + 1) * segment) {
          holds++;
          stream.pause();
          setTimeout(() => stream.resume(), 1_500);
        }
      });
    });
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url, {LAMEDUCK_CLIENT_BODY_TIMEOUT: `${timeoutMs}ms`});
    const raw = await rawH2(proxy.port, requestHeaders(1, 'POST', '/held', [], false));
    cleanups.track(async () => raw.destroy());
    const room = (frames: Frame[], sent: number): number => {
      const w = grantedWindows(frames, 1);
      return Math.min(w.connection, w.stream) - sent;
    };
    const ended = (frames: Frame[]): boolean => frames.some((f) => f.streamId === 1 && (f.type === FRAME.RST_STREAM || (f.flags & FLAG.END_STREAM) !== 0));
    let sent = 0;
    let slowAnswers = 0;
    let blockedSince: number | undefined;
    const deadline = Date.now() + 30_000;
    while (sent < size && Date.now() < deadline && !ended(raw.frames())) {
      if (room(raw.frames(), sent) <= 0) {
        blockedSince ??= Date.now();
        await raw.waitFrames((f) => room(f, sent) > 0 || ended(f), 10_000);
        continue;
      }
      if (blockedSince !== undefined && Date.now() - blockedSince > timeoutMs / 2) {
        slowAnswers++;
        await sleep(answerMs);
      }
      blockedSince = undefined;
      const n = Math.min(room(raw.frames(), sent), 16_384, size - sent);
      raw.write(frame(FRAME.DATA, sent + n === size ? FLAG.END_STREAM : 0, 1, Buffer.alloc(n, 'h')));
      sent += n;
    }
    expect(await raw.waitFrames(ended, 15_000)).toBe(true);
    const onStream = raw.frames().filter((f) => f.streamId === 1);
    expect(onStream.filter((f) => f.type === FRAME.RST_STREAM)).toEqual([]);
    expect(Buffer.concat(onStream.filter((f) => f.type === FRAME.DATA).map((f) => f.payload)).toString()).toBe(`got ${size}`);
    expect(sent).toBe(size);
    expect(completeBodies).toBe(1);
    // The situation the test is about did happen: the client was held back past half the timeout, three times.
    expect(slowAnswers).toBeGreaterThanOrEqual(3);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'body'})).toBe(0);
  });

  it('after the response has started, a silent request body ends the stream with RST_STREAM(CANCEL)', async () => {
    const app = await startH2App((stream) => {
      // Answers at once and echoes what arrives (a plain bidirectional stream).
      stream.respond({':status': 200});
      stream.on('data', (c: Buffer) => stream.write(c));
      stream.on('end', () => stream.end());
    });
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url, {LAMEDUCK_CLIENT_BODY_TIMEOUT: '300ms'});
    const s = await session(proxy.port);
    const req = s.request({':method': 'POST', ':path': '/echo'});
    const done = outcome(req);
    req.write('ping');
    const result = await done;
    expect(result.status).toBe(200);
    expect(result.body).toBe('ping');
    expect(result.rstCode).toBe(constants.NGHTTP2_CANCEL);
    expect(await appAborted(app.seen[0]!)).toBe(true);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'body'})).toBe(1);
  });

  it('gRPC: a client-streaming call idle between messages for longer than the timeout completes', async () => {
    const app = await startGrpcApp();
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url, {LAMEDUCK_CLIENT_BODY_TIMEOUT: '300ms'});
    const client = echoClient(proxy.port);
    cleanups.track(async () => client.close());
    const result = new Promise<{err: grpc.ServiceError | null; n?: number}>((resolve) => {
      const call = client.clientStream(new grpc.Metadata(), {deadline: Date.now() + 30_000}, (err, res) => resolve({err, n: res?.n}));
      call.write({text: 'a'});
      // A pause four times the body timeout, as a chat or a subscription pauses.
      setTimeout(() => {
        call.write({text: 'b'});
        call.end();
      }, 1_200);
    });
    const {err, n} = await result;
    expect(err).toBeNull();
    expect(n).toBe(2);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'body'})).toBe(0);
  });
});
