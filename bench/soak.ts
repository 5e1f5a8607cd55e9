// Memory under sustained load (docs/performance.md: "light enough to put in every pod", where a memory limit must hold for days):
// lameduck and the naive node:http pipe, each alone on core 0, saturated by wrk on core 1 for SOAK_SECONDS in slices
// of SOAK_SLICE_SECONDS; RSS after every slice, then after SOAK_IDLE_SECONDS without traffic. Short runs show lameduck's
// RSS rising by ~1 MB per 60 000 requests over the first minute; this shows whether it levels off, against the pipe in
// the same run.
//
//   npm run bench:soak                 (SOAK_SECONDS=180, SOAK_SLICE_SECONDS=15, SOAK_IDLE_SECONDS=30)
//
// Prints one table and writes bench/results/soak-<time>.json. Every load is bounded by wrk's -d; every process is
// killed at the end (runBench).
import {execFileSync} from 'node:child_process';
import {cpus, loadavg} from 'node:os';
import {fileURLToPath} from 'node:url';
import {memory, processTree} from './lib/proc.js';
import {runWrk} from './lib/wrk.js';
import {envInt, markdownTable, writeResults} from './lib/report.js';
import {runBench} from './lib/run-bench.js';
import {killAll, LAMEDUCK_MAIN, startChild, type Child} from '../sim/processes.js';

const DIST = fileURLToPath(new URL('../', import.meta.url));
const HOST = '127.0.0.1';

interface Options {
  seconds: number;
  sliceSeconds: number;
  idleSeconds: number;
}

function readOptions(env: NodeJS.ProcessEnv): Options {
  const int = (name: string, dflt: number, min: number): number => envInt(env, name, dflt, min);
  const o = {seconds: int('SOAK_SECONDS', 180, 10), sliceSeconds: int('SOAK_SLICE_SECONDS', 15, 5), idleSeconds: int('SOAK_IDLE_SECONDS', 30, 1)};
  if (o.sliceSeconds > o.seconds) throw new Error('SOAK_SLICE_SECONDS must not exceed SOAK_SECONDS');
  return o;
}

interface Sample {
  atSeconds: number;
  requests: number;
  rssMb: number;
}

interface SoakResult {
  target: string;
  idleRssMb: number;
  samples: Sample[];
  afterIdleRssMb: number;
  errors: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pins a running process and all its threads to one core (taskset -a -p), when taskset is there. */
function pin(pid: number, core: number): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], {stdio: 'ignore'});
  } catch {
    /* unpinned: noisier, still bounded */
  }
}

async function soak(name: string, proxy: Child, port: number, o: Options, loadPin: string[]): Promise<SoakResult> {
  pin(proxy.child.pid!, 0);
  const rss = (): number => memory(processTree(proxy.child.pid!)).rssMb;
  const url = `http://${HOST}:${port}/`;
  await runWrk({pin: loadPin, url, seconds: 2, connections: 64});
  await sleep(1000);
  const idleRssMb = rss();
  const samples: Sample[] = [];
  let requests = 0;
  let errors = 0;
  for (let at = 0; at < o.seconds; at += o.sliceSeconds) {
    const r = await runWrk({pin: loadPin, url, seconds: Math.min(o.sliceSeconds, o.seconds - at), connections: 64});
    requests += r.requests;
    errors += r.errors;
    samples.push({atSeconds: at + r.seconds, requests, rssMb: rss()});
    process.stderr.write(`${name}: ${Math.round(at + r.seconds)} s, ${requests} requests, RSS ${rss().toFixed(1)} MB\n`);
  }
  await sleep(o.idleSeconds * 1000);
  return {target: name, idleRssMb, samples, afterIdleRssMb: rss(), errors};
}

/** MB of RSS per minute between the middle sample and the last: whether the growth has levelled off. */
function lateGrowthMbPerMin(samples: readonly Sample[]): number {
  if (samples.length < 2) return NaN;
  const mid = samples[Math.floor((samples.length - 1) / 2)]!;
  const last = samples[samples.length - 1]!;
  return last.atSeconds === mid.atSeconds ? NaN : ((last.rssMb - mid.rssMb) * 60) / (last.atSeconds - mid.atSeconds);
}

function table(results: readonly SoakResult[]): string {
  const f = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const head = ['target', 'requests', 'req/s', 'RSS MB before', 'RSS MB over the run (every slice)', 'RSS MB peak', 'growth MB/min, 2nd half', 'RSS MB after idle', 'errors'];
  const rows = results.map((r) => {
    const last = r.samples[r.samples.length - 1]!;
    return [
      r.target,
      String(last.requests),
      f(last.requests / last.atSeconds, 0),
      f(r.idleRssMb),
      r.samples.map((s) => f(s.rssMb, 0)).join(' '),
      f(Math.max(...r.samples.map((s) => s.rssMb))),
      f(lateGrowthMbPerMin(r.samples), 2),
      f(r.afterIdleRssMb),
      String(r.errors),
    ];
  });
  return markdownTable(head, rows);
}

async function main(): Promise<void> {
  const o = readOptions(process.env);
  const pinned = cpus().length >= 2;
  const loadPin = pinned ? ['taskset', '-c', '1'] : [];
  if (pinned) pin(process.pid, 1);
  const upstream = startChild([`${DIST}bench/targets/upstream.js`, `${HOST}:0`], {});
  pin(upstream.child.pid!, 1);
  const upstreamPort = ((await upstream.waitForLog((l) => l.msg === 'listening', 10_000)) as {port: number}).port;
  const upstreamUrl = `http://${HOST}:${upstreamPort}`;
  const results: SoakResult[] = [];

  const lameduck = startChild([LAMEDUCK_MAIN], {LAMEDUCK_LISTEN: `${HOST}:0`, LAMEDUCK_ADMIN_LISTEN: `${HOST}:0`, LAMEDUCK_UPSTREAM: upstreamUrl});
  const ldPort = ((await lameduck.waitForLog((l) => l.msg === 'listening', 10_000)) as {traffic: {port: number}}).traffic.port;
  results.push(await soak('lameduck', lameduck, ldPort, o, loadPin));
  lameduck.child.kill('SIGKILL');

  const pipe = startChild([`${DIST}bench/targets/minimal-pipe.js`, upstreamUrl, `${HOST}:0`], {});
  const pipePort = ((await pipe.waitForLog((l) => l.msg === 'listening', 10_000)) as {port: number}).port;
  results.push(await soak('pipe', pipe, pipePort, o, loadPin));
  pipe.child.kill('SIGKILL');

  const out = [
    table(results),
    '',
    `wrk -t1 -c64 on core 1, the proxy alone on core 0; ${o.seconds} s in ${o.sliceSeconds} s slices, then ${o.idleSeconds} s idle; node ${process.version}; load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')}`,
  ].join('\n');
  process.stdout.write(`${out}\n`);
  const file = writeResults('soak', {date: new Date().toISOString(), options: o, node: process.version, results});
  process.stdout.write(`wrote ${file}\n`);
}

await runBench('soak', main, killAll);
