// Does an admin request served before any traffic slow lameduck's request path (docs/performance.md)?
//
//   npm run bench:admin-first          ~3.5 min: five cases, each a fresh app + pipe + lameduck, 3 measured rounds
//
// Set-up of `npm run bench:colocated`: the demo-app, the naive pipe and lameduck all on core 0, wrk (-t1 -c64, 5 s
// cells, a warm-up round first) and this process on core 1. Per case, proxy CPU µs per request (utime+stime from
// /proc ÷ requests) of lameduck and of the pipe measured in the same rounds, and lameduck ÷ pipe throughput.
// Cases: no admin request at all; one GET /readyz before any traffic (what a bench or a startup probe does);
// GET /readyz every second from the start (a kubelet's probes); and the first two again with a cell of wrk straight
// at the app before the pipe's in every round, as `npm run bench:colocated` measures "direct".
import {execFileSync, spawn, type ChildProcess} from 'node:child_process';
import {get} from 'node:http';
import {cpus} from 'node:os';
import {fileURLToPath} from 'node:url';
import {cpuMicros} from './perf-proc.js';
import {runWrk} from './perf-wrk.js';
import {runBench} from './run-bench.js';

const DIST = fileURLToPath(new URL('../', import.meta.url));
const HOST = '127.0.0.1';
const SECONDS = 5;
const ROUNDS = 3;
const CONNECTIONS = 64;

type Probes = 'none' | 'once-before' | 'every-second';
interface Case {
  readonly probes: Probes;
  /** A saturated cell straight at the app in every round, before the pipe's and lameduck's. */
  readonly direct: boolean;
}
const CASES: Case[] = [
  {probes: 'none', direct: false},
  {probes: 'once-before', direct: false},
  {probes: 'every-second', direct: false},
  {probes: 'none', direct: true},
  {probes: 'once-before', direct: true},
];

const children = new Set<ChildProcess>();

/** Starts a process that prints a JSON line when it listens; resolves with that line. */
function startJson(argv: string[], env: Record<string, string>): Promise<{pid: number; line: Record<string, unknown>}> {
  const child = spawn(argv[0]!, argv.slice(1), {env: {...process.env, NODE_OPTIONS: '', ...env}, stdio: ['ignore', 'pipe', 'ignore']});
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')}: no JSON line within 15 s`)), 15_000);
    let buf = '';
    let done = false;
    child.stdout!.on('data', (d: Buffer) => {
      if (done) return; // keep reading, so a full pipe never blocks the child
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0 && !done; nl = buf.indexOf('\n')) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const line = JSON.parse(text) as Record<string, unknown>;
          done = true;
          clearTimeout(timer);
          resolve({pid: child.pid!, line});
        } catch {
          /* not JSON */
        }
      }
    });
    child.on('exit', (code) => {
      if (!done) reject(new Error(`${argv.join(' ')} exited (${code}) before it was ready`));
    });
  });
}

function status(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get({host: HOST, port, path, timeout: 2000}, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

interface CaseResult {
  lameduckUs: number[];
  pipeUs: number[];
  ratio: number[];
}

async function runCase({probes, direct}: Case): Promise<CaseResult> {
  const sut = ['taskset', '-c', '0', process.execPath];
  const app = await startJson([...sut, `${DIST}demo-app/src/main.js`], {PORT: '0', HOST, POD_NAME: 'bench'});
  const appUrl = `http://${HOST}:${app.line.port as number}`;
  const pipe = await startJson([...sut, `${DIST}bench/minimal-pipe.js`, appUrl, `${HOST}:0`], {});
  const ld = await startJson([...sut, `${DIST}proxy/src/main.js`], {LAMEDUCK_LISTEN: `${HOST}:0`, LAMEDUCK_ADMIN_LISTEN: `${HOST}:0`, LAMEDUCK_UPSTREAM: appUrl});
  const adminPort = (ld.line.admin as {port: number}).port;
  const ldPort = (ld.line.traffic as {port: number}).port;
  let probeTimer: ReturnType<typeof setInterval> | undefined;
  try {
    if (probes === 'once-before' && (await status(adminPort, '/readyz')) !== 200) throw new Error('lameduck /readyz not 200');
    if (probes === 'every-second') probeTimer = setInterval(() => void status(adminPort, '/readyz'), 1000);
    const result: CaseResult = {lameduckUs: [], pipeUs: [], ratio: []};
    const cell = async (port: number, pid: number) => {
      const before = cpuMicros([pid]);
      const r = await runWrk({pin: ['taskset', '-c', '1'], url: `http://${HOST}:${port}/`, seconds: SECONDS, connections: CONNECTIONS});
      return {rps: r.rps, us: (cpuMicros([pid]) - before) / r.requests};
    };
    for (let round = 0; round <= ROUNDS; round++) {
      if (direct) await cell(app.line.port as number, app.pid);
      const p = await cell(pipe.line.port as number, pipe.pid);
      const l = await cell(ldPort, ld.pid);
      if (round === 0) continue; // warm-up
      result.pipeUs.push(p.us);
      result.lameduckUs.push(l.us);
      result.ratio.push(l.rps / p.rps);
    }
    return result;
  } finally {
    if (probeTimer) clearInterval(probeTimer);
    for (const pid of [ld.pid, pipe.pid, app.pid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

const range = (xs: number[], digits = 0): string => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await runBench(
  'admin-first',
  async () => {
    if (cpus().length < 2) throw new Error('needs 2 cores (the system under test on core 0, the load on core 1)');
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], {stdio: 'ignore'});
    const rows: string[] = [];
    for (const c of CASES) {
      process.stderr.write(`case ${c.probes}${c.direct ? ' + direct cells' : ''}: ${ROUNDS + 1} rounds of ${SECONDS} s cells\n`);
      const r = await runCase(c);
      rows.push(`| ${c.probes.padEnd(14)} | ${(c.direct ? 'yes' : 'no').padEnd(12)} | ${range(r.lameduckUs).padEnd(15)} | ${range(r.pipeUs).padEnd(11)} | ${median(r.ratio).toFixed(2).padEnd(21)} |`);
    }
    process.stdout.write(
      [
        '| admin requests | direct cells | lameduck µs/req | pipe µs/req | lameduck ÷ pipe req/s |',
        '|----------------|--------------|-----------------|-------------|-----------------------|',
        ...rows,
      ].join('\n') + `\nco-located: demo-app, pipe and lameduck on core 0; wrk -t1 -c${CONNECTIONS} ${SECONDS} s cells on core 1; ${ROUNDS} rounds after a warm-up round; ranges over rounds, ratio the median\n`,
    );
  },
  () => {
    for (const c of children) c.kill('SIGKILL');
  },
);
