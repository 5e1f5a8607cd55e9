/**
 * SETTINGS and PING floods (CVE-2019-9512, CVE-2019-9515: each frame obliges the server to queue an ACK; a client
 * that sends them faster than the ACKs drain grows that queue). node's limits end the session (nghttp2's outbound-queue flood check,
 * `maxOutstandingSettings`): GOAWAY, the connection closed, counted as `h2_connection_errors_total{reason="flood"}`
 * and logged; other clients are served.
 */
import {describe, expect, it} from '@jest/globals';
import {useCleanups} from '../../support/forwarder-harness.js';
import {closeSession, h2Connect, h2Request, startOkH2App} from '../../support/h2-harness.js';
import {FRAME, frame, rawH2, settings} from '../../support/h2-raw.js';

const cleanups = useCleanups();

async function setup() {
  const app = await startOkH2App();
  cleanups.track(() => app.close());
  return cleanups.proxyTo(app.url);
}

const floods: [string, () => Buffer][] = [
  ['SETTINGS', () => settings()],
  ['PING', () => frame(FRAME.PING, 0, 0, Buffer.alloc(8))],
];

describe('HTTP/2 control frame floods', () => {
  it.each(floods)('20000 %s frames in one write: the connection is closed, counted, and another client is served', async (_name, make) => {
    const proxy = await setup();
    const raw = await rawH2(proxy.port, Buffer.concat(Array.from({length: 20_000}, make)));
    cleanups.track(async () => raw.destroy());
    const closed = await raw.closed(15_000);
    expect(closed).toBe(true);
    expect(await proxy.metric('lameduck_h2_connection_errors_total', {reason: 'flood'})).toBe(1);
    expect(proxy.logs.some((l) => l.msg === 'h2 connection error' && l.reason === 'flood')).toBe(true);
    const s = await h2Connect(proxy.port);
    cleanups.track(() => closeSession(s));
    expect((await h2Request(s, {':path': '/'})).status).toBe(200);
  });
});
