/**
 * Malformed HTTP/2 input: a preface that goes wrong is not HTTP/2 at all (the first differing byte sends the
 * connection to the HTTP/1.1 parser: 400, counted as a bad request); after a valid preface, bytes that are not
 * frames (HTTP/1.1 text) or invalid frames get a GOAWAY with the error (RFC 9113 §5.4.1) and the connection closes —
 * at once when node reports the error (counted in `h2_connection_errors_total{reason="protocol"}`), else when the
 * session has asked nothing by LAMEDUCK_HEADERS_TIMEOUT (node sends the GOAWAY for a frame it cannot parse but
 * neither closes the socket nor reports it). No crash; other clients are served.
 */
import {describe, expect, it} from '@jest/globals';
import {connect} from 'node:net';
import {HOST, useCleanups} from '../../support/forwarder-harness.js';
import {closeSession, h2Connect, h2Request, startOkH2App} from '../../support/h2-harness.js';
import {ERROR_CODE, FRAME, frame, rawH2} from '../../support/h2-raw.js';

const cleanups = useCleanups();

async function setup() {
  const app = await startOkH2App();
  cleanups.track(() => app.close());
  return cleanups.proxyTo(app.url, {LAMEDUCK_HEADERS_TIMEOUT: '1s'});
}

async function servesAnother(port: number): Promise<number> {
  const s = await h2Connect(port);
  cleanups.track(() => closeSession(s));
  return (await h2Request(s, {':path': '/'})).status;
}

describe('malformed HTTP/2 input', () => {
  it('a preface that goes wrong after "PRI * HTTP/2.0": answered as HTTP/1.1, 400, counted', async () => {
    const proxy = await setup();
    const text = await new Promise<string>((resolve) => {
      const socket = connect({port: proxy.port, host: HOST});
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', () => undefined);
      const timer = setTimeout(() => socket.destroy(), 10_000);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('latin1'));
      });
      socket.on('connect', () => socket.write('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'));
    });
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(await proxy.metric('lameduck_bad_requests_total')).toBe(1);
    expect(await servesAnother(proxy.port)).toBe(200);
  });

  it('HTTP/1.1 text after a valid preface: GOAWAY(FRAME_SIZE_ERROR), the connection closed', async () => {
    // ("GET / HT" reads as a frame header announcing 4.6 MB, over SETTINGS_MAX_FRAME_SIZE.)
    const proxy = await setup();
    const raw = await rawH2(proxy.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    cleanups.track(async () => raw.destroy());
    expect(await raw.closed(15_000)).toBe(true);
    expect(raw.goawayCode()).toBe(ERROR_CODE.FRAME_SIZE_ERROR);
    expect(await servesAnother(proxy.port)).toBe(200);
  });

  it('a DATA frame on stream 0: GOAWAY(PROTOCOL_ERROR), the connection closed', async () => {
    const proxy = await setup();
    const raw = await rawH2(proxy.port, frame(FRAME.DATA, 0, 0, Buffer.from('x')));
    cleanups.track(async () => raw.destroy());
    expect(await raw.closed(15_000)).toBe(true);
    expect(raw.goawayCode()).toBe(ERROR_CODE.PROTOCOL_ERROR);
    expect(await servesAnother(proxy.port)).toBe(200);
  });

  it('a WINDOW_UPDATE with a zero increment: GOAWAY, closed at once, counted and logged', async () => {
    const proxy = await setup();
    const raw = await rawH2(proxy.port, frame(FRAME.WINDOW_UPDATE, 0, 0, Buffer.alloc(4)));
    cleanups.track(async () => raw.destroy());
    expect(await raw.closed(15_000)).toBe(true);
    // An error GOAWAY: Node 20 ends a session whose error it reports with INTERNAL_ERROR, Node 24 passes nghttp2's
    // PROTOCOL_ERROR through (RFC 9113 §6.9: a zero increment is a connection error of type PROTOCOL_ERROR).
    expect([ERROR_CODE.PROTOCOL_ERROR, ERROR_CODE.INTERNAL_ERROR]).toContain(raw.goawayCode());
    expect(await proxy.metric('lameduck_h2_connection_errors_total', {reason: 'protocol'})).toBe(1);
    expect(proxy.logs.some((l) => l.msg === 'h2 connection error' && l.reason === 'protocol')).toBe(true);
    expect(await servesAnother(proxy.port)).toBe(200);
  });
});
