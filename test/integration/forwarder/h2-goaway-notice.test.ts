/**
 * The first GOAWAY of the drain (last stream id 2^31-1) is a notice, not a refusal: streams the client sends after
 * it, before it has read it, are served, and the final GOAWAY (after the PING, or its timeout) counts them as
 * processed. node:http2's own `session.goaway()` would make nghttp2 drop such streams (docs/http2.md, "The drain:
 * GOAWAY timing and why"); a raw client that ignores the notice shows lameduck does not.
 */
import {describe, expect, it} from '@jest/globals';
import {useCleanups, waitFor} from '../../support/forwarder-harness.js';
import {startOkH2App} from '../../support/h2-harness.js';
import {FLAG, FRAME, getHeaders, rawH2, type Frame} from '../../support/h2-raw.js';

const cleanups = useCleanups();
const MAX_STREAM_ID = 2 ** 31 - 1;

const goawayLastIds = (frames: Frame[]): number[] =>
  frames.filter((f) => f.type === FRAME.GOAWAY).map((f) => f.payload.readUInt32BE(0) & MAX_STREAM_ID);
const answered = (frames: Frame[], streamId: number): boolean =>
  frames.some((f) => f.type === FRAME.HEADERS && f.streamId === streamId);

describe('HTTP/2 drain notice', () => {
  it('serves streams that cross the first GOAWAY and reports them processed in the final one', async () => {
    const app = await startOkH2App();
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url);
    const client = await rawH2(proxy.port, getHeaders(1, '/before'));
    cleanups.track(async () => client.destroy());
    expect(await client.waitFrames((f) => answered(f, 1), 5_000)).toBe(true);

    proxy.setPhase('deregistering');
    proxy.forwarder.drainStarted();
    expect(await client.waitFrames((f) => goawayLastIds(f).length >= 1, 5_000)).toBe(true);
    expect(goawayLastIds(client.frames())).toEqual([MAX_STREAM_ID]);

    // A client that had these on the wire when the notice came (it has not acked the PING, so step 2 waits).
    client.write(Buffer.concat([getHeaders(3, '/crossed-1'), getHeaders(5, '/crossed-2')]));
    expect(await client.waitFrames((f) => answered(f, 3) && answered(f, 5), 5_000)).toBe(true);
    expect(client.frames().filter((f) => f.type === FRAME.RST_STREAM)).toEqual([]);
    expect(app.seen.map((s) => s.headers[':path'])).toEqual(['/before', '/crossed-1', '/crossed-2']);

    // The final GOAWAY after the PING timeout names stream 5 as the last processed.
    expect(await client.waitFrames((f) => goawayLastIds(f).length >= 2, 5_000)).toBe(true);
    const [notice, ...finals] = goawayLastIds(client.frames());
    expect(notice).toBe(MAX_STREAM_ID);
    // (node may repeat the final GOAWAY as the session ends; every one names the same stream.)
    expect(new Set(finals)).toEqual(new Set([5]));
    expect(client.frames().some((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) === 0)).toBe(true);
    expect(await waitFor(() => proxy.forwarder.stats().h2.sessions === 0, 5_000)).toBe(true);
  });
});
