/**
 * Child processes of a benchmark: spawned with their output drained (a child blocked on a full pipe would wreck
 * the figures), tracked so that `killAll()` leaves no orphan on exit, failure or Ctrl-C, and waited for by their first
 * JSON log line or a 200 on a path.
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {get} from 'node:http';
import {createServer, type AddressInfo} from 'node:net';
import {performance} from 'node:perf_hooks';
import {processTree} from './proc.js';

export const HOST = '127.0.0.1';
export class BenchError extends Error {
  constructor(readonly code: string, message: string, options?: {cause?: unknown}) {
    super(message, options);
    this.name = 'BenchError';
  }
}

const children = new Set<ChildProcess>();

export function has(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, {stdio: 'ignore'}).error === undefined;
}

/** Spawns argv, keeps draining its output (a child blocked on a full pipe would wreck the figures), tracks it. */
export function spawnTracked(argv: string[], env: Record<string, string> = {}, onLine?: (line: string) => void): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), {env: {...process.env, NODE_OPTIONS: '', ...env}, stdio: ['ignore', 'pipe', 'pipe']});
  children.add(child);
  child.on('exit', () => children.delete(child));
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    if (!onLine) return;
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    if (process.env.PERF_VERBOSE) process.stderr.write(d);
  });
  return child;
}

/** Resolves with the first JSON stdout line `match` accepts; rejects on exit or after 15 s. */
export function firstJsonLine(argv: string[], env: Record<string, string>, match: (l: Record<string, unknown>) => boolean): Promise<{child: ChildProcess; line: Record<string, unknown>}> {
  return new Promise((resolve, reject) => {
    let done = false;
    const child = spawnTracked(argv, env, (text) => {
      if (done) return;
      try {
        const l = JSON.parse(text) as Record<string, unknown>;
        if (match(l)) {
          done = true;
          clearTimeout(timer);
          resolve({child, line: l});
        }
      } catch {
        /* not JSON */
      }
    });
    const timer = setTimeout(() => {
      done = true;
      killTree(child.pid);
      reject(new BenchError('NOT_READY', `${argv.join(' ')}: no matching line within 15 s`));
    }, 15_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!done) reject(new BenchError('EXITED', `${argv.join(' ')} exited (${code ?? signal}) before it was ready`));
    });
  });
}

export function status(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get({host: HOST, port, path, agent: false, timeout: 1000}, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Polls every 2 ms (start-up is measured to this resolution); resolves with the time of the first 200. */
export async function until200(port: number, path: string, child: ChildProcess, ms = 10_000): Promise<number> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new BenchError('EXITED', `process exited before ${path} answered 200`);
    if ((await status(port, path)) === 200) return performance.now();
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new BenchError('NOT_READY', `${HOST}:${port}${path} not 200 within ${ms} ms`);
}

/** A port that was free a moment ago, for nginx and HAProxy, which cannot listen on 0 and report the port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, HOST, () => {
      const {port} = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** SIGKILL a process and its descendants (nginx workers would outlive their master), by pid, and wait a little. */
export function killTree(pid: number | undefined): void {
  if (pid === undefined) return;
  for (const p of processTree(pid).reverse()) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      killTree(child.pid);
    });
}

export function killAll(): void {
  for (const c of children) killTree(c.pid);
}
