/**
 * Fault matrix, client side (docs/reliability.md, faults 11 and 12): a storm of client aborts before a drain, and many idle
 * keep-alive connections open at the trigger (closed at `closing`, memory bounded, fds released — measured from /proc).
 */
import {connect, type Socket} from 'node:net';
import {request} from 'node:http';
import {runDrainScenario} from './drain-scenario.js';
import {procStats, type ProcStats} from './proc-stats.js';
import {sampleSum} from './prom-text.js';
import type {Verdict} from './verdict.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const LOAD = {rps: 40, keepAliveFraction: 0.5};
const STANDALONE = {api: false, env: {LAMEDUCK_FALLBACK_DELAY: '500ms'}};

/** 11. A storm of client aborts (`aborts` slow requests given up after 10-60 ms) while normal load is served. */
export const clientAbortStorm = (aborts = 300): Promise<Verdict> =>
  runDrainScenario({
    id: '11',
    name: `client-abort storm (${aborts} aborted requests)`,
    world: {...STANDALONE, deadlineMs: 3_000, load: LOAD},
    before: async (w) => {
      const gone: Promise<void>[] = [];
      for (let i = 0; i < aborts; i++) {
        gone.push(
          new Promise<void>((resolve) => {
            const req = request({host: '127.0.0.1', port: w.ld.trafficPort, path: '/slow?ms=5000', agent: false});
            req.on('error', () => resolve());
            req.on('close', () => resolve());
            req.end();
            setTimeout(() => req.destroy(), 10 + Math.random() * 50);
          }),
        );
        if (i % 20 === 19) await sleep(20);
      }
      await Promise.all(gone);
      await sleep(300);
    },
    log: {want: 'drain summary (no request cut)', match: (l) => l.msg === 'drain summary' && (l.cut as {requests?: number}).requests === 0},
    // Only aborts of requests lameduck had read count (a connection closed before its request arrived is no request):
    // on a busy machine that is a varying share, so the bound is loose; the checks that matter are below and `lost`.
    metric: {name: 'lameduck_client_aborts_total', min: Math.floor(aborts / 4)},
    check: async (_w, {metrics}) => {
      // Every aborted request also aborted its upstream request: nothing is left in flight to hold the drain.
      const inFlight = sampleSum(metrics, 'lameduck_requests_in_flight');
      return {failures: inFlight === 0 ? [] : [`requests_in_flight ${inFlight} after the storm`], notes: [`client_aborts_total ${sampleSum(metrics, 'lameduck_client_aborts_total')}`]};
    },
  });

/** Opens `n` keep-alive connections, one request each, then leaves them idle. */
async function openIdle(port: number, n: number): Promise<{sockets: Socket[]; closed: () => number}> {
  const sockets: Socket[] = [];
  let closed = 0;
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(
      Array.from({length: Math.min(batch, n - i)}, () =>
        new Promise<void>((resolve, reject) => {
          const s = connect({host: '127.0.0.1', port});
          sockets.push(s);
          let got = '';
          const onData = (c: Buffer): void => {
            got += c.toString('latin1');
            if (/\r\n\r\n[\s\S]*hello/.test(got)) {
              s.off('data', onData);
              s.resume();
              resolve();
            }
          };
          s.on('data', onData);
          s.once('error', reject);
          s.on('close', () => closed++);
          s.write('GET / HTTP/1.1\r\nHost: lameduck\r\nConnection: keep-alive\r\n\r\n');
        }),
      ),
    );
  }
  for (const s of sockets) s.on('error', () => undefined);
  return {sockets, closed: () => closed};
}

/** 12. `n` idle keep-alive connections at the trigger: all closed at `closing`, RSS bounded, fds released. */
export const idleKeepAliveAtTrigger = (n = 2_000, maxRssMiB = 300): Promise<Verdict> => {
  let idle: {sockets: Socket[]; closed: () => number} | undefined;
  const stats: {before?: ProcStats; open?: ProcStats; after?: ProcStats} = {};
  return runDrainScenario({
    id: '12',
    name: `${n} idle keep-alive connections at the trigger`,
    world: {...STANDALONE, deadlineMs: 5_000, load: LOAD},
    warmMs: 300,
    before: async (w) => {
      stats.before = procStats(w.ld.pid);
      idle = await openIdle(w.ld.trafficPort, n);
      await sleep(200);
      stats.open = procStats(w.ld.pid);
    },
    log: {want: 'phase closing with the open connections', match: (l) => l.msg === 'phase' && l.to === 'closing' && Number(l.openConnections) >= n},
    metric: {name: 'nodejs_eventloop_lag_seconds', min: 0},
    check: async (w) => {
      const failures: string[] = [];
      // Closed at `closing` (not cut at the deadline): the server ended every idle socket.
      const until = Date.now() + 3_000;
      while (idle && idle.closed() < n && Date.now() < until) await sleep(50);
      if ((idle?.closed() ?? 0) < n) failures.push(`${n - (idle?.closed() ?? 0)} idle connections still open after the drain`);
      const summary = w.ld.logs.find((l) => l.msg === 'drain summary') as {cut?: {connections?: number}} | undefined;
      if ((summary?.cut?.connections ?? 0) > 0) failures.push(`${summary?.cut?.connections} connections cut at the deadline instead of closed at closing`);
      stats.after = procStats(w.ld.pid);
      if (stats.open && stats.open.rssMiB > maxRssMiB) failures.push(`RSS ${stats.open.rssMiB} MiB with ${n} connections > ${maxRssMiB}`);
      if (stats.open && stats.open.fds < n) failures.push(`only ${stats.open.fds} fds with ${n} connections open: not measuring what we think`);
      if (stats.before && stats.after && stats.after.fds > stats.before.fds + 50) failures.push(`fds not released: ${stats.before.fds} before, ${stats.after.fds} after`);
      for (const s of idle?.sockets ?? []) s.destroy();
      return {
        failures,
        notes: [
          `RSS ${stats.before?.rssMiB} → ${stats.open?.rssMiB} MiB with ${n} open → ${stats.after?.rssMiB} after; fds ${stats.before?.fds} → ${stats.open?.fds} → ${stats.after?.fds}`,
        ],
      };
    },
  });
};

export const CONNECTION_SCENARIOS = [() => clientAbortStorm(300), () => idleKeepAliveAtTrigger(2_000)];
