/**
 * Concurrent streams per client session are bounded (SETTINGS_MAX_CONCURRENT_STREAMS = H2_MAX_CONCURRENT_STREAMS,
 * RFC 9113 §5.1.2; node's default announces 2^32-1, i.e. none): a compliant client queues the rest, so the app never
 * holds more than the bound for one connection; a client that ignores the announced limit loses its connection and
 * none of its streams reaches the app, while other clients are served.
 */
import {describe, expect, it} from '@jest/globals';
import {H2_MAX_CONCURRENT_STREAMS} from '../../../proxy/src/h2/h2-server.js';
import {useCleanups} from '../../support/forwarder-harness.js';
import {closeSession, h2Connect, h2Request, startCountingH2App} from '../../support/h2-harness.js';
import {FLAG, FRAME, frame, getHeaders, rawH2} from '../../support/h2-raw.js';

const cleanups = useCleanups();
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;

async function setup() {
  // Each stream is held for a while, so a burst piles up.
  const {app, counts} = await startCountingH2App(() => 300);
  cleanups.track(() => app.close());
  const proxy = await cleanups.proxyTo(app.url);
  return {proxy, counts};
}

describe('HTTP/2 concurrent streams', () => {
  it('announces the bound in its SETTINGS', async () => {
    const {proxy} = await setup();
    const raw = await rawH2(proxy.port);
    cleanups.track(async () => raw.destroy());
    expect(await raw.waitFrames((fs) => fs.some((f) => f.type === FRAME.SETTINGS && f.flags === 0))).toBe(true);
    const s = raw.frames().find((f) => f.type === FRAME.SETTINGS && f.flags === 0)!;
    const values = new Map<number, number>();
    for (let at = 0; at + 6 <= s.payload.length; at += 6) values.set(s.payload.readUInt16BE(at), s.payload.readUInt32BE(at + 2));
    expect(values.get(SETTINGS_MAX_CONCURRENT_STREAMS)).toBe(H2_MAX_CONCURRENT_STREAMS);
    expect(H2_MAX_CONCURRENT_STREAMS).toBeLessThanOrEqual(256);
  });

  it('a node:http2 client opening 300 streams at once: at most the bound reach the app together, all are answered', async () => {
    const {proxy, counts} = await setup();
    const s = await h2Connect(proxy.port);
    cleanups.track(() => closeSession(s));
    const results = await Promise.all(Array.from({length: 300}, (_, i) => h2Request(s, {':path': `/s${i}`}, {timeoutMs: 60_000}).then((r) => r.status)));
    expect(results.every((r) => r === 200)).toBe(true);
    expect(counts().total).toBe(300);
    expect(counts().peak).toBeLessThanOrEqual(H2_MAX_CONCURRENT_STREAMS);
  });

  it('a client that opens more streams than announced loses its connection; another client is served', async () => {
    const {proxy, counts} = await setup();
    const raw = await rawH2(proxy.port);
    cleanups.track(async () => raw.destroy());
    await raw.waitFrames((fs) => fs.some((f) => f.type === FRAME.SETTINGS && f.flags === 0));
    const streams: Buffer[] = [frame(FRAME.SETTINGS, FLAG.ACK, 0)];
    for (let i = 0; i < H2_MAX_CONCURRENT_STREAMS + 50; i++) streams.push(getHeaders(1 + 2 * i));
    raw.write(Buffer.concat(streams));
    expect(await raw.closed(15_000)).toBe(true);
    expect(raw.goawayCode()).toBeDefined();
    expect(counts().peak).toBeLessThanOrEqual(H2_MAX_CONCURRENT_STREAMS);
    expect(await proxy.metric('lameduck_h2_connection_errors_total', {reason: 'protocol'})).toBe(1);
    // Not taken for a rapid reset: the streams were closed by the session's end, not reset by the client.
    expect(await proxy.metric('lameduck_h2_connection_errors_total', {reason: 'rapid_reset'})).toBe(0);
    const other = await h2Connect(proxy.port);
    cleanups.track(() => closeSession(other));
    expect((await h2Request(other, {':path': '/other'})).status).toBe(200);
  });
});
