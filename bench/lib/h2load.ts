/**
 * HTTP/2 load with h2load (nghttp2-client): saturated throughput (closed loop, `-c` clients × `-m` streams each) and
 * a fixed rate (`--rps` per client), with per-request latencies from `--log-file` (h2load itself prints only
 * mean and spread). Bounded by `-D` and a kill timer.
 */
import {spawn} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

export interface H2loadResult {
  requests: number;
  succeeded: number;
  failed: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

export class H2loadError extends Error {
  readonly code = 'H2LOAD_FAILED';
  constructor(message: string, readonly output: string) {
    super(message);
    this.name = 'H2loadError';
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Parses h2load's summary and its log file (tab-separated: start µs, status, duration µs). */
export function parseH2load(out: string, log: string): H2loadResult {
  const fin = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  if (!fin || !req) throw new H2loadError('h2load output without a summary', out);
  const durations = log
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((c) => c.length >= 3 && c[1] !== '-1')
    .map((c) => Number(c[2]) / 1000)
    .sort((a, b) => a - b);
  return {
    requests: Number(req[1]),
    succeeded: Number(req[2]),
    failed: Number(req[3]) + Number(req[4]),
    seconds: Number(fin[1]) / (fin[2] === 'ms' ? 1000 : 1),
    rps: Number(fin[3]),
    p50Ms: percentile(durations, 50),
    p99Ms: percentile(durations, 99),
    p999Ms: percentile(durations, 99.9),
  };
}

/** @param rpsPerClient a fixed rate (open loop per client); omitted: saturated. */
export function runH2load(opts: {pin: string[]; url: string; seconds: number; clients: number; streams: number; rpsPerClient?: number}): Promise<H2loadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'h2load-'));
  const logFile = join(dir, 'requests.log');
  const argv = [
    ...opts.pin,
    'h2load',
    '-t1',
    `-c${opts.clients}`,
    `-m${opts.streams}`,
    `-D${opts.seconds}`,
    `--log-file=${logFile}`,
    ...(opts.rpsPerClient ? [`--rps=${opts.rpsPerClient}`] : []),
    opts.url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const guard = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + 15) * 1000);
    const done = (fn: () => void): void => {
      clearTimeout(guard);
      try {
        fn();
      } finally {
        rmSync(dir, {recursive: true, force: true});
      }
    };
    child.on('error', (err) => done(() => reject(new H2loadError(`cannot run h2load: ${err.message}`, out))));
    child.on('exit', (code, signal) =>
      done(() => {
        if (code !== 0) return reject(new H2loadError(`h2load exited with ${code ?? signal}`, out));
        try {
          resolve(parseH2load(out, readFileSync(logFile, 'utf8')));
        } catch (err) {
          reject(err);
        }
      }),
    );
  });
}
