/**
 * One simulated cluster at a time on this machine. A scenario runs a dozen real processes plus load on loopback;
 * two at once on a two-core machine starve each other and turn CPU contention into timeouts that say nothing about
 * how pods shut down. Runs therefore take a machine-wide lock (a directory in the temp dir, created atomically,
 * holding the owner's PID); a lock whose owner died is taken over.
 */
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

export const DEFAULT_LOCK_PATH = join(tmpdir(), 'lameduck-cluster-simulation.lock');

export class RunLockTimeoutError extends Error {
  readonly code = 'RUN_LOCK_TIMEOUT';
  constructor(path: string, timeoutMs: number, owner: string) {
    super(`another simulation (pid ${owner}) held ${path} for more than ${timeoutMs} ms`);
    this.name = 'RunLockTimeoutError';
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface RunLockOptions {
  path?: string;
  /** Give up waiting after this long. Default 10 minutes. */
  timeoutMs?: number;
  /** Called once if the lock is busy (progress displays). */
  onWait?: (ownerPid: string) => void;
  signal?: AbortSignal;
}

/** Waits for the lock; resolves with its release function. */
export async function acquireRunLock(opts: RunLockOptions = {}): Promise<() => void> {
  const path = opts.path ?? DEFAULT_LOCK_PATH;
  const until = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
  let told = false;
  let emptySince: number | undefined;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'owner'), String(process.pid));
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        process.off('exit', release);
        rmSync(path, {recursive: true, force: true});
      };
      process.on('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = '';
    try {
      owner = readFileSync(join(path, 'owner'), 'utf8').trim();
    } catch {
      // being created or removed right now
    }
    // The owner file is written right after mkdir; one still missing seconds later means a crash in between.
    if (owner === '') emptySince ??= Date.now();
    else emptySince = undefined;
    if ((owner !== '' && !alive(Number(owner))) || (emptySince !== undefined && Date.now() - emptySince > 5000)) {
      rmSync(path, {recursive: true, force: true});
      emptySince = undefined;
      continue;
    }
    if (!told) {
      told = true;
      opts.onWait?.(owner);
    }
    if (Date.now() > until) throw new RunLockTimeoutError(path, opts.timeoutMs ?? 600_000, owner);
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
    await new Promise((r) => setTimeout(r, 250));
  }
}
