/**
 * Rapid reset (CVE-2023-44487): a client opens streams and resets each at once. Through a proxy every such stream
 * would become a stream opened and reset on the shared upstream session, and the app's own HTTP/2 flood limit would
 * then close that session, failing every other client's streams on it. lameduck forwards a batch only after the read
 * is parsed (a stream reset in the same read never reaches the app) and ends a session that resets most of its
 * streams young with GOAWAY(ENHANCE_YOUR_CALM), counted and logged. Other clients are served throughout.
 */
import {describe, expect, it} from '@jest/globals';
import {H2_PREMATURE_RESET_MIN} from '../../../proxy/src/h2/h2-abuse.js';
import {sleep, useCleanups} from '../../support/forwarder-harness.js';
import {closeSession, h2Connect, h2Request, startCountingH2App} from '../../support/h2-harness.js';
import {ERROR_CODE, getHeaders, rawH2, rstStream} from '../../support/h2-raw.js';

const cleanups = useCleanups();

async function setup() {
  // /slow answers after 1.5 s: a legitimate stream in flight on the shared upstream session during the attack.
  const {app, counts: streams} = await startCountingH2App((headers) => (headers[':path'] === '/slow' ? 1_500 : 10));
  cleanups.track(() => app.close());
  const proxy = await cleanups.proxyTo(app.url);
  return {app, proxy, streams};
}

describe('HTTP/2 rapid reset', () => {
  it('5000 HEADERS+RST_STREAM pairs: none reaches the app, the session ends with ENHANCE_YOUR_CALM, another client is served', async () => {
    const {proxy, streams} = await setup();
    const legit = await h2Connect(proxy.port);
    cleanups.track(() => closeSession(legit));
    const inFlight = h2Request(legit, {':path': '/slow'}, {timeoutMs: 30_000});
    await sleep(200);
    const parts: Buffer[] = [];
    for (let i = 0; i < 5000; i++) parts.push(getHeaders(1 + 2 * i, '/attack'), rstStream(1 + 2 * i));
    const attacker = await rawH2(proxy.port, Buffer.concat(parts));
    cleanups.track(async () => attacker.destroy());
    expect(await attacker.closed(15_000)).toBe(true);
    expect(attacker.goawayCode()).toBe(ERROR_CODE.ENHANCE_YOUR_CALM);
    // The legitimate stream that was in flight on the shared upstream session, and a new one, both succeed.
    expect((await inFlight).status).toBe(200);
    expect((await h2Request(legit, {':path': '/after'})).status).toBe(200);
    // Only the two legitimate streams reached the app.
    expect(streams().total).toBe(2);
    expect(await proxy.metric('lameduck_h2_connection_errors_total', {reason: 'rapid_reset'})).toBe(1);
    expect(proxy.logs.some((l) => l.msg === 'client reset too many streams')).toBe(true);
  });

  it('resets sent in a later read than their HEADERS: the session ends after a bounded number of streams', async () => {
    const {proxy, streams} = await setup();
    const legit = await h2Connect(proxy.port);
    cleanups.track(() => closeSession(legit));
    const inFlight = h2Request(legit, {':path': '/slow'}, {timeoutMs: 30_000});
    await sleep(200);
    const attacker = await rawH2(proxy.port);
    cleanups.track(async () => attacker.destroy());
    let sent = 0;
    // (It stops writing once told to go away, as a client does: bytes written into a closed connection would make
    // the kernel reset it, and the GOAWAY could be lost before it is read.)
    for (let i = 0; i < 1000 && !attacker.socket.destroyed && attacker.goawayCode() === undefined; i++) {
      attacker.write(getHeaders(1 + 2 * i, '/attack'));
      // Let lameduck forward it before the reset arrives.
      await sleep(2);
      attacker.write(rstStream(1 + 2 * i));
      sent++;
    }
    expect(await attacker.closed(15_000)).toBe(true);
    expect(attacker.goawayCode()).toBe(ERROR_CODE.ENHANCE_YOUR_CALM);
    expect(sent).toBeLessThan(1000);
    // Bounded: about the rule's minimum (plus what was in the pipe when the session ended), far below the app's
    // own flood limit (1000 resets in a burst), so the shared upstream session survives.
    expect(streams().total).toBeLessThan(H2_PREMATURE_RESET_MIN * 2);
    expect(streams().peak).toBeLessThan(H2_PREMATURE_RESET_MIN);
    expect((await inFlight).status).toBe(200);
    expect((await h2Request(legit, {':path': '/after'})).status).toBe(200);
    expect(await proxy.metric('lameduck_h2_connection_errors_total', {reason: 'rapid_reset'})).toBe(1);
  });

  it('a client that cancels some of its streams (deadlines) is not taken for an attacker', async () => {
    const {proxy} = await setup();
    const s = await h2Connect(proxy.port);
    cleanups.track(() => closeSession(s));
    // 300 streams, every third cancelled at once: a third, well under half.
    const results = await Promise.all(
      Array.from({length: 300}, (_, i) => {
        if (i % 3 !== 0) return h2Request(s, {':path': `/ok${i}`}, {timeoutMs: 30_000}).then((r) => r.status);
        const req = s.request({':path': `/cancel${i}`});
        req.on('error', () => undefined);
        req.close(8);
        return Promise.resolve(0);
      }),
    );
    expect(results.filter((r) => r === 200)).toHaveLength(200);
    expect(s.destroyed).toBe(false);
    expect(await proxy.metric('lameduck_h2_connection_errors_total', {reason: 'rapid_reset'})).toBe(0);
  });
});
