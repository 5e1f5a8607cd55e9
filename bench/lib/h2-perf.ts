/**
 * bench/perf.ts's HTTP/2 (h2c) rows: direct to an h2c upstream (targets/h2-upstream.ts), lameduck with
 * `LAMEDUCK_UPSTREAM=h2c://`, the naive node:http2 proxy (targets/h2-pipe.ts) as the yardstick, and HAProxy with
 * `proto h2` on both sides. nginx is not in these rows: it proxies HTTP/2 to an upstream only as `grpc_pass`, which
 * expects gRPC responses. Load from h2load on the load core, the proxy alone on core 0, as in the HTTP/1.1 rows.
 *
 * Per target: saturated throughput (h2load, `clients` × `streams` in flight) and proxy CPU µs per request; p50/p99 at
 * a fixed 1 000 req/s (10 clients × 100 req/s, one stream each); RSS idle and after load.
 */
import {connect} from 'node:http2';
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {performance} from 'node:perf_hooks';
import type {ChildProcess} from 'node:child_process';
import {haproxyH2Config} from '../targets/haproxy.js';
import {runH2load, type H2loadResult} from './h2load.js';
import {cpuMicros, memory, processTree, type Memory} from './proc.js';
import {BenchError, HOST, firstJsonLine, freePort, has, spawnTracked, stopper, until200} from './processes.js';
import {markdownTable} from './report.js';

export interface H2Settings {
  warmupSeconds: number;
  saturatedSeconds: number;
  fixedSeconds: number;
  clients: number;
  streams: number;
}

interface H2Running {
  port: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface H2Measured {
  target: string;
  skipped?: string;
  idle?: Memory;
  afterLoad?: Memory;
  saturated?: H2loadResult & {proxyCpuUsPerReq: number};
  fixed?: H2loadResult & {proxyCpuUsPerReq: number};
  /** lameduck's row only: its requests over h2-pipe's, both saturated at once on the same core (sideBySide()). */
  sideBySide?: {ratios: number[]; median: number};
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once GET / over h2c answers 200 (bounded). */
async function untilH2ok(port: number, child: ChildProcess, ms = 10_000): Promise<void> {
  const until = performance.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new BenchError('EXITED', `target exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(`http://${HOST}:${port}`);
      s.on('error', () => resolve(false));
      const r = s.request({':path': '/'});
      r.on('response', (h) => resolve(h[':status'] === 200));
      r.on('error', () => resolve(false));
      r.resume();
      r.on('close', () => s.close());
      setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 1_000).unref();
    });
    if (ok) return;
    if (performance.now() > until) throw new BenchError('NOT_READY', `nothing answered h2c on port ${port}`);
    await sleep(100);
  }
}

export async function measureH2(opts: {sut: string[]; loadPin: string[]; work: string; dist: string; settings: H2Settings; log: (line: string) => void}): Promise<H2Measured[]> {
  const {sut, loadPin, work, dist, settings: s, log} = opts;
  const node = process.execPath;
  const up = await firstJsonLine([...loadPin, node, `${dist}bench/targets/h2-upstream.js`, `${HOST}:0`], {}, (l) => l.msg === 'listening');
  const upstreamPort = up.line.port as number;
  try {
    const targets: {name: string; start?: () => Promise<H2Running>; unavailable?: string}[] = [
      {name: 'direct-h2c', start: async () => ({port: upstreamPort, pid: undefined, stop: async () => {}})},
      {
        name: 'lameduck-h2c',
        start: async () => {
          const {child, line} = await firstJsonLine(
            [...sut, node, `${dist}proxy/src/main.js`],
            {LAMEDUCK_LISTEN: `${HOST}:0`, LAMEDUCK_ADMIN_LISTEN: `${HOST}:0`, LAMEDUCK_UPSTREAM: `h2c://${HOST}:${upstreamPort}`},
            (l) => l.msg === 'listening',
          );
          await until200((line.admin as {port: number}).port, '/readyz', child);
          return {port: (line.traffic as {port: number}).port, pid: child.pid, stop: stopper(child)};
        },
      },
      {
        name: 'h2-pipe',
        start: async () => {
          const {child, line} = await firstJsonLine([...sut, node, `${dist}bench/targets/h2-pipe.js`, `http://${HOST}:${upstreamPort}`, `${HOST}:0`], {}, (l) => l.msg === 'listening');
          await untilH2ok(line.port as number, child);
          return {port: line.port as number, pid: child.pid, stop: stopper(child)};
        },
      },
      has('haproxy', ['-v'])
        ? {
            name: 'haproxy-h2',
            start: async () => {
              const port = await freePort();
              const cfg = join(work, `haproxy-h2-${port}.cfg`);
              writeFileSync(cfg, haproxyH2Config({listenPort: port, upstreamPort, maxconn: 4096}));
              const child = spawnTracked([...sut, 'haproxy', '-db', '-f', cfg]);
              await untilH2ok(port, child);
              return {port, pid: child.pid, stop: stopper(child)};
            },
          }
        : {name: 'haproxy-h2', unavailable: 'haproxy not installed'},
    ];
    const rows: H2Measured[] = [];
    for (const t of targets) {
      if (!t.start) {
        rows.push({target: t.name, skipped: t.unavailable});
        continue;
      }
      try {
        rows.push(await measureOne(t.name, await t.start()));
      } catch (err) {
        log(`${t.name}: failed: ${(err as Error).message}`);
        rows.push({target: t.name, skipped: `failed: ${(err as Error).message}`});
      }
    }
    const lameduck = rows.find((r) => r.target === 'lameduck-h2c' && !r.skipped);
    if (lameduck && rows.some((r) => r.target === 'h2-pipe' && !r.skipped)) {
      try {
        lameduck.sideBySide = await sideBySide(targets[1]!.start!, targets[2]!.start!);
      } catch (err) {
        log(`side by side: failed: ${(err as Error).message}`);
      }
    }
    return rows;
  } finally {
    await stopper(up.child)();
  }

  /**
   * lameduck and h2-pipe on the proxy core at the same time, each saturated by its own h2load: the scheduler
   * shares the core between the two, so the ratio of requests each completes is the ratio of their CPU cost per
   * request, measured under the same conditions — whatever else the machine is doing at that moment (a shared
   * machine's load moves between two targets measured one after the other). Median of three rounds.
   */
  async function sideBySide(startLameduck: () => Promise<H2Running>, startPipe: () => Promise<H2Running>): Promise<{ratios: number[]; median: number}> {
    const [l, p] = [await startLameduck(), await startPipe()];
    try {
      const both = (seconds: number): Promise<[H2loadResult, H2loadResult]> =>
        Promise.all([l, p].map((run) => runH2load({pin: loadPin, url: `http://${HOST}:${run.port}/`, seconds, clients: s.clients, streams: s.streams}))) as Promise<[H2loadResult, H2loadResult]>;
      log(`side by side: lameduck-h2c and h2-pipe at once, warm-up ${s.warmupSeconds} s, 3 × ${s.saturatedSeconds} s`);
      await both(s.warmupSeconds);
      const ratios: number[] = [];
      for (let i = 0; i < 3; i++) {
        const [rl, rp] = await both(s.saturatedSeconds);
        ratios.push(rl.requests / rp.requests);
      }
      return {ratios, median: [...ratios].sort((a, b) => a - b)[1]!};
    } finally {
      await Promise.all([l.stop(), p.stop()]);
    }
  }

  async function measureOne(name: string, run: H2Running): Promise<H2Measured> {
    const pids = (): number[] => (run.pid === undefined ? [] : processTree(run.pid));
    const url = `http://${HOST}:${run.port}/`;
    try {
      await sleep(500);
      const m: H2Measured = {target: name};
      if (run.pid !== undefined) m.idle = memory(pids());
      log(`${name}: warm-up ${s.warmupSeconds} s, saturated ${s.saturatedSeconds} s (h2load -c${s.clients} -m${s.streams})`);
      await runH2load({pin: loadPin, url, seconds: s.warmupSeconds, clients: s.clients, streams: s.streams});
      let c0 = cpuMicros(pids());
      const sat = await runH2load({pin: loadPin, url, seconds: s.saturatedSeconds, clients: s.clients, streams: s.streams});
      m.saturated = {...sat, proxyCpuUsPerReq: (cpuMicros(pids()) - c0) / sat.requests};
      log(`${name}: ${s.fixedSeconds} s at 1 000 req/s`);
      c0 = cpuMicros(pids());
      const fixed = await runH2load({pin: loadPin, url, seconds: s.fixedSeconds, clients: 10, streams: 1, rpsPerClient: 100});
      m.fixed = {...fixed, proxyCpuUsPerReq: (cpuMicros(pids()) - c0) / fixed.requests};
      if (run.pid !== undefined) m.afterLoad = memory(pids());
      return m;
    } finally {
      await run.stop();
    }
  }
}

const f = (n: number | undefined, d = 0): string => (n !== undefined && Number.isFinite(n) ? n.toFixed(d) : '-');

export function h2Table(rows: H2Measured[]): string {
  const by = (t: string): H2Measured | undefined => rows.find((r) => r.target === t && !r.skipped);
  const direct = by('direct-h2c');
  const pipe = by('h2-pipe');
  const head = ['target (h2c)', 'req/s sat', '×direct', '×h2-pipe', 'p50/p99/p99.9 ms @1k', '+p50/+p99 ms @1k', 'CPU µs/req sat / @1k', 'CPU ×h2-pipe', 'RSS MB idle / after', 'failed'];
  const body = rows.map((r) => {
    if (r.skipped) return [r.target, `skipped: ${r.skipped}`, ...head.slice(2).map(() => '')];
    const proxied = r.target !== 'direct-h2c';
    const x = r.fixed;
    const d = direct?.fixed;
    return [
      r.target,
      f(r.saturated?.rps),
      f((r.saturated?.rps ?? NaN) / (direct?.saturated?.rps ?? NaN), 2),
      f((r.saturated?.rps ?? NaN) / (pipe?.saturated?.rps ?? NaN), 2),
      x ? `${f(x.p50Ms, 2)}/${f(x.p99Ms, 2)}/${f(x.p999Ms, 2)}` : '-',
      proxied && x && d ? `${f(x.p50Ms - d.p50Ms, 2)}/${f(x.p99Ms - d.p99Ms, 2)}` : '-',
      proxied ? `${f(r.saturated?.proxyCpuUsPerReq)} / ${f(r.fixed?.proxyCpuUsPerReq)}` : '-',
      proxied ? f((r.saturated?.proxyCpuUsPerReq ?? NaN) / (pipe?.saturated?.proxyCpuUsPerReq ?? NaN), 2) : '-',
      proxied ? `${f(r.idle?.rssMb, 1)} / ${f(r.afterLoad?.rssMb, 1)}` : '-',
      String((r.saturated?.failed ?? 0) + (r.fixed?.failed ?? 0)),
    ];
  });
  return markdownTable(head, body);
}

/**
 * The HTTP/2 targets (docs/performance.md): lameduck ≥ 1.0× the naive node:http2 proxy, ≤ +0.5 ms p50 at
 * 1 000 req/s. Each line says met or not, by how much, and the naive proxy's own figure beside it.
 */
export function h2Verdicts(rows: H2Measured[]): string[] {
  const by = (t: string): H2Measured | undefined => rows.find((r) => r.target === t && !r.skipped);
  const [d, p, l] = [by('direct-h2c'), by('h2-pipe'), by('lameduck-h2c')];
  if (!d?.fixed || !p?.saturated || !p.fixed || !l?.saturated || !l.fixed) return ['h2c targets: not checked (direct, h2-pipe or lameduck missing)'];
  const tput = l.saturated.rps / p.saturated.rps;
  const byCpu = p.saturated.proxyCpuUsPerReq / l.saturated.proxyCpuUsPerReq;
  const extraCpu = l.saturated.proxyCpuUsPerReq - p.saturated.proxyCpuUsPerReq;
  const added = l.fixed.p50Ms - d.fixed.p50Ms;
  const pipeAdded = p.fixed.p50Ms - d.fixed.p50Ms;
  const verdict = (ratio: number): string => (ratio >= 1 ? 'met' : `NOT met (${f((1 - ratio) * 100)} % short)`);
  const lines = ['h2c targets (lameduck, this run):'];
  if (l.sideBySide) {
    lines.push(`  throughput × h2-pipe (≥ 1.0), side by side on one core, median of ${l.sideBySide.ratios.map((r) => f(r, 2)).join(' / ')}: ${f(l.sideBySide.median, 2)} ${verdict(l.sideBySide.median)}`);
  }
  lines.push(
    `  throughput × h2-pipe (≥ 1.0), measured one after the other: ${f(tput, 2)} ${verdict(tput)}`,
    `  the same by CPU per request at saturation: ${f(byCpu, 2)} ${verdict(byCpu)}; lameduck ${f(l.saturated.proxyCpuUsPerReq)} µs, h2-pipe ${f(p.saturated.proxyCpuUsPerReq)} µs (${extraCpu >= 0 ? '+' : ''}${f(extraCpu)} µs: lameduck's accounting, X-Forwarded-*, timeouts, metrics)`,
    `  added p50 at 1 000 req/s (≤ 0.5 ms): +${f(added, 2)} ms ${added <= 0.5 ? 'met' : `NOT met (by ${f(added - 0.5, 2)} ms)`}; the naive node:http2 proxy adds +${f(pipeAdded, 2)} ms here${pipeAdded > 0.5 ? ', so no node:http2 proxy meets it on this machine' : ''}`,
  );
  return lines;
}
