// Side-by-side performance of a sidecar proxy (docs/performance.md): direct, lameduck (standalone, and as a pod runs it: with pod
// identity and a kubeconfig of the local API server simulation, "lameduck-pod"), the naive node:http pipe
// (bench/targets/minimal-pipe.ts, never tuned), a Node byte relay with no HTTP (bench/targets/node-relay.ts: the floor under any
// Node proxy, for reference), nginx and HAProxy, in one run, loopback only, every load bounded.
//
//   npm run bench                      full run (~3 min)
//   npm run bench -- --quick           ~1.2 min, shorter cells, one start-up sample
//   npm run bench -- --profile         lameduck only, under wrk, with node --cpu-prof; prints the top self-time frames
//   npm run bench -- --h2              the HTTP/2 (h2c) rows only (bench/lib/h2-perf.ts); a full run ends with them
//                                      when h2load (Debian nghttp2-client) is installed
//
// Placement (2 cores): each proxy alone on core 0 (taskset), so its CPU time and its saturated throughput are its
// own; the load generators, the upstream and this process on core 1. A proxy that does not fill core 0 at
// saturation ("core0 proxy/other %": its own share, and what other processes took) was held back by core 1
// (upstream + wrk) or by other work on the machine, not by itself. Direct has no proxy: the upstream shares core 1
// with wrk. On a shared machine, latency and throughput move with other people's work; CPU per request, the
// req/s-per-core estimate from it, RSS and the CPU time to start move much less (the table shows both).
//
// Figures per target: saturated throughput (wrk, closed loop); p50/p99/p99.9 at fixed ~1 000 and ~4 000 req/s with
// jittered arrivals (open loop, bench/lib/load.ts); proxy CPU µs per request from /proc (utime+stime delta /
// requests, master and workers); RSS idle and with 1 000 held connections; start-up from spawn to /readyz 200
// (lameduck) or to the first 200 through it (others). One table with ratios to direct and to the pipe; a JSON file
// in bench/results/ so runs can be compared.
import {execFileSync, spawnSync} from 'node:child_process';
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {cpus, loadavg, release, tmpdir, totalmem} from 'node:os';
import {join} from 'node:path';
import {performance} from 'node:perf_hooks';
import {fileURLToPath} from 'node:url';
import {holdConnections} from './lib/conns.js';
import {haproxyConfig} from './targets/haproxy.js';
import type {FixedRateResult} from './lib/load.js';
import {nginxConfig} from './targets/nginx.js';
import {busyShare, coreTimes, cpuMicros, memory, processTree, type Memory} from './lib/proc.js';
import {formatProfileSummary, summarizeCpuProfile, type CpuProfile} from './lib/profile.js';
import {runWrk, type WrkResult} from './lib/wrk.js';
import {markdownTable, writeResults} from './lib/report.js';
import {runBench} from './lib/run-bench.js';
import {BenchError, HOST, firstJsonLine, freePort, has, killAll, killTree, spawnTracked, status, stopper, until200} from './lib/processes.js';
import {startApiServer, type ApiServer} from '../sim/kube/apiserver.js';
import {h2Table, h2Verdicts, measureH2, type H2Measured, type H2Settings} from './lib/h2-perf.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = fileURLToPath(new URL('../', import.meta.url));


interface Settings {
  mode: 'full' | 'quick';
  warmupSeconds: number;
  saturatedSeconds: number;
  wrkConnections: number;
  rates: number[];
  fixedSeconds: number;
  heldConnections: number;
  startupSamples: number;
}

const FULL: Settings = {mode: 'full', warmupSeconds: 2, saturatedSeconds: 8, wrkConnections: 64, rates: [1000, 4000], fixedSeconds: 10, heldConnections: 1000, startupSamples: 3};
const H2_FULL: H2Settings = {warmupSeconds: 2, saturatedSeconds: 8, fixedSeconds: 10, clients: 16, streams: 16};
const H2_QUICK: H2Settings = {warmupSeconds: 1, saturatedSeconds: 3, fixedSeconds: 4, clients: 16, streams: 16};
const QUICK: Settings = {mode: 'quick', warmupSeconds: 1, saturatedSeconds: 3, wrkConnections: 64, rates: [1000, 4000], fixedSeconds: 4, heldConnections: 1000, startupSamples: 1};

interface Running {
  port: number;
  /** Root pid of the proxy (taskset execs, so it is the proxy itself); undefined for direct. */
  pid: number | undefined;
  startupMs: number;
  /** CPU time the proxy used from spawn to ready: roughly its start-up time on an otherwise idle core. */
  startupCpuMs: number;
  stop(): Promise<void>;
}

interface Measured {
  target: string;
  startupMs: number[];
  startupCpuMs: number[];
  idle?: Memory;
  afterLoad?: Memory;
  held?: Memory & {ok: number; failed: number};
  saturated: WrkResult & {proxyCpuUsPerReq: number; upstreamCpuUsPerReq: number; proxyCoreShare: number; core0Busy: number; core1Busy: number};
  fixed: Array<FixedRateResult & {proxyCpuUsPerReq: number}>;
  skipped?: string;
}


interface TargetDef {
  name: string;
  /** Undefined when it cannot run here (reason in `unavailable`). */
  start?: () => Promise<Running>;
  unavailable?: string;
}

/**
 * What a pod runs: lameduck with its pod identity and API credentials (a kubeconfig of the local API server
 * simulation, sim/kube/), so that its memory and start-up include the Kubernetes side. It sends no API
 * request while serving (docs/design.md), so its request path is the standalone one's.
 */
interface PodIdentity {
  env: Record<string, string>;
}

function targets(sut: string[], upstreamPort: number, work: string, pod: PodIdentity | undefined): TargetDef[] {
  const node = process.execPath;
  const upstreamUrl = `http://${HOST}:${upstreamPort}`;
  const lameduckWith = (extraEnv: Record<string, string>) => async (): Promise<Running> => {
    const t0 = performance.now();
    const {child, line} = await firstJsonLine(
      [...sut, node, `${DIST}proxy/src/main.js`],
      {LAMEDUCK_LISTEN: `${HOST}:0`, LAMEDUCK_ADMIN_LISTEN: `${HOST}:0`, LAMEDUCK_UPSTREAM: upstreamUrl, ...extraEnv},
      (l) => l.msg === 'listening',
    );
    const ready = await until200((line.admin as {port: number}).port, '/readyz', child);
    return {port: (line.traffic as {port: number}).port, pid: child.pid, startupMs: ready - t0, startupCpuMs: cpuMicros(processTree(child.pid!)) / 1000, stop: stopper(child)};
  };
  // The two yardsticks written in Node (bench/targets/minimal-pipe.ts, bench/targets/node-relay.ts): `script <upstream> host:0`.
  const nodeYardstick = (script: string) => async (): Promise<Running> => {
    const t0 = performance.now();
    const {child, line} = await firstJsonLine([...sut, node, `${DIST}bench/targets/${script}`, upstreamUrl, `${HOST}:0`], {}, (l) => l.msg === 'listening');
    const ready = await until200(line.port as number, '/', child);
    return {port: line.port as number, pid: child.pid, startupMs: ready - t0, startupCpuMs: cpuMicros(processTree(child.pid!)) / 1000, stop: stopper(child)};
  };
  let n = 0;
  const nginx = async (): Promise<Running> => {
    const dir = mkdtempSync(join(work, `nginx-${n++}-`));
    chmodSync(dir, 0o755); // as root, nginx's workers run as nobody and must reach their temp paths
    const port = await freePort();
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig({dir, listenPort: port, upstreamPort, workerConnections: 4096}));
    const t0 = performance.now();
    const child = spawnTracked([...sut, 'nginx', '-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')]);
    const ready = await until200(port, '/', child);
    return {port, pid: child.pid, startupMs: ready - t0, startupCpuMs: cpuMicros(processTree(child.pid!)) / 1000, stop: stopper(child)};
  };
  const haproxy = async (): Promise<Running> => {
    const port = await freePort();
    const cfg = join(work, `haproxy-${n++}.cfg`);
    writeFileSync(cfg, haproxyConfig({listenPort: port, upstreamPort, maxconn: 4096}));
    const t0 = performance.now();
    const child = spawnTracked([...sut, 'haproxy', '-db', '-f', cfg]);
    const ready = await until200(port, '/', child);
    return {port, pid: child.pid, startupMs: ready - t0, startupCpuMs: cpuMicros(processTree(child.pid!)) / 1000, stop: stopper(child)};
  };
  return [
    {name: 'direct', start: async () => ({port: upstreamPort, pid: undefined, startupMs: NaN, startupCpuMs: NaN, stop: async () => {}})},
    {name: 'lameduck', start: lameduckWith({})},
    pod ? {name: 'lameduck-pod', start: lameduckWith(pod.env)} : {name: 'lameduck-pod', unavailable: 'no API server simulation'},
    {name: 'pipe', start: nodeYardstick('minimal-pipe.js')},
    {name: 'node-relay', start: nodeYardstick('node-relay.js')},
    has('nginx', ['-v']) ? {name: 'nginx', start: nginx} : {name: 'nginx', unavailable: 'nginx not installed'},
    has('haproxy', ['-v']) ? {name: 'haproxy', start: haproxy} : {name: 'haproxy', unavailable: 'haproxy not installed'},
  ];
}

/** The Debian packages, installed when missing (docs/performance.md: "the bench installs them if missing and says so"). */
function ensurePackages(): void {
  const missing = ['nginx', 'haproxy'].filter((p) => !has(p, ['-v']));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !has('apt-get', ['--version'])) {
    process.stderr.write(`perf: ${missing.join(', ')} missing and cannot be installed here (needs root and apt-get): those columns are skipped\n`);
    return;
  }
  process.stderr.write(`perf: installing ${missing.join(' ')} (apt-get install -y --no-install-recommends ${missing.join(' ')})...\n`);
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000});
  if (r.status !== 0) process.stderr.write(`perf: apt-get failed (${r.status ?? r.signal}); the missing proxies are skipped\n`);
}

function fixedRate(loadPin: string[], port: number, rps: number, seconds: number): Promise<FixedRateResult> {
  return new Promise((resolve, reject) => {
    let result: FixedRateResult | undefined;
    const child = spawnTracked([...loadPin, process.execPath, `${DIST}bench/lib/load.js`, HOST, String(port), String(rps), String(seconds)], {}, (line) => {
      try {
        result = JSON.parse(line) as FixedRateResult;
      } catch {
        /* not the result */
      }
    });
    const guard = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000);
    child.on('exit', (code) => {
      clearTimeout(guard);
      if (code === 0 && result) resolve(result);
      else reject(new BenchError('LOAD_FAILED', `open-loop load at ${rps} req/s exited with ${code}`));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The machine is shared (other engineers' test runs): wait, bounded, for a moment when both cores are mostly idle,
 * so that the run does not start in the middle of someone's suite. Returns the busy share seen last (0..1).
 */
async function waitForQuiet(maxMs: number): Promise<number> {
  const until = Date.now() + maxMs;
  for (;;) {
    const a = coreTimes();
    await sleep(1000);
    const b = coreTimes();
    const busy = Math.max(busyShare(a, b, 0), busyShare(a, b, 1));
    if (busy < 0.3 || Date.now() >= until) return busy;
    process.stderr.write(`perf: machine busy (${f(100 * busy)}% of a core taken by other work), waiting for quiet (${Math.round((until - Date.now()) / 1000)} s left)\n`);
    await sleep(4000);
  }
}

async function measure(def: TargetDef, s: Settings, pins: {load: string[]}, upstreamPid: number): Promise<Measured> {
  const base: Measured = {target: def.name, startupMs: [], startupCpuMs: [], saturated: {} as Measured['saturated'], fixed: []};
  if (!def.start) return {...base, skipped: def.unavailable};
  // Extra start-up samples: start, time, stop; the last start is the instance that gets measured.
  for (let i = 1; i < s.startupSamples && def.name !== 'direct'; i++) {
    const r = await def.start();
    base.startupMs.push(r.startupMs);
    base.startupCpuMs.push(r.startupCpuMs);
    await r.stop();
  }
  const run = await def.start();
  if (def.name !== 'direct') {
    base.startupMs.push(run.startupMs);
    base.startupCpuMs.push(run.startupCpuMs);
  }
  const pids = (): number[] => (run.pid === undefined ? [] : processTree(run.pid));
  try {
    const url = `http://${HOST}:${run.port}/`;
    if ((await status(run.port, '/')) !== 200) throw new BenchError('NOT_200', `${def.name}: GET / did not answer 200`);
    await sleep(1000);
    if (run.pid !== undefined) base.idle = memory(pids());

    process.stderr.write(`${def.name}: warm-up ${s.warmupSeconds} s, saturated ${s.saturatedSeconds} s\n`);
    await runWrk({pin: pins.load, url, seconds: s.warmupSeconds, connections: s.wrkConnections});
    const [p0, u0, c0] = [cpuMicros(pids()), cpuMicros([upstreamPid]), coreTimes()];
    const sat = await runWrk({pin: pins.load, url, seconds: s.saturatedSeconds, connections: s.wrkConnections});
    const [p1, u1, c1] = [cpuMicros(pids()), cpuMicros([upstreamPid]), coreTimes()];
    base.saturated = {
      ...sat,
      proxyCpuUsPerReq: (p1 - p0) / sat.requests,
      upstreamCpuUsPerReq: (u1 - u0) / sat.requests,
      proxyCoreShare: (p1 - p0) / (sat.seconds * 1e6),
      core0Busy: busyShare(c0, c1, 0),
      core1Busy: busyShare(c0, c1, 1),
    };

    for (const rate of s.rates) {
      process.stderr.write(`${def.name}: ${s.fixedSeconds} s at ${rate} req/s (open loop)\n`);
      const c0 = cpuMicros(pids());
      const r = await fixedRate(pins.load, run.port, rate, s.fixedSeconds);
      base.fixed.push({...r, proxyCpuUsPerReq: (cpuMicros(pids()) - c0) / r.total});
    }
    if (run.pid !== undefined) base.afterLoad = memory(pids());

    process.stderr.write(`${def.name}: ${s.heldConnections} connections held\n`);
    const held = await holdConnections({host: HOST, port: run.port, count: s.heldConnections});
    try {
      await sleep(500);
      if (run.pid !== undefined) base.held = {...memory(pids()), ok: held.ok, failed: held.failed};
    } finally {
      held.close();
    }
    return base;
  } finally {
    await run.stop();
  }
}

const f = (n: number | undefined, d = 0): string => (n !== undefined && Number.isFinite(n) ? n.toFixed(d) : '-');
const median = (xs: number[]): number => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length === 0 ? NaN : a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
};

function table(rows: Measured[]): string {
  const by = (t: string): Measured | undefined => rows.find((r) => r.target === t && !r.skipped);
  const direct = by('direct');
  const pipe = by('pipe');
  const [lo, hi] = [0, 1];
  const head = [
    'target', 'req/s sat', '×direct', '×pipe', 'core0 proxy/other %',
    'p50/p99/p99.9 ms @1k', '+p50/+p99 ms @1k', 'p50/p99/p99.9 ms @4k (got)', '+p50/+p99 ms @4k',
    'CPU µs/req sat / @1k / @4k', 'CPU ×pipe', 'req/s/core est.', 'RSS MB idle', 'RSS MB 1k conns', 'ready ms (CPU ms)', 'errors',
  ];
  const lat = (x: FixedRateResult | undefined): string => (x ? `${f(x.p50Ms, 2)}/${f(x.p99Ms, 2)}/${f(x.p999Ms, 2)}` : '-');
  const added = (x: FixedRateResult | undefined, d: FixedRateResult | undefined): string => (x && d ? `${f(x.p50Ms - d.p50Ms, 2)}/${f(x.p99Ms - d.p99Ms, 2)}` : '-');
  const body = rows.map((r) => {
    if (r.skipped) return [r.target, `skipped: ${r.skipped}`, ...head.slice(2).map(() => '')];
    const proxied = r.target !== 'direct';
    return [
      r.target,
      f(r.saturated.rps),
      f(r.saturated.rps / (direct?.saturated.rps ?? NaN), 2),
      f(r.saturated.rps / (pipe?.saturated.rps ?? NaN), 2),
      proxied ? `${f(100 * r.saturated.proxyCoreShare)}/${f(100 * (r.saturated.core0Busy - r.saturated.proxyCoreShare))}` : `-/${f(100 * r.saturated.core0Busy)}`,
      lat(r.fixed[lo]),
      proxied ? added(r.fixed[lo], direct?.fixed[lo]) : '-',
      r.fixed[hi] ? `${lat(r.fixed[hi])} (${f(r.fixed[hi]!.achievedRps)})` : '-',
      proxied ? added(r.fixed[hi], direct?.fixed[hi]) : '-',
      proxied ? `${f(r.saturated.proxyCpuUsPerReq)} / ${f(r.fixed[lo]?.proxyCpuUsPerReq)} / ${f(r.fixed[hi]?.proxyCpuUsPerReq)}` : '-',
      proxied ? f(r.saturated.proxyCpuUsPerReq / (pipe?.saturated.proxyCpuUsPerReq ?? NaN), 2) : '-',
      // What one dedicated core would carry if the proxy's own CPU were the only limit: robust to a busy machine.
      proxied ? f(1e6 / r.saturated.proxyCpuUsPerReq) : '-',
      proxied ? f(r.idle?.rssMb, 1) : '-',
      proxied ? `${f(r.held?.rssMb, 1)}${r.held?.failed ? ` (${r.held.failed} failed)` : ''}` : '-',
      proxied ? `${f(median(r.startupMs))} (${f(median(r.startupCpuMs))})` : '-',
      String((r.saturated.errors ?? 0) + r.fixed.reduce((a, x) => a + x.failed, 0)),
    ];
  });
  return markdownTable(head, body);
}

/** The performance targets (docs/performance.md), checked against this run's figures. */
function verdicts(rows: Measured[]): string[] {
  const by = (t: string): Measured | undefined => rows.find((r) => r.target === t && !r.skipped);
  const [d, p, l, relay, inPod] = [by('direct'), by('pipe'), by('lameduck'), by('node-relay'), by('lameduck-pod')];
  if (!d || !p || !l) return ['targets: not checked (direct, pipe or lameduck missing)'];
  // A latency or throughput verdict means nothing when the machine, not the proxy, set the figure: direct itself slow
  // (its p50 at 1 000 req/s above 2 ms), or other processes taking over a third of the proxy's core.
  const overloaded = d.fixed[0]!.p50Ms > 2 || [l, p].some((r) => r.saturated.core0Busy - r.saturated.proxyCoreShare > 0.33);
  const check = (label: string, value: number, ok: boolean, unit = '', loadSensitive = false): string =>
    `  ${label}: ${f(value, 2)}${unit} ${loadSensitive && overloaded ? 'UNRELIABLE (machine overloaded during the run)' : ok ? 'met' : 'NOT met'}`;
  const tput = l.saturated.rps / p.saturated.rps;
  const addP50 = l.fixed[0]!.p50Ms - d.fixed[0]!.p50Ms;
  const addP99 = l.fixed[0]!.p99Ms - d.fixed[0]!.p99Ms;
  const cpu1k = l.fixed[0]!.proxyCpuUsPerReq;
  const ready = median(l.startupMs);
  return [
    'targets (lameduck, this run):',
    check('throughput × pipe (≥ 1.0, stretch 1.2)', tput, tput >= 1.0, '', true),
    check('added p50 at 1 000 req/s (≤ 0.3 ms)', addP50, addP50 <= 0.3, ' ms', true),
    check('added p99 at 1 000 req/s (≤ 1.0 ms)', addP99, addP99 <= 1.0, ' ms', true),
    check('CPU per request at 1 000 req/s (≤ 100 µs)', cpu1k, cpu1k <= 100, ' µs'),
    ...(relay
      ? [`  reference, the Node byte relay (no HTTP) at 1 000 req/s: ${f(relay.fixed[0]!.proxyCpuUsPerReq)} µs, so Node's event loop, sockets and wake-ups alone take ` +
          `${f((100 * relay.fixed[0]!.proxyCpuUsPerReq) / cpu1k)}% of lameduck's figure; the pipe: ${f(p.fixed[0]!.proxyCpuUsPerReq)} µs`]
      : []),
    check('CPU per request saturated (≤ 100 µs)', l.saturated.proxyCpuUsPerReq, l.saturated.proxyCpuUsPerReq <= 100, ' µs'),
    check('RSS idle standalone (≤ 60 MB)', l.idle?.rssMb ?? NaN, (l.idle?.rssMb ?? Infinity) <= 60, ' MB'),
    check('RSS with 1 000 connections standalone (≤ 120 MB)', l.held?.rssMb ?? NaN, (l.held?.rssMb ?? Infinity) <= 120, ' MB'),
    ...(inPod
      ? [
          check('RSS idle in a pod: pod identity and API credentials (≤ 60 MB)', inPod.idle?.rssMb ?? NaN, (inPod.idle?.rssMb ?? Infinity) <= 60, ' MB'),
          check('RSS with 1 000 connections in a pod (≤ 120 MB)', inPod.held?.rssMb ?? NaN, (inPod.held?.rssMb ?? Infinity) <= 120, ' MB'),
          check('ready from spawn in a pod (≤ 300 ms)', median(inPod.startupMs), median(inPod.startupMs) <= 300, ' ms', true),
        ]
      : []),
    check('ready from spawn (≤ 300 ms)', ready, ready <= 300, ' ms', true),
    check('  CPU used from spawn to ready (idle-core estimate of the above)', median(l.startupCpuMs), median(l.startupCpuMs) <= 300, ' ms'),
    check('throughput × pipe, by CPU per request at saturation (robust to a busy machine)', p.saturated.proxyCpuUsPerReq / l.saturated.proxyCpuUsPerReq, p.saturated.proxyCpuUsPerReq / l.saturated.proxyCpuUsPerReq >= 1.0),
  ];
}

function machine(pinned: boolean): Record<string, unknown> {
  const version = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, {encoding: 'utf8'});
    return r.error ? 'not installed' : `${r.stdout}${r.stderr}`.split('\n')[0]!.trim();
  };
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    nproc: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    pinned: pinned ? 'proxy on core 0; upstream, load generators and the bench on core 1' : 'no (taskset missing or one core)',
    wrk: version('wrk', ['-v']),
    nginx: version('nginx', ['-v']),
    haproxy: version('haproxy', ['-v']),
  };
}

async function profile(s: Settings, sut: string[], loadPin: string[], upstreamPort: number, work: string): Promise<void> {
  const dir = mkdtempSync(join(work, 'prof-'));
  const {child, line} = await firstJsonLine(
    [...sut, process.execPath, '--cpu-prof', `--cpu-prof-dir=${dir}`, `${DIST}proxy/src/main.js`],
    // A quick drain on SIGTERM, so the process exits normally and writes its profile.
    {LAMEDUCK_LISTEN: `${HOST}:0`, LAMEDUCK_ADMIN_LISTEN: `${HOST}:0`, LAMEDUCK_UPSTREAM: `http://${HOST}:${upstreamPort}`, LAMEDUCK_FALLBACK_DELAY: '0s', LAMEDUCK_SETTLE: '0s', LAMEDUCK_QUIET: '0s'},
    (l) => l.msg === 'listening',
  );
  const port = (line.traffic as {port: number}).port;
  await until200(port, '/', child);
  const seconds = s.saturatedSeconds * 2;
  process.stderr.write(`profile: lameduck under wrk for ${seconds} s with --cpu-prof\n`);
  const r = await runWrk({pin: loadPin, url: `http://${HOST}:${port}/`, seconds, connections: s.wrkConnections});
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const guard = setTimeout(() => killTree(child.pid), 30_000);
  await exited;
  clearTimeout(guard);
  const file = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
  if (!file) throw new BenchError('NO_PROFILE', `lameduck wrote no .cpuprofile into ${dir}`);
  const summary = summarizeCpuProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, 30);
  process.stdout.write(`wrk: ${f(r.rps)} req/s, ${r.requests} requests\n${formatProfileSummary(summary)}\n`);
  const out = `${ROOT}bench/results`;
  mkdirSync(out, {recursive: true});
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(`${out}/perf-profile-${stamp}.json`, JSON.stringify({date: new Date().toISOString(), machine: machine(sut.length > 0), wrk: r, summary}, null, 2) + '\n');
  writeFileSync(`${out}/perf-profile-${stamp}.cpuprofile`, readFileSync(join(dir, file)));
  process.stdout.write(`wrote ${out}/perf-profile-${stamp}.json and .cpuprofile (open it in Chrome DevTools or speedscope)\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => !['--quick', '--profile', '--h2'].includes(a));
  if (unknown.length) throw new BenchError('USAGE', `unknown argument ${unknown[0]}; usage: perf [--quick] [--profile] [--h2]`);
  const s = args.includes('--quick') ? QUICK : FULL;
  if (!has('wrk', ['-v'])) throw new BenchError('NO_WRK', 'wrk is required (apt-get install -y wrk)');
  const pinned = has('taskset', ['-V']) && cpus().length >= 2;
  if (!pinned) process.stderr.write('perf: taskset unavailable or a single core: running unpinned, figures will be noisier\n');
  const sut = pinned ? ['taskset', '-c', '0'] : [];
  const loadPin = pinned ? ['taskset', '-c', '1'] : [];
  // This process (it holds the 1 000 connections) and every thread of it on the load core.
  if (pinned) execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], {stdio: 'ignore'});
  const work = mkdtempSync(join(tmpdir(), 'lameduck-perf-'));
  chmodSync(work, 0o755);
  let api: ApiServer | undefined;
  try {
    const up = await firstJsonLine([...loadPin, process.execPath, `${DIST}bench/targets/upstream.js`, `${HOST}:0`], {}, (l) => l.msg === 'listening');
    const upstreamPort = up.line.port as number;
    if (args.includes('--profile')) return await profile(s, sut, loadPin, upstreamPort, work);
    ensurePackages();
    const busyAtStart = await waitForQuiet(s.mode === 'quick' ? 30_000 : 90_000);
    const started = Date.now();
    const rows: Measured[] = [];
    const h2Settings = s.mode === 'quick' ? H2_QUICK : H2_FULL;
    const runH2 = async (): Promise<H2Measured[]> => {
      if (!has('h2load', ['--version'])) {
        process.stderr.write('perf: h2load missing (apt-get install -y nghttp2-client): no HTTP/2 rows\n');
        return [];
      }
      return measureH2({sut, loadPin, work, dist: DIST, settings: h2Settings, log: (line) => process.stderr.write(`${line}\n`)});
    };
    if (args.includes('--h2')) {
      const h2Rows = await runH2();
      const out = [h2Table(h2Rows), '', ...h2Verdicts(h2Rows), '', `h2load -t1 -c${h2Settings.clients} -m${h2Settings.streams} ${h2Settings.saturatedSeconds} s after ${h2Settings.warmupSeconds} s; 1 000 req/s as 10 clients × 100 req/s for ${h2Settings.fixedSeconds} s`].join('\n');
      process.stdout.write(`${out}\n`);
      process.stdout.write(`wrote ${writeResults('perf-h2', {date: new Date().toISOString(), machine: machine(pinned), settings: h2Settings, busyAtStart, loadavg: loadavg(), results: h2Rows, verdicts: h2Verdicts(h2Rows)})}\n`);
      return;
    }
    api = await startApiServer({});
    for (const def of targets(sut, upstreamPort, work, podIdentity(api, work))) {
      try {
        rows.push(await measure(def, s, {load: loadPin}, up.child.pid!));
      } catch (err) {
        process.stderr.write(`${def.name}: failed: ${(err as Error).message}\n`);
        rows.push({target: def.name, startupMs: [], startupCpuMs: [], saturated: {} as Measured['saturated'], fixed: [], skipped: `failed: ${(err as Error).message}`});
      }
    }
    const h2Rows = await runH2();
    const m = machine(pinned);
    const out = [
      table(rows),
      '',
      ...verdicts(rows),
      '',
      ...(h2Rows.length > 0 ? [h2Table(h2Rows), '', ...h2Verdicts(h2Rows), ''] : []),
      `mode ${s.mode}: wrk -t1 -c${s.wrkConnections} ${s.saturatedSeconds} s after ${s.warmupSeconds} s warm-up; open loop ${s.fixedSeconds} s per rate, keep-alive; ` +
        `${s.heldConnections} connections held; start-up median of ${s.startupSamples}; took ${Math.round((Date.now() - started) / 1000)} s`,
      `machine: ${m.cpu}, nproc ${m.nproc}, kernel ${m.kernel}, node ${m.node}; ${m.pinned}; ${m.wrk}; ${m.nginx}; ${m.haproxy}`,
      `busiest core before the run: ${f(100 * busyAtStart)}% taken by other work; ` +
        `load average at the end (other work on the machine skews throughput more than CPU per request): ${loadavg().map((x) => x.toFixed(1)).join(' ')}`,
    ].join('\n');
    process.stdout.write(`${out}\n`);
    const file = writeResults('perf', {date: new Date().toISOString(), machine: m, settings: s, busyAtStart, loadavg: loadavg(), results: rows, verdicts: verdicts(rows), h2: {settings: h2Settings, results: h2Rows, verdicts: h2Verdicts(h2Rows)}});
    process.stdout.write(`wrote ${file}\n`);
  } finally {
    await api?.shutdown();
    rmSync(work, {recursive: true, force: true});
  }
}

/** A pod in the API server simulation and the environment kubelet and the chart give its lameduck container. */
function podIdentity(api: ApiServer, work: string): PodIdentity {
  const namespace = 'perf';
  const pod = api.store.createPod({
    metadata: {name: 'perf-0', namespace, labels: {app: 'perf'}},
    spec: {containers: [{name: 'app', ports: [{containerPort: 8080, name: 'http'}]}], terminationGracePeriodSeconds: 30},
    status: {phase: 'Running', podIP: '10.77.0.10', conditions: [{type: 'Ready', status: 'True'}]},
  });
  const kubeconfig = api.writeKubeconfig(work, {namespace});
  return {env: {POD_NAME: pod.metadata.name!, POD_NAMESPACE: namespace, POD_UID: pod.metadata.uid!, POD_IPS: '10.77.0.10', KUBECONFIG: kubeconfig}};
}

await runBench('perf', main, killAll);
