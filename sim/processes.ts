/**
 * Real child processes for tests, the demo and benches: lameduck (dist/proxy/src/main.js) and the demo-app
 * (dist/demo-app/src/main.js), both built by `npm run build`. Every child started here is tracked and killed by
 * `killAll()`, so a failing test leaves no orphans.
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {fileURLToPath} from 'node:url';

// From sim/ (jest runs the sources) or dist/sim/ (a compiled bench such as `npm run faults`): the same dist/ files.
const REPO_ROOT = new URL(/\/dist\/sim\/[^/]+$/.test(import.meta.url) ? '../../' : '../', import.meta.url);
export const LAMEDUCK_MAIN = fileURLToPath(new URL('dist/proxy/src/main.js', REPO_ROOT));
export const DEMO_APP_MAIN = fileURLToPath(new URL('dist/demo-app/src/main.js', REPO_ROOT));

export interface Child {
  child: ChildProcess;
  pid: number;
  /** stdout lines parsed as JSON where possible. */
  logs: Record<string, unknown>[];
  stdout: string[];
  stderr: () => string;
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null; at: number}>;
  /** Resolves with the first log line for which `match` is true (bounded by timeoutMs). */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();

function cleanEnv(): NodeJS.ProcessEnv {
  // Jest runs with --experimental-vm-modules; children must not inherit it (nor any LAMEDUCK_/POD_ setting).
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k.startsWith('LAMEDUCK_') || k.startsWith('POD_') || k === 'KUBECONFIG') continue;
    env[k] = v;
  }
  return env;
}

export function startChild(args: string[], env: Record<string, string>, opts: {cwd?: string} = {}): Child {
  const child = spawn(process.execPath, args, {env: {...cleanEnv(), ...env}, stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd});
  running.add(child);
  const logs: Record<string, unknown>[] = [];
  const stdout: string[] = [];
  let stderr = '';
  const waiters: {match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void}[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      stdout.push(line);
      let parsed: Record<string, unknown> | undefined;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      logs.push(parsed);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.match(parsed)) {
          waiters[i]!.resolve(parsed);
          waiters.splice(i, 1);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (stderr += c));
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null; at: number}>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({code, signal, at: Date.now()});
    }),
  );
  return {
    child,
    pid: child.pid!,
    logs,
    stdout,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs = 10_000) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr.slice(-500)}; stdout: ${stdout.slice(-5).join('\n')}`)), timeoutMs);
        const entry = {
          match,
          resolve: (l: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(entry);
        void exited.then(() => {
          const i = waiters.indexOf(entry);
          if (i >= 0) {
            waiters.splice(i, 1);
            clearTimeout(timer);
            reject(new Error(`process exited before the log line; stderr: ${stderr.slice(-500)}`));
          }
        });
      });
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

export interface Lameduck extends Child {
  trafficPort: number;
  adminPort: number;
  host: string;
}

/** Starts lameduck on 127.0.0.1 with ephemeral ports and waits for its `listening` line. */
export async function startLameduck(env: Record<string, string>, opts: {host?: string; args?: string[]} = {}): Promise<Lameduck> {
  const host = opts.host ?? '127.0.0.1';
  const c = startChild([LAMEDUCK_MAIN, ...(opts.args ?? [])], {
    LAMEDUCK_LISTEN: `${host}:0`,
    LAMEDUCK_ADMIN_LISTEN: `${host}:0`,
    ...env,
  });
  const line = (await c.waitForLog((l) => l.msg === 'listening', 15_000)) as {traffic: {port: number}; admin: {port: number}};
  return {...c, trafficPort: line.traffic.port, adminPort: line.admin.port, host};
}

export interface DemoApp extends Child {
  port: number;
}

export async function startDemoApp(env: Record<string, string> = {}): Promise<DemoApp> {
  const c = startChild([DEMO_APP_MAIN], {PORT: '0', HOST: '127.0.0.1', POD_NAME: 'demo', ...env});
  const line = (await c.waitForLog((l) => l.msg === 'listening', 15_000)) as {port: number};
  return {...c, port: line.port};
}

/** Kills every child still running (SIGKILL) and waits for them to go. */
export async function killAll(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const child of running) {
    waits.push(new Promise((r) => child.once('exit', r)));
    child.kill('SIGKILL');
  }
  await Promise.all(waits);
}
