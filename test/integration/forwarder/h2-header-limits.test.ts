/**
 * Oversized header lists on HTTP/2 (the HTTP/1.1 431 case; RFC 9113 §10.5.1): a header block larger than
 * LAMEDUCK_MAX_HEADER_SIZE (announced as SETTINGS_MAX_HEADER_LIST_SIZE) or with more than H2_MAX_HEADER_PAIRS fields
 * is refused by node before it becomes a stream: RST_STREAM(ENHANCE_YOUR_CALM) on that stream, nothing reaches the
 * app, and the connection goes on serving the client's other streams.
 */
import {describe, expect, it} from '@jest/globals';
import {H2_MAX_HEADER_PAIRS} from '../../../proxy/src/h2/h2-server.js';
import {useCleanups} from '../../support/forwarder-harness.js';
import {startH2App} from '../../support/h2-harness.js';
import {ERROR_CODE, FLAG, FRAME, frame, getHeaders, rawH2} from '../../support/h2-raw.js';

const cleanups = useCleanups();

async function setup() {
  const paths: string[] = [];
  const app = await startH2App((stream, headers) => {
    paths.push(String(headers[':path']));
    stream.respond({':status': 200});
    stream.end('ok');
  });
  cleanups.track(() => app.close());
  const proxy = await cleanups.proxyTo(app.url, {LAMEDUCK_MAX_HEADER_SIZE: '16384'});
  return {proxy, paths};
}

const cases: [string, readonly (readonly [string, string])[]][] = [
  ['a 40 KB header field (over LAMEDUCK_MAX_HEADER_SIZE)', [['x-big', 'a'.repeat(40_000)]]],
  [`${H2_MAX_HEADER_PAIRS + 72} small header fields`, Array.from({length: H2_MAX_HEADER_PAIRS + 72}, (_, i) => [`x-h${i}`, 'v'] as const)],
];

describe('HTTP/2 header list limits', () => {
  it.each(cases)('%s: the stream is refused, the app sees nothing, the next stream on the connection is served', async (_name, extra) => {
    const {proxy, paths} = await setup();
    const raw = await rawH2(proxy.port);
    cleanups.track(async () => raw.destroy());
    await raw.waitFrames((fs) => fs.some((f) => f.type === FRAME.SETTINGS && f.flags === 0));
    raw.write(Buffer.concat([frame(FRAME.SETTINGS, FLAG.ACK, 0), getHeaders(1, '/oversized', extra)]));
    expect(await raw.waitFrames((fs) => fs.some((f) => f.type === FRAME.RST_STREAM && f.streamId === 1))).toBe(true);
    const rst = raw.frames().find((f) => f.type === FRAME.RST_STREAM && f.streamId === 1)!;
    expect(rst.payload.readUInt32BE(0)).toBe(ERROR_CODE.ENHANCE_YOUR_CALM);
    raw.write(getHeaders(3, '/fine'));
    expect(await raw.waitFrames((fs) => fs.some((f) => f.type === FRAME.HEADERS && f.streamId === 3))).toBe(true);
    expect(paths).toEqual(['/fine']);
    expect(raw.goawayCode()).toBeUndefined();
  });
});
