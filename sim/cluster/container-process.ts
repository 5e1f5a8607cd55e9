/**
 * One container as one real child process.
 *
 * Each container gets its own process group (`detached`), the stand-in for its cgroup: kubelet's SIGTERM goes to the
 * container's main process only (what the runtime signals is the container's PID 1), while SIGKILL and teardown hit
 * the whole group, so nothing a container started can outlive it. Output is split into lines and handed to `onLine`
 * with the time it arrived (lameduck's JSON logs feed the timeline).
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {createInterface} from 'node:readline';

export interface ContainerExit {
  /** Exit code, or 128+signal number for a signal death (what `kubectl` shows as exitCode). */
  exitCode: number;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface ContainerProcess {
  readonly pid: number;
  readonly startedAt: number;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ContainerExit>;
  readonly running: boolean;
  /** Sends a signal to the container's main process (no-op once it has exited). */
  signal(sig: NodeJS.Signals): void;
  /** SIGKILL to the whole process group; resolves once the main process is gone. */
  kill(): Promise<ContainerExit>;
}

export interface StartContainerOptions {
  argv: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  onLine?: (stream: 'stdout' | 'stderr', line: string, at: number) => void;
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = {SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGTERM: 15};

export class ContainerStartError extends Error {
  readonly code = 'CONTAINER_START_FAILED';
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, options);
    this.name = 'ContainerStartError';
  }
}

export function startContainerProcess(opts: StartContainerOptions): ContainerProcess {
  const [file, ...args] = opts.argv;
  if (!file) throw new ContainerStartError('empty command');
  let child: ChildProcess;
  try {
    child = spawn(file, args, {cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe']});
  } catch (cause) {
    throw new ContainerStartError(`cannot start ${file}`, {cause});
  }
  const startedAt = Date.now();
  let running = true;
  const exited = new Promise<ContainerExit>((resolve) => {
    child.once('error', () => {
      // 'exit' does not follow a failed spawn; a container that could not start "exits" 128 like a runtime error.
      if (child.pid === undefined) {
        running = false;
        resolve({exitCode: 128, signal: null, at: Date.now()});
      }
    });
    child.once('exit', (code, signal) => {
      running = false;
      resolve({exitCode: code ?? 128 + (signal ? (SIGNAL_NUMBERS[signal] ?? 0) : 0), signal, at: Date.now()});
    });
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    const source = child[stream];
    if (!source) continue;
    const rl = createInterface({input: source, crlfDelay: Infinity});
    rl.on('line', (line) => opts.onLine?.(stream, line, Date.now()));
  }
  const pid = child.pid ?? -1;

  function signalGroup(sig: NodeJS.Signals): void {
    if (pid <= 0) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // ESRCH: the group is gone already
    }
  }

  return {
    pid,
    startedAt,
    exited,
    get running() {
      return running;
    },
    signal(sig) {
      if (!running || pid <= 0) return;
      try {
        process.kill(pid, sig);
      } catch {
        // exited between the check and the kill
      }
    },
    async kill() {
      signalGroup('SIGKILL');
      const exit = await exited;
      // Anything the main process left behind in its group goes too (the group outlives its leader).
      signalGroup('SIGKILL');
      return exit;
    },
  };
}

/** Synchronous last-resort kill of process groups, for `process.on('exit')` handlers. */
export function killGroupsSync(pids: Iterable<number>): void {
  for (const pid of pids) {
    if (pid <= 0) continue;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
