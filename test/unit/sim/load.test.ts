import {afterEach, describe, expect, it} from '@jest/globals';
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import {startLoad, summarize, type Load, type RequestRecord} from '../../../sim/load.js';

// The load generator against tiny real servers on port 0: each outcome is produced by a server that really
// behaves that way, never by a stub of the generator.

interface TestServer {
  port: number;
  requests: number;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
const loads: Load[] = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    state.requests++;
    handler(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const state: TestServer = {
    port: (server.address() as AddressInfo).port,
    requests: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  servers.push(state);
  return state;
}

function load(opts: Parameters<typeof startLoad>[0]): Load {
  const l = startLoad(opts);
  loads.push(l);
  return l;
}

afterEach(async () => {
  await Promise.all(loads.splice(0).map((l) => l.stop()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const outcomes = (records: RequestRecord[]): string[] => [...new Set(records.map((r) => r.outcome))].sort();

describe('load generator', () => {
  it('keeps a constant open-loop rate, mixes keep-alive and fresh connections, and stops by itself after durationMs', async () => {
    const connections = new Set<number>();
    const server = await serve((req, res) => {
      connections.add(req.socket.remotePort!);
      res.setHeader('x-pod-name', 'pod-a');
      res.end('hi');
    });
    const l = load({host: '127.0.0.1', port: server.port, rps: 100, durationMs: 1500, keepAliveFraction: 0.5});
    const report = await l.finished;
    // 150 arrivals expected; generous bounds for a shared 2-core machine.
    expect(report.total).toBeGreaterThan(100);
    expect(report.total).toBeLessThan(200);
    expect(report.failed).toBe(0);
    expect(report.byOutcome.ok).toBe(report.total);
    expect(server.requests).toBe(report.total);
    expect(report.records.every((r) => r.pod === 'pod-a' && r.status === 200)).toBe(true);
    const keepalive = report.records.filter((r) => r.kind === 'keepalive').length;
    const fresh = report.records.filter((r) => r.kind === 'fresh').length;
    expect(keepalive).toBeGreaterThan(report.total * 0.25);
    expect(fresh).toBeGreaterThan(report.total * 0.25);
    // Keep-alive requests share connections: fewer connections than requests, at least one per fresh request.
    expect(connections.size).toBeLessThan(report.total);
    expect(connections.size).toBeGreaterThanOrEqual(fresh);
    // Arrivals spread over the duration rather than in a burst at the start.
    const starts = report.records.map((r) => r.start).sort((a, b) => a - b);
    expect(starts[starts.length - 1]! - starts[0]!).toBeGreaterThan(1000);
    expect(report.p50).toBeGreaterThan(0);
    expect(report.p99).toBeGreaterThanOrEqual(report.p50);
  });

  it('stops by itself after maxRequests', async () => {
    const server = await serve((_req, res) => res.end('x'));
    const report = await load({host: '127.0.0.1', port: server.port, rps: 200, maxRequests: 25}).finished;
    expect(report.total).toBe(25);
    expect(server.requests).toBe(25);
  });

  it('classifies a closed port as refused', async () => {
    const server = await serve((_req, res) => res.end());
    const port = server.port;
    await servers.splice(0)[0]!.close();
    const report = await load({host: '127.0.0.1', port, rps: 100, maxRequests: 10}).finished;
    expect(report.total).toBe(10);
    expect(report.byOutcome.refused).toBe(10);
    expect(report.failed).toBe(10);
  });

  it('classifies a connection destroyed mid-request as reset', async () => {
    const server = await serve((req) => req.socket.destroy());
    const report = await load({host: '127.0.0.1', port: server.port, rps: 100, maxRequests: 10}).finished;
    expect(report.byOutcome.reset).toBe(10);
  });

  it('classifies a body cut short as reset, not ok', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, {'content-length': 1000});
      res.write('only part of it', () => req.socket.destroy());
    });
    const report = await load({host: '127.0.0.1', port: server.port, rps: 100, maxRequests: 6}).finished;
    expect(outcomes(report.records)).toEqual(['reset']);
  });

  it('classifies status codes: 5xx and 4xx', async () => {
    const server = await serve((req, res) => {
      res.statusCode = req.url === '/missing' ? 404 : 503;
      res.end();
    });
    const r5 = await load({host: '127.0.0.1', port: server.port, rps: 100, maxRequests: 5}).finished;
    expect(r5.byOutcome['5xx']).toBe(5);
    expect(r5.records.every((r) => r.status === 503)).toBe(true);
    const r4 = await load({host: '127.0.0.1', port: server.port, rps: 100, maxRequests: 5, path: '/missing'}).finished;
    expect(r4.byOutcome['4xx']).toBe(5);
  });

  it('classifies a server that never answers as timeout, and stop() waits no longer than the timeout', async () => {
    const server = await serve(() => {
      /* never answers */
    });
    const l = load({host: '127.0.0.1', port: server.port, rps: 50, timeoutMs: 400, durationMs: 5000});
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const report = await l.stop();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(report.total).toBeGreaterThan(3);
    expect(outcomes(report.records)).toEqual(['timeout']);
    for (const r of report.records) expect(r.end - r.start).toBeGreaterThanOrEqual(390);
  });

  it('re-dials after Connection: close, and setTarget moves new connections while open keep-alive ones stay', async () => {
    let aSaysClose = false;
    const a = await serve((_req, res) => {
      res.setHeader('x-pod-name', 'a');
      if (aSaysClose) res.setHeader('connection', 'close');
      res.end('a');
    });
    const b = await serve((_req, res) => {
      res.setHeader('x-pod-name', 'b');
      res.end('b');
    });
    const l = load({host: '127.0.0.1', port: a.port, rps: 100, keepAliveFraction: 1, durationMs: 10_000});
    const waitFor = async (cond: () => boolean): Promise<void> => {
      for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
      expect(cond()).toBe(true);
    };
    await waitFor(() => l.records.length >= 20);
    l.setTarget('127.0.0.1', b.port);
    const movedAt = l.issued;
    // Keep-alive connections opened before the move keep going to a (conntrack keeps the DNAT).
    await waitFor(() => l.records.filter((r) => r.id > movedAt).length >= 20);
    expect(l.records.filter((r) => r.id > movedAt).some((r) => r.pod === 'a')).toBe(true);
    // Once a answers Connection: close, every client re-dials and lands on b.
    aSaysClose = true;
    const closedAt = l.issued;
    await waitFor(() => l.records.filter((r) => r.id > closedAt && r.pod === 'b').length >= 20);
    const report = await l.stop();
    expect(report.failed).toBe(0);
    // Every answer from a after the switch said Connection: close, and the client never reused such a connection:
    // whatever still reached a came over connections that were already open (the pool reuses its most recent
    // sockets first, so a's idle ones may never be picked again at all — that is fine too).
    const aAfter = report.records.filter((r) => r.pod === 'a' && r.id > closedAt);
    expect(aAfter.every((r) => r.connectionClose === true)).toBe(true);
    if (aAfter.length > 0) {
      // After the last Connection: close from a, nothing more reaches a.
      const lastClose = Math.max(...report.records.filter((r) => r.connectionClose).map((r) => r.id));
      const lastA = Math.max(...report.records.filter((r) => r.pod === 'a').map((r) => r.id));
      expect(lastA).toBe(lastClose);
    }
    expect(report.records.filter((r) => r.pod === 'b').every((r) => r.target === `127.0.0.1:${b.port}`)).toBe(true);
  });

  it('sends slow and stream requests in the configured shares', async () => {
    const server = await serve((req, res) => {
      if (req.url!.startsWith('/slow')) setTimeout(() => res.end('slow'), 100);
      else res.end('x');
    });
    const report = await load({
      host: '127.0.0.1', port: server.port, rps: 100, maxRequests: 100, slowFraction: 0.3, streamFraction: 0.2, slowMs: 100,
    }).finished;
    const count = (k: string): number => report.records.filter((r) => r.kind === k).length;
    expect(count('slow')).toBeGreaterThan(10);
    expect(count('stream')).toBeGreaterThan(5);
    expect(report.records.filter((r) => r.kind === 'slow').every((r) => r.path === '/slow?ms=100')).toBe(true);
    expect(report.records.filter((r) => r.kind === 'stream').every((r) => r.path.startsWith('/stream?'))).toBe(true);
    expect(report.failed).toBe(0);
  });
});

describe('summarize', () => {
  it('counts every outcome (zeros included) and takes percentiles over ok plain requests only', () => {
    const rec = (id: number, kind: RequestRecord['kind'], ms: number, outcome: RequestRecord['outcome']): RequestRecord => ({
      id, kind, path: '/', start: 1000, end: 1000 + ms, outcome,
    });
    const records = [
      ...Array.from({length: 100}, (_, i) => rec(i, i % 2 ? 'keepalive' : 'fresh', i + 1, 'ok')),
      rec(100, 'slow', 5000, 'ok'),
      rec(101, 'keepalive', 9000, 'reset'),
    ];
    const report = summarize(records);
    expect(report.total).toBe(102);
    expect(report.ok).toBe(101);
    expect(report.failed).toBe(1);
    expect(report.byOutcome).toEqual({ok: 101, refused: 0, reset: 1, '5xx': 0, '4xx': 0, timeout: 0, unavailable: 0, error: 0});
    expect(report.p50).toBe(50);
    expect(report.p99).toBe(99);
    expect(summarize([]).p50).toBeNaN();
  });
});
