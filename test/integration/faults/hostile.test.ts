/**
 * Hostile input not covered by the forwarder tests (docs/reliability.md): slowloris (300 connections dripping headers a byte at a
 * time) does not starve normal clients; an HTTP/2 client preface (h2c with prior knowledge) is answered in HTTP/2 and
 * reaches no app by itself; the admin port answers errors without stack traces or paths and never forwards anything to the app.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {ADMIN_PROBES, H2_PREFACE, leaksInternals, rawExchange, slowloris, startTarget, httpGet, type Target} from '../../../sim/faults/hostile.js';
import {killAll} from '../../../sim/processes.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget({LAMEDUCK_PRESTOP_TOKEN: 'the-real-token-0123456789'});
});
afterAll(async () => {
  await t?.close();
  await killAll();
});

describe('hostile input', () => {
  it('slowloris: 300 connections dripping headers do not starve normal clients', async () => {
    const r = await slowloris(t, {attackers: 300, durationMs: 3_000, rps: 40});
    expect(r.normal.total).toBeGreaterThan(60);
    expect(r.normal.byOutcome).toEqual(expect.objectContaining({ok: r.normal.total}));
    expect(r.normal.failed).toBe(0);
    // Generous: a shared 2-core machine; the point is "served", not "fast".
    expect(r.normal.p99).toBeLessThan(2_000);
    // The attackers never completed a request, so nothing of theirs reached the app.
    expect(t.seen.every((u) => u === '/')).toBe(true);
    // The proxy still serves afterwards.
    expect((await httpGet({host: '127.0.0.1', port: t.ld.trafficPort, path: '/after'})).status).toBe(200);
  }, 30_000);

  it('HTTP/2 preface on the traffic port: answered as h2c (SETTINGS frames), nothing reaches the app, still serving HTTP/1.1', async () => {
    const before = t.seen.length;
    const r = await rawExchange(t.ld.trafficPort, H2_PREFACE, 1_000);
    // The server's first frame is its SETTINGS (RFC 9113 §3.4): type 0x4 on stream 0; never an HTTP/1.1 answer.
    const bytes = Buffer.from(r.response, 'latin1');
    expect(bytes.length).toBeGreaterThanOrEqual(9);
    expect(bytes[3]).toBe(0x4);
    expect(bytes.readUInt32BE(5) & 0x7fffffff).toBe(0);
    expect(r.response).not.toMatch(/^HTTP\/1/);
    expect(t.seen.length).toBe(before);
    expect((await httpGet({host: '127.0.0.1', port: t.ld.trafficPort, path: '/after-h2'})).status).toBe(200);
  });

  it('admin port: error answers carry no stack or path, and nothing reaches the app', async () => {
    const before = t.seen.length;
    const results = await Promise.all(ADMIN_PROBES.map(async (p) => ({name: p.name, ...(await rawExchange(t.ld.adminPort, p.raw, 4_000))})));
    for (const r of results) {
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(r.response)?.[1];
      // Either a clean HTTP answer, or the connection closed; never silence held open.
      expect({name: r.name, answeredOrClosed: status !== undefined || r.closed}).toEqual({name: r.name, answeredOrClosed: true});
      expect({name: r.name, leak: leaksInternals(r.response)}).toEqual({name: r.name, leak: undefined});
      // A wrong token never drains: the pod is not terminating, so nothing to drain.
      if (r.name === 'wrong prestop token') expect(r.response).toMatch(/nothing to drain/);
      if (r.name === 'app path on admin' || r.name === 'absolute-form to the app') expect(status).toBe('404');
    }
    expect(t.seen.length).toBe(before);
    expect(t.ld.logs.some((l) => l.msg === 'prestop token rejected')).toBe(true);
    expect(t.ld.logs.some((l) => l.msg === 'drain started')).toBe(false);
  }, 20_000);
});
