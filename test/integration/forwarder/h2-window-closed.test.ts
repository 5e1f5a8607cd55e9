/**
 * A client that never opens its flow-control window (SETTINGS_INITIAL_WINDOW_SIZE = 0, RFC 9113 §6.9.2: no DATA may
 * be sent to it) holds the response and, through flow control, the app's stream. LAMEDUCK_SEND_TIMEOUT applies to
 * HTTP/2 streams as to HTTP/1.1 responses: the stream is reset (CANCEL), the app's stream cancelled, counted as
 * client_timeouts_total{kind="send"} and logged.
 */
import {describe, expect, it} from '@jest/globals';
import {constants} from 'node:http2';
import {useCleanups} from '../../support/forwarder-harness.js';
import {startH2App} from '../../support/h2-harness.js';
import {ERROR_CODE, FRAME, getHeaders, rawH2, settings} from '../../support/h2-raw.js';
import {within} from '../../../sim/cluster/wait.js';

const cleanups = useCleanups();
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;

describe('HTTP/2 client with a closed window', () => {
  it('gets the response head, then RST_STREAM(CANCEL) after LAMEDUCK_SEND_TIMEOUT; the app stream is cancelled', async () => {
    const app = await startH2App((stream) => {
      stream.respond({':status': 200});
      stream.write(Buffer.alloc(64 * 1024, 1));
      // Never ends by itself.
    });
    cleanups.track(() => app.close());
    const proxy = await cleanups.proxyTo(app.url, {LAMEDUCK_SEND_TIMEOUT: '1s'});
    const raw = await rawH2(proxy.port, Buffer.concat([settings([[SETTINGS_INITIAL_WINDOW_SIZE, 0]]), getHeaders(1, '/download')]));
    cleanups.track(async () => raw.destroy());
    expect(await raw.waitFrames((fs) => fs.some((f) => f.type === FRAME.RST_STREAM && f.streamId === 1), 15_000)).toBe(true);
    const frames = raw.frames();
    expect(frames.some((f) => f.type === FRAME.HEADERS && f.streamId === 1)).toBe(true);
    expect(frames.some((f) => f.type === FRAME.DATA && f.streamId === 1 && f.payload.length > 0)).toBe(false);
    expect(frames.find((f) => f.type === FRAME.RST_STREAM && f.streamId === 1)!.payload.readUInt32BE(0)).toBe(ERROR_CODE.CANCEL);
    expect(await within(app.seen[0]!.closed, 10_000, -1)).toBe(constants.NGHTTP2_CANCEL);
    expect(await proxy.metric('lameduck_client_timeouts_total', {kind: 'send'})).toBe(1);
    expect(proxy.logs.some((l) => l.msg === 'client stopped reading the response' && l.protocol === 'h2c')).toBe(true);
  });
});
