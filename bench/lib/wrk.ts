/**
 * Saturated throughput with wrk (closed loop: as fast as the target answers, over keep-alive connections), bounded
 * by `-d` and by a kill timer. Used for the throughput ceiling only: a closed loop hides queueing (coordinated
 * omission), so latency at a given rate comes from the open-loop generator (perf-load.ts).
 */
import {spawn} from 'node:child_process';

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors (connect, read, write, timeout) plus non-2xx/3xx responses. */
  errors: number;
}

export class WrkError extends Error {
  readonly code = 'WRK_FAILED';
  constructor(message: string, readonly output: string, options?: {cause?: unknown}) {
    super(message, options);
    this.name = 'WrkError';
  }
}

/** wrk's durations, e.g. "612.00us", "1.21ms", "2.00s", "1.00m", in milliseconds; NaN if not one. */
export function wrkDurationMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/** Parses `wrk --latency` output; throws WrkError when it has no request count. */
export function parseWrk(out: string): WrkResult {
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!done || !rps) throw new WrkError('wrk output without a request count', out);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    requests: Number(done[1]),
    seconds: wrkDurationMs(`${done[2]}${done[3]}`) / 1000,
    rps: Number(rps[1]),
    p50Ms: wrkDurationMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    p99Ms: wrkDurationMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    errors: (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + non2xx,
  };
}

/** Runs wrk (prefixed by `pin`, e.g. taskset) against url; rejects with WrkError on failure or overrun. */
export function runWrk(opts: {pin: string[]; url: string; seconds: number; connections: number}): Promise<WrkResult> {
  const argv = [...opts.pin, 'wrk', '-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--timeout', '2s', '--latency', opts.url];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    // wrk stops by itself after -d; the timer only catches a hung wrk.
    const guard = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + 10) * 1000);
    child.on('error', (err) => {
      clearTimeout(guard);
      reject(new WrkError(`cannot run wrk: ${err.message}`, out, {cause: err}));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (code !== 0) return reject(new WrkError(`wrk exited with ${code ?? signal}`, out));
      try {
        resolve(parseWrk(out));
      } catch (err) {
        reject(err);
      }
    });
  });
}
