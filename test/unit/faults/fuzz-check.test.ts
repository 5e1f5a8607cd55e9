/**
 * The fuzz campaign's judge (bench/fuzz/check.ts), its strict parser and its generator, without processes: each
 * invariant is shown to fire on the observation it is about (so the campaign's "no violation" means something), and
 * to stay quiet on a faithful exchange.
 */
import {describe, expect, it} from '@jest/globals';
import {checkCase, type Observation} from '../../../bench/fuzz/check.js';
import {generateCase} from '../../../bench/fuzz/generate.js';
import {parseRequest, parseRequestStream, parseResponseStream} from '../../../bench/fuzz/strict-http1.js';
import type {UpstreamRequest} from '../../../bench/fuzz/raw-upstream.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** What the raw upstream records for a request lameduck forwarded. */
function upstreamGot(seq: number, raw: string): UpstreamRequest {
  const r = parseRequest(b(raw));
  if (r.kind !== 'ok') throw new Error(`test request does not parse: ${JSON.stringify(r)}`);
  return {seq, conn: 1, request: r.value, raw: b(raw), at: 0};
}

const ok = (seq: number, close = false): string => `HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Fuzz-Seq: ${seq}\r\n${close ? 'Connection: close\r\n' : ''}\r\nseq ${seq}\n`.replace('Content-Length: 6', `Content-Length: ${`seq ${seq}\n`.length}`);
const bad = 'HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbad!\n';

function observe(o: Partial<Omit<Observation, 'sent' | 'received'>> & {sent: string; received: string}): Observation {
  return {
    ended: 'closed',
    alive: true,
    healthy: true,
    ...o,
    sent: b(o.sent),
    received: b(o.received),
    upstream: o.upstream ?? {requests: [], errors: [], leftPending: []},
  };
}

const GET_A = 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n';
const GET_B = 'GET /b HTTP/1.1\r\nHost: x\r\n\r\n';
const FWD_A = 'GET /a HTTP/1.1\r\nhost: x\r\nx-forwarded-for: 127.0.0.1\r\n\r\n';
const FWD_B = 'GET /b HTTP/1.1\r\nhost: x\r\nx-forwarded-for: 127.0.0.1\r\n\r\n';

describe('fuzz checker', () => {
  it('a faithful pipelined exchange breaks no invariant', () => {
    const o = observe({sent: GET_A + GET_B, received: ok(1) + ok(2), upstream: {requests: [upstreamGot(1, FWD_A), upstreamGot(2, FWD_B)], errors: [], leftPending: []}});
    expect(checkCase(o)).toEqual([]);
  });

  it('the upstream seeing two requests where the client sent one (body read as a request) is smuggling', () => {
    const body = 'GET /s HTTP/1.1\r\nHost: x\r\n\r\n';
    const sent = `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const o = observe({
      sent,
      received: ok(1),
      upstream: {requests: [upstreamGot(1, 'POST /a HTTP/1.1\r\nHost: x\r\n\r\n'), upstreamGot(2, 'GET /s HTTP/1.1\r\nHost: x\r\n\r\n')], errors: [], leftPending: []},
    });
    const kinds = checkCase(o).map((v) => v.kind);
    expect(kinds).toContain('smuggled');
    expect(kinds).toContain('desync');
  });

  it('a 400 to a request the upstream received complete is flagged', () => {
    const o = observe({sent: GET_A + 'GARBAGE\r\n\r\n', received: bad, upstream: {requests: [upstreamGot(1, FWD_A)], errors: [], leftPending: []}});
    expect(checkCase(o).map((v) => v.kind)).toEqual(['forwarded-but-refused']);
  });

  it('a 400 after the answer to the complete request is lameduck refusing the malformed one: fine', () => {
    const o = observe({sent: GET_A + 'GARBAGE\r\n\r\n', received: ok(1) + bad, upstream: {requests: [upstreamGot(1, FWD_A)], errors: [], leftPending: []}});
    expect(checkCase(o)).toEqual([]);
  });

  it('responses answering the wrong requests are a desync', () => {
    const o = observe({sent: GET_A + GET_B, received: ok(2) + ok(1), upstream: {requests: [upstreamGot(1, FWD_A), upstreamGot(2, FWD_B)], errors: [], leftPending: []}});
    expect(checkCase(o).map((v) => v.kind)).toEqual(['desync', 'desync']);
  });

  it('a request forwarded after a response that closed the connection is flagged', () => {
    const o = observe({sent: GET_A + GET_B, received: ok(1, true), upstream: {requests: [upstreamGot(1, FWD_A), upstreamGot(2, FWD_B)], errors: [], leftPending: []}});
    expect(checkCase(o).map((v) => v.kind)).toEqual(['forwarded-after-close']);
  });

  it('requests pipelined after Connection: close must not reach the upstream', () => {
    const sent = 'GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' + GET_B;
    const o = observe({sent, received: ok(1, true), upstream: {requests: [upstreamGot(1, FWD_A), upstreamGot(2, FWD_B)], errors: [], leftPending: []}});
    expect(checkCase(o).map((v) => v.kind)).toEqual(['forwarded-after-close']);
  });

  it('malformed responses, bytes after a closing response, extra relayed responses', () => {
    expect(checkCase(observe({sent: GET_A, received: 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'})).map((v) => v.kind)).toEqual(['malformed-response']);
    expect(checkCase(observe({sent: GET_A, received: bad + 'junk'})).map((v) => v.kind)).toContain('bytes-after-close');
    const twice = observe({sent: GET_A, received: ok(1) + ok(2), upstream: {requests: [upstreamGot(1, FWD_A), upstreamGot(2, FWD_A)], errors: [], leftPending: []}});
    expect(checkCase(twice).map((v) => v.kind)).toEqual(['extra-response', 'duplicate']);
  });

  it('a crash, a failed health check, a hang, upstream garbage, a half-sent request and an added field are flagged', () => {
    const kinds = checkCase(
      observe({
        sent: GET_A,
        received: '',
        ended: 'hang',
        alive: false,
        upstream: {
          requests: [upstreamGot(1, 'GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding2: x\r\n\r\n')],
          errors: [{conn: 2, reason: 'bare LF', bytes: b('GET / HTTP/1.1\n')}],
          leftPending: [{conn: 3, pending: b('POST / HTTP/1.1\r\n')}],
        },
      }),
    ).map((v) => v.kind);
    expect(kinds).toEqual(['crash', 'hang', 'field-injected', 'upstream-malformed', 'upstream-left-mid-request']);
    expect(checkCase(observe({sent: GET_A, received: ok(1), healthy: false, upstream: {requests: [upstreamGot(1, FWD_A)], errors: [], leftPending: []}})).map((v) => v.kind)).toEqual(['health']);
  });

  it('a 502 while the upstream answered everything is a server error', () => {
    const o = observe({sent: GET_A, received: 'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'});
    expect(checkCase(o).map((v) => v.kind)).toEqual(['server-error']);
  });
});

describe('strict HTTP/1.1 parser', () => {
  it('frames Content-Length and chunked bodies, trailers, and keep-alive', () => {
    const r = parseRequestStream(b('POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: v\r\n\r\nPUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi'));
    expect(r.end).toEqual({kind: 'clean'});
    expect(r.requests.map((q) => [q.method, q.body.toString(), q.framing])).toEqual([
      ['POST', 'hello', 'chunked'],
      ['PUT', 'hi', 'length'],
    ]);
    expect(r.requests[0]!.trailers).toEqual([{name: 'T', value: 'v'}]);
  });

  it.each([
    ['CL and TE', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'both Content-Length'],
    ['TE not ending in chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n', 'final transfer coding'],
    ['repeated Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na', 'repeated Content-Length'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n', 'obs-fold'],
    ['bare LF in a field line', 'GET / HTTP/1.1\nHost: x\r\n\r\n', 'bare LF'],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 'invalid field name'],
    ['no Host', 'GET / HTTP/1.1\r\n\r\n', 'without Host'],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', 'repeated Host'],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 'HTTP/2.0'],
    ['HTTP/0.9', 'GET /\r\n\r\n', 'HTTP/0.9'],
    ['bad chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'chunk size'],
    ['chunk longer than its size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n', 'not followed by CRLF'],
  ])('rejects %s', (_name, raw, reason) => {
    const r = parseRequestStream(b(raw));
    expect(r.requests).toEqual([]);
    expect(r.end.kind).toBe('error');
    expect(r.end.kind === 'error' && r.end.reason).toContain(reason);
  });

  it('stops at a request that closes the connection and counts what follows', () => {
    const first = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const r = parseRequestStream(b(first + GET_B));
    expect(r.requests).toHaveLength(1);
    expect(r.end).toEqual({kind: 'closed', at: first.length, rest: GET_B.length});
  });

  it('parses responses by the method they answer', () => {
    const r = parseResponseStream(b('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'), ['HEAD', 'GET'], true);
    expect(r.end).toEqual({kind: 'clean'});
    expect(r.responses.map((x) => [x.status, x.body.toString()])).toEqual([
      [200, ''],
      [200, 'hi'],
    ]);
  });
});

describe('fuzz generator', () => {
  it('is deterministic by seed and case index, and varies across them', () => {
    const a = generateCase(42, 7);
    expect(generateCase(42, 7)).toEqual(a);
    const all = Array.from({length: 50}, (_, i) => Buffer.concat(generateCase(42, i).segments).toString('latin1'));
    expect(new Set(all).size).toBe(50);
    expect(Buffer.concat(generateCase(43, 7).segments).equals(Buffer.concat(a.segments))).toBe(false);
    // Nearby seeds share no case (a case seed that were seed XOR index would shift the same cases by one).
    const next = new Set(Array.from({length: 50}, (_, i) => Buffer.concat(generateCase(43, i).segments).toString('latin1')));
    expect(all.filter((x) => next.has(x))).toEqual([]);
  });

  it('covers every family and keeps valid cases valid for the strict parser', () => {
    const cases = Array.from({length: 400}, (_, i) => generateCase(1, i));
    expect(new Set(cases.map((c) => c.family)).size).toBe(11);
    for (const c of cases.filter((x) => x.family === 'valid' || x.family === 'keepalive' || x.family === 'pipelined')) {
      const r = parseRequestStream(Buffer.concat(c.segments));
      expect([c.id, r.end.kind]).toEqual([c.id, r.requests.at(-1)?.persistent === false ? 'closed' : 'clean']);
    }
  });
});
