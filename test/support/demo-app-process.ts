/**
 * The demo-app as a real child process (dist/demo-app/src/main.js, built by `npm run build`), for the tests of its
 * HTTP and gRPC modes and of its legacy signal behaviour.
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

export const DEMO_APP_MAIN = fileURLToPath(new URL('../../dist/demo-app/src/main.js', import.meta.url));

export interface DemoAppProcess {
  child: ChildProcess;
  port: number;
  /** Its stdout, one JSON line per entry. */
  stdout: string[];
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>;
}

const children = new Set<ChildProcess>();

export function assertDemoAppBuilt(): void {
  if (!existsSync(DEMO_APP_MAIN)) throw new Error(`${DEMO_APP_MAIN} missing: run \`npm run build\` first (npm test does it in pretest)`);
}

/** Starts it on 127.0.0.1, port 0, and resolves once it logged `listening` (rejects if it exits first). */
export function startDemoApp(env: Record<string, string> = {}): Promise<DemoAppProcess> {
  const {NODE_OPTIONS: _ignored, ...parentEnv} = process.env;
  const child = spawn(process.execPath, [DEMO_APP_MAIN], {
    env: {...parentEnv, PORT: '0', HOST: '127.0.0.1', POD_NAME: 'demo-test-pod', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({code, signal});
    }),
  );
  const stdout: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        stdout.push(line);
        const parsed = JSON.parse(line) as {msg: string; port?: number};
        if (parsed.msg === 'listening') resolve({child, port: parsed.port!, stdout, exited});
      }
    });
    void exited.then(({code, signal}) => reject(new Error(`demo-app exited (${code ?? signal}) before listening: ${stderr}`)));
  });
}

/** SIGKILLs every demo-app this module started and waits for them to be gone. */
export async function killDemoApps(): Promise<void> {
  await Promise.all(
    [...children].map((c) => {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      return gone;
    }),
  );
}
