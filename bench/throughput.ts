// Co-located throughput benchmark: the demo-app direct vs through lameduck vs through a minimal node:http pipe
// proxy, same run, same settings, loopback only, every cell bounded in time, with the app and the proxy in front of
// it on the same core (what a proxy's CPU takes from its app). The side-by-side benchmark with the proxy alone on a
// core, nginx and HAProxy is bench/perf.ts (`npm run bench`).
//
//   npm run bench:colocated   (BENCH_SECONDS=5 per cell, BENCH_ROUNDS=3, BENCH_CONNECTIONS=64, BENCH_RATE=1000 by default)
//
// Saturated throughput: wrk (closed loop, BENCH_CONNECTIONS keep-alive connections) if installed, else autocannon.
// Latency at a fixed rate: the open-loop load generator of sim/load.ts at BENCH_RATE requests/s over
// keep-alive connections (an open loop does not hide queueing the way a closed loop's coordinated omission does).
// With taskset, the system under test (app, and the proxy in front of it) runs on core 0 and the load on core 1,
// so every target gets the same single core and the proxies pay for their CPU with the app's.
import {execFileSync, spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {get} from 'node:http';
import {createRequire} from 'node:module';
import {cpus, loadavg, totalmem, release} from 'node:os';
import {fileURLToPath} from 'node:url';
import {startLoad} from '../sim/load.js';
import {runBench} from './lib/run-bench.js';
import {markdownTable, writeResults} from './lib/report.js';

const DIST = fileURLToPath(new URL('../', import.meta.url));

interface Saturated {
  tool: 'wrk' | 'autocannon';
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
  /** CPU time (user + system) per request of the app and of the proxy in front of it (none for direct). */
  appCpuUsPerReq: number;
  proxyCpuUsPerReq: number;
}

interface FixedRate {
  targetRps: number;
  achievedRps: number;
  total: number;
  failed: number;
  p50: number;
  p99: number;
}

interface Cell {
  target: string;
  saturated: Saturated;
  fixed: FixedRate;
}

const children = new Set<ChildProcess>();

function has(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, {stdio: 'ignore'});
  return r.error === undefined;
}

/** Starts a process (pinned if asked) and resolves with its first JSON stdout line that `ready` accepts. */
interface Started {
  line: Record<string, unknown>;
  pid: number;
}

function startJson(argv: string[], env: Record<string, string>, ready: (l: Record<string, unknown>) => boolean): Promise<Started> {
  const child = spawn(argv[0]!, argv.slice(1), {env: {...process.env, NODE_OPTIONS: '', ...env}, stdio: ['ignore', 'pipe', 'pipe']});
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')}: not ready after 15 s\n${out}`)), 15_000);
    let buf = '';
    let done = false;
    child.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
    // Keep reading after start-up: a child blocked on a full stdout pipe would wreck the measurement.
    child.stdout!.on('data', (d: Buffer) => {
      if (done) return;
      out = (out + d).slice(-4000);
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (!done && ready(parsed)) {
            done = true;
            clearTimeout(timer);
            resolve({line: parsed, pid: child.pid!});
          }
        } catch {
          /* not a JSON line */
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!done) reject(new Error(`${argv.join(' ')} exited (${code ?? signal}) before it was ready:\n${out}`));
    });
  });
}

const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout.trim() || 100);

/**
 * CPU time (user + system, all threads) a process has used so far, in ms. Unlike throughput, CPU per request
 * barely moves when other work shares the machine, so it is the steadier measure of what a proxy costs.
 * (taskset execs its command, so the child's pid is the measured process.)
 */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime (fields 14 and 15 of proc(5))
  } catch {
    return NaN;
  }
}

function status(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get({host: '127.0.0.1', port, path, agent: false, timeout: 2000}, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

async function waitFor200(port: number, path: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((await status(port, path)) === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`127.0.0.1:${port}${path} not 200 within ${ms} ms`);
}

/** wrk's "Latency Distribution" values, e.g. "612.00us", "1.21ms", "2.00s", in milliseconds. */
function wrkMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

type Load = Omit<Saturated, 'appCpuUsPerReq' | 'proxyCpuUsPerReq'>;

function runWrk(pin: string[], port: number, seconds: number, connections: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    const argv = [...pin, 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`];
    const child = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']});
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      children.delete(child);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !rps) return reject(new Error(`wrk failed (${code}):\n${out}`));
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({
        tool: 'wrk',
        rps: Number(rps[1]),
        p50: wrkMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
        p99: wrkMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
        errors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
        non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
        requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN),
      });
    });
  });
}

interface AutocannonResult {
  requests: {average: number; total: number};
  latency: {p50: number; p99: number};
  errors: number;
  timeouts: number;
  non2xx: number;
}

async function runAutocannon(port: number, seconds: number, connections: number): Promise<Load> {
  // autocannon ships no types; a narrow view of what is used here.
  const autocannon = createRequire(import.meta.url)('autocannon') as (o: Record<string, unknown>) => Promise<AutocannonResult>;
  const r = await autocannon({url: `http://127.0.0.1:${port}/`, connections, duration: seconds});
  return {tool: 'autocannon', rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx, requests: r.requests.total};
}

async function fixedRate(port: number, rps: number, seconds: number): Promise<FixedRate> {
  const load = startLoad({host: '127.0.0.1', port, rps, keepAliveFraction: 1, durationMs: seconds * 1000, timeoutMs: 5000});
  const report = await load.finished;
  const starts = report.records.map((r) => r.start);
  const span = (Math.max(...starts) - Math.min(...starts)) / 1000;
  return {targetRps: rps, achievedRps: Math.round(report.total / span), total: report.total, failed: report.failed, p50: report.p50, p99: report.p99};
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function medianCell(target: string, cells: Cell[]): Cell {
  const m = (pick: (c: Cell) => number): number => median(cells.map(pick));
  return {
    target,
    saturated: {
      tool: cells[0]!.saturated.tool,
      rps: m((c) => c.saturated.rps),
      p50: m((c) => c.saturated.p50),
      p99: m((c) => c.saturated.p99),
      errors: cells.reduce((a, c) => a + c.saturated.errors, 0),
      non2xx: cells.reduce((a, c) => a + c.saturated.non2xx, 0),
      requests: cells.reduce((a, c) => a + c.saturated.requests, 0),
      appCpuUsPerReq: m((c) => c.saturated.appCpuUsPerReq),
      proxyCpuUsPerReq: m((c) => c.saturated.proxyCpuUsPerReq),
    },
    fixed: {
      targetRps: cells[0]!.fixed.targetRps,
      achievedRps: m((c) => c.fixed.achievedRps),
      total: cells.reduce((a, c) => a + c.fixed.total, 0),
      failed: cells.reduce((a, c) => a + c.fixed.failed, 0),
      p50: m((c) => c.fixed.p50),
      p99: m((c) => c.fixed.p99),
    },
  };
}

const f = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '-');

function table(cells: Cell[], rate: number): string {
  const direct = cells.find((c) => c.target === 'direct')!;
  const pipe = cells.find((c) => c.target === 'pipe')!;
  const head = ['target', 'req/s (sat.)', '×direct', '×pipe', 'proxy CPU µs/req', 'app CPU µs/req', 'sat. p50 ms', 'sat. p99 ms', `p50 ms @${rate}`, `p99 ms @${rate}`, 'added p50 ms', 'req/s got', 'errors'];
  const rows = cells.map((c) => [
    c.target,
    f(c.saturated.rps),
    f(c.saturated.rps / direct.saturated.rps, 2),
    f(c.saturated.rps / pipe.saturated.rps, 2),
    c.target === 'direct' ? '-' : f(c.saturated.proxyCpuUsPerReq),
    f(c.saturated.appCpuUsPerReq),
    f(c.saturated.p50, 2),
    f(c.saturated.p99, 2),
    f(c.fixed.p50, 2),
    f(c.fixed.p99, 2),
    f(c.fixed.p50 - direct.fixed.p50, 2),
    f(c.fixed.achievedRps),
    String(c.saturated.errors + c.saturated.non2xx + c.fixed.failed),
  ]);
  return markdownTable(head, rows);
}

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
  const rate = Number(process.env.BENCH_RATE ?? 1000);
  const haveTaskset = has('taskset', ['-V']) && cpus().length >= 2;
  const haveWrk = has('wrk', ['-v']);
  if (!haveWrk) process.stderr.write('wrk not installed (apt-get install -y wrk): falling back to autocannon for saturation\n');
  if (!haveTaskset) process.stderr.write('taskset unavailable or a single core: running unpinned\n');
  const sut = haveTaskset ? ['taskset', '-c', '0'] : [];
  const loadPin = haveTaskset ? ['taskset', '-c', '1'] : [];
  // This process runs the open-loop generator (and autocannon): all of its threads on the load core.
  if (haveTaskset) execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], {stdio: 'ignore'});

  const node = process.execPath;
  const app = await startJson([...sut, node, `${DIST}demo-app/src/main.js`], {PORT: '0', HOST: '127.0.0.1', POD_NAME: 'bench'}, (l) => l.msg === 'listening');
  const appPort = app.line.port as number;
  const pipe = await startJson([...sut, node, `${DIST}bench/targets/minimal-pipe.js`, `http://127.0.0.1:${appPort}`, '127.0.0.1:0'], {}, (l) => l.msg === 'listening');
  const lameduck = await startJson(
    [...sut, node, `${DIST}proxy/src/main.js`],
    {LAMEDUCK_LISTEN: '127.0.0.1:0', LAMEDUCK_ADMIN_LISTEN: '127.0.0.1:0', LAMEDUCK_UPSTREAM: `http://127.0.0.1:${appPort}`},
    (l) => l.msg === 'listening',
  );
  await waitFor200((lameduck.line.admin as {port: number}).port, '/readyz', 10_000);

  const targets: Array<[string, number, number | undefined]> = [
    ['direct', appPort, undefined],
    ['pipe', pipe.line.port as number, pipe.pid],
    ['lameduck', (lameduck.line.traffic as {port: number}).port, lameduck.pid],
  ];
  const saturate = async (port: number, s: number, proxyPid?: number): Promise<Saturated> => {
    const [app0, proxy0] = [cpuMs(app.pid), cpuMs(proxyPid)];
    const r = haveWrk ? await runWrk(loadPin, port, s, connections) : await runAutocannon(port, s, connections);
    const perReq = (ms: number): number => (ms * 1000) / r.requests;
    return {...r, appCpuUsPerReq: perReq(cpuMs(app.pid) - app0), proxyCpuUsPerReq: proxyPid ? perReq(cpuMs(proxyPid) - proxy0) : NaN};
  };

  // Rounds interleave the targets (in a rotating order), so a noisy neighbour or a slow phase of the machine hits
  // all of them alike; each figure is the median over the rounds.
  const samples = new Map<string, Cell[]>(targets.map(([t]) => [t, []]));
  for (const [target, port, pid] of targets) {
    const code = await status(port, '/');
    if (code !== 200) throw new Error(`${target}: GET / answered ${code}`);
    await saturate(port, seconds, pid); // JIT warm-up, and the keep-alive pools filled
  }
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const [target, port, pid] = targets[(i + round) % targets.length]!;
      process.stderr.write(`round ${round + 1}/${rounds} ${target}: ${seconds} s saturated, ${seconds} s at ${rate} req/s\n`);
      const saturated = await saturate(port, seconds, pid);
      const fixed = await fixedRate(port, rate, seconds);
      samples.get(target)!.push({target, saturated, fixed});
    }
  }
  const cells: Cell[] = targets.map(([target]) => medianCell(target, samples.get(target)!));

  // Headline figures pair targets within a round (measured minutes apart at most), then take the median.
  const perRound = (fn: (d: Cell, p: Cell, l: Cell) => number): number =>
    median(Array.from({length: rounds}, (_, r) => fn(samples.get('direct')![r]!, samples.get('pipe')![r]!, samples.get('lameduck')![r]!)));
  const ratioPipe = perRound((_d, p, l) => l.saturated.rps / p.saturated.rps);
  const cpuRatioPipe = perRound((_d, p, l) => p.saturated.proxyCpuUsPerReq / l.saturated.proxyCpuUsPerReq);
  const addedP50 = perRound((d, _p, l) => l.fixed.p50 - d.fixed.p50);
  const addedP50Pipe = perRound((d, p) => p.fixed.p50 - d.fixed.p50);
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    pinned: haveTaskset ? 'system under test on core 0, load on core 1' : 'no',
    saturationTool: haveWrk ? spawnSync('wrk', ['-v'], {encoding: 'utf8'}).stdout.split('\n')[0]!.trim() : 'autocannon',
  };
  const settings = {seconds, rounds, connections, rate, path: '/', fixedRateClient: 'sim/load.ts, open loop, keep-alive'};
  const out = [
    table(cells, rate),
    '',
    `paired per round, median of ${rounds}:`,
    `  lameduck / pipe throughput: ${f(ratioPipe, 2)} (target ≥ 0.85): ${ratioPipe >= 0.85 ? 'met' : 'NOT met'}`,
    `  lameduck / pipe by proxy CPU per request (pipe µs ÷ lameduck µs): ${f(cpuRatioPipe, 2)}`,
    `  added p50 at ${rate} req/s over direct: lameduck ${f(addedP50, 2)} ms (target ≤ 1 ms): ${addedP50 <= 1 ? 'met' : 'NOT met'}; pipe ${f(addedP50Pipe, 2)} ms`,
  ].join('\n');
  process.stdout.write(`${out}\n`);

  const file = writeResults('throughput', {date: new Date().toISOString(), machine, settings, medians: cells, ratioPipe, cpuRatioPipe, addedP50, addedP50Pipe, loadavg: loadavg(), samples: Object.fromEntries(samples)});
  process.stdout.write(
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.node}, pinned: ${machine.pinned}, ${machine.saturationTool}\n` +
      `load average at the end (other work on the machine skews throughput, much less CPU per request): ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n` +
      `wrote ${file}\n`,
  );
}

function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
}

await runBench('bench', main, killAll);
