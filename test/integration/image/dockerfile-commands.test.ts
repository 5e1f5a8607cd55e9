import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {execFileSync, spawn, type ChildProcess} from 'node:child_process';
import {createHash} from 'node:crypto';
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync} from 'node:fs';
import {get} from 'node:http';
import {tmpdir} from 'node:os';
import {dirname, join, posix} from 'node:path';
import {fileURLToPath} from 'node:url';

// No Docker engine here, so this test plays the Dockerfiles itself: it parses Dockerfile.proxy and Dockerfile.app,
// builds each stage in a directory of its own from a clean copy of the tracked files (minus .dockerignore), runs the
// very RUN commands they contain, and starts each ENTRYPOINT. Layers are cached by their instruction prefix, like
// Docker's build cache, so the build stage and the production install that both images share run once.
// What it proves: the COPY lines bring everything the build needs, the build works from a fresh `npm ci`, the
// runtime stage's `npm ci --omit=dev` has every dependency the entry point needs, and the entry points serve.
// What it cannot prove: the base image itself (here the host's Node stands in for node:24-slim's).

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BUILD_TIMEOUT = 240_000;

interface Instruction {
  op: string;
  args: string;
  text: string;
}

interface Stage {
  name?: string;
  from: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    logical.push((pending + line).trim());
    pending = '';
  }
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\w+)\s+(.*)$/s.exec(l);
    if (!m) throw new Error(`cannot parse Dockerfile line: ${l}`);
    const ins = {op: m[1]!.toUpperCase(), args: m[2]!.trim(), text: `${m[1]!.toUpperCase()} ${m[2]!.trim()}`};
    if (ins.op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!f) throw new Error(`cannot parse ${l}`);
      stages.push({from: f[1]!, name: f[2], instructions: []});
    } else {
      if (stages.length === 0) throw new Error(`${ins.op} before FROM`);
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return stages;
}

function execForm(ins: Instruction): string[] {
  const argv: unknown = JSON.parse(ins.args);
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) throw new Error(`${ins.text} is not exec form`);
  return argv as string[];
}

/** .dockerignore patterns as regexes over slash-separated relative paths (a match on a parent dir excludes it). */
function dockerignore(text: string): (path: string) => boolean {
  const patterns = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (patterns.some((p) => p.startsWith('!'))) throw new Error('negated .dockerignore patterns are not modelled here');
  const regexes = patterns.map((p) => {
    const body = posix
      .normalize(p.replace(/^\/+/, ''))
      .split('')
      .map((c, i, all) => {
        if (c === '*') return all[i + 1] === '*' ? '' : all[i - 1] === '*' ? '.*' : '[^/]*';
        if (c === '?') return '[^/]';
        return /[.+^${}()|[\]\\]/.test(c) ? `\\${c}` : c;
      })
      .join('')
      .replace(/\.\*\//g, '(?:.*/)?');
    return new RegExp(`^${body}(?:/.*)?$`);
  });
  return (path) => regexes.some((r) => r.test(path));
}

interface StageState {
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string;
  entrypoint?: string[];
}

interface Image extends StageState {
  file: string;
  stages: Stage[];
}

/** The parent's environment minus what an outer `npm test` injects, which a clean image build would not have. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k === 'NODE_OPTIONS' || k === 'INIT_CWD' || /^npm_/i.test(k)) continue;
    env[k] = v;
  }
  env.PATH = (env.PATH ?? '').split(':').filter((p) => !p.includes('node_modules')).join(':');
  return env;
}

function run(cmd: string, cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', cmd], {cwd, env, stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    const keep = (d: Buffer): void => void (out = (out + d.toString()).slice(-4000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`RUN ${cmd} (in ${cwd}) failed: ${code ?? signal}\n${out}`)),
    );
  });
}

const hash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);

/**
 * Builds the images of several Dockerfiles with a shared layer cache. Keys are computed up front, so a layer
 * directory that more than one later layer builds on is copied before being changed, and any other is changed
 * in place (copying node_modules at every layer would cost more than the install).
 */
async function buildImages(files: string[], work: string, contextFiles: string[]): Promise<Image[]> {
  const parsed = files.map((file) => ({file, stages: parseDockerfile(readFileSync(join(REPO, file), 'utf8'))}));

  // Pass 1: the key of every filesystem layer and which layers build on which.
  const children = new Map<string, Set<string>>();
  const stageKeys = new Map<Stage, string>();
  const layerKey = (parent: string, text: string): string => {
    const key = hash(`${parent}\n${text}`);
    if (!children.has(parent)) children.set(parent, new Set());
    children.get(parent)!.add(key);
    return key;
  };
  for (const {stages} of parsed) {
    for (const stage of stages) {
      let key = hash(`FROM ${stage.from}`);
      let meta = '';
      for (const ins of stage.instructions) {
        if (ins.op === 'RUN' || ins.op === 'COPY') {
          const from = /--from=(\S+)/.exec(ins.args)?.[1];
          const source = from ? stageKeys.get(stages.find((s) => s.name === from)!) : '';
          key = layerKey(key, `${meta}\n${ins.text}\n${source}`);
          meta = '';
        } else if (ins.op === 'ENV' || ins.op === 'WORKDIR' || ins.op === 'USER') {
          meta += `${ins.text}\n`;
        }
      }
      stageKeys.set(stage, key);
      // A stage's result is used as it is (COPY --from, the image): never change it in place.
      if (!children.has(key)) children.set(key, new Set());
      children.get(key)!.add('(stage result)');
    }
  }

  // Pass 2: build.
  const layers = new Map<string, string>();
  let n = 0;
  const images: Image[] = [];
  for (const {file, stages} of parsed) {
    const built = new Map<string, StageState>();
    let last: StageState | undefined;
    for (const stage of stages) {
      let key = hash(`FROM ${stage.from}`);
      if (!layers.has(key)) {
        const base = join(work, `layer${n++}`);
        mkdirSync(base);
        layers.set(key, base);
      }
      const state: StageState = {root: layers.get(key)!, workdir: '/', env: {}, user: 'root'};
      let meta = '';
      for (const ins of stage.instructions) {
        switch (ins.op) {
          case 'WORKDIR':
            state.workdir = posix.resolve(state.workdir, ins.args);
            meta += `${ins.text}\n`;
            continue;
          case 'ENV': {
            const m = /^(\w+)(?:=|\s+)(.*)$/.exec(ins.args);
            if (!m) throw new Error(`cannot parse ${ins.text}`);
            state.env[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
            meta += `${ins.text}\n`;
            continue;
          }
          case 'USER':
            state.user = ins.args;
            meta += `${ins.text}\n`;
            continue;
          case 'ENTRYPOINT':
            state.entrypoint = execForm(ins);
            continue;
          case 'EXPOSE':
          case 'LABEL':
          case 'CMD':
            continue;
          case 'RUN':
          case 'COPY':
            break;
          default:
            throw new Error(`${file}: ${ins.op} is not modelled by this test`);
        }
        const from = /--from=(\S+)/.exec(ins.args)?.[1];
        const fromStage = from ? stages.find((s) => s.name === from) : undefined;
        if (from && !fromStage) throw new Error(`${ins.text}: no stage named ${from}`);
        const parent = key;
        key = hash(`${parent}\n${meta}\n${ins.text}\n${fromStage ? stageKeys.get(fromStage) : ''}`);
        meta = '';
        if (layers.has(key)) {
          state.root = layers.get(key)!;
          continue;
        }
        const dir = join(work, `layer${n++}`);
        if (children.get(parent)!.size > 1) {
          cpSync(state.root, dir, {recursive: true, verbatimSymlinks: true});
        } else {
          renameSync(state.root, dir);
          layers.delete(parent);
        }
        layers.set(key, dir);
        state.root = dir;
        const cwd = join(dir, state.workdir);
        mkdirSync(cwd, {recursive: true});

        if (ins.op === 'RUN') {
          // The one deliberate difference from a docker build: reuse the local npm cache when it has the tarballs.
          const cmd = ins.args.replace(/^npm ci\b/, 'npm ci --prefer-offline --no-audit --no-fund');
          await run(cmd, cwd, {...cleanEnv(), ...state.env});
          continue;
        }
        // COPY [--from=stage] src... dest
        const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
        if (words[0]!.startsWith('[')) throw new Error(`${ins.text}: JSON-form COPY is not modelled here`);
        const dest = words.pop()!;
        const destAbs = join(dir, posix.resolve(state.workdir, dest));
        const destIsDir = dest.endsWith('/') || words.length > 1;
        for (const src of words) {
          if (fromStage) {
            const srcAbs = join(built.get(from!)!.root, posix.resolve(built.get(from!)!.workdir, src));
            if (!existsSync(srcAbs)) throw new Error(`${ins.text}: ${src} does not exist in stage ${from}`);
            const target = statSync(srcAbs).isDirectory() || !destIsDir ? destAbs : join(destAbs, posix.basename(src));
            cpSync(srcAbs, target, {recursive: true});
            continue;
          }
          const rel = posix.normalize(src).replace(/\/$/, '');
          const matched = contextFiles.filter((f) => rel === '.' || f === rel || f.startsWith(`${rel}/`));
          if (matched.length === 0) throw new Error(`${ins.text}: ${src} is not in the build context`);
          for (const f of matched) {
            const target = f === rel ? (destIsDir ? join(destAbs, posix.basename(f)) : destAbs) : join(destAbs, rel === '.' ? f : f.slice(rel.length + 1));
            mkdirSync(dirname(target), {recursive: true});
            cpSync(join(REPO, f), target);
          }
        }
      }
      mkdirSync(join(state.root, state.workdir), {recursive: true});
      if (stage.name) built.set(stage.name, state);
      last = state;
    }
    images.push({...last!, file, stages});
  }
  return images;
}

interface Started {
  child: ChildProcess;
  ready: Record<string, unknown>;
  output: () => string;
}

const children = new Set<ChildProcess>();

/** Runs an image's ENTRYPOINT in its work dir and resolves with the first JSON log line `isReady` accepts. */
function startEntrypoint(image: Image, env: Record<string, string>, isReady: (line: Record<string, unknown>) => boolean): Promise<Started> {
  const [cmd, ...args] = image.entrypoint!;
  const child = spawn(cmd === 'node' ? process.execPath : cmd!, args, {
    cwd: join(image.root, image.workdir),
    env: {...cleanEnv(), ...image.env, ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${image.file}: not ready after 20 s:\n${out}`)), 20_000);
    let buf = '';
    child.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
    child.stdout!.on('data', (d: Buffer) => {
      out = (out + d).slice(-4000);
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (isReady(parsed)) {
          clearTimeout(timer);
          resolve({child, ready: parsed, output: () => out});
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${image.file}: ENTRYPOINT exited (${code ?? signal}) before it was ready:\n${out}`));
    });
  });
}

function httpGet(port: number, path: string): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const req = get({host: '127.0.0.1', port, path, agent: false, timeout: 5000}, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({status: res.statusCode!, body}));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

describe('Dockerfile.proxy and Dockerfile.app', () => {
  let work: string;
  let proxy: Image;
  let app: Image;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'lameduck-docker-'));
    const ignored = dockerignore(readFileSync(join(REPO, '.dockerignore'), 'utf8'));
    const tracked = execFileSync('git', ['ls-files', '-z'], {cwd: REPO, encoding: 'utf8'}).split('\0').filter(Boolean);
    // Tracked files as they are in the working tree (a deleted-but-staged file is simply absent).
    const context = tracked.filter((f) => !ignored(f) && existsSync(join(REPO, f)));
    [proxy, app] = await buildImages(['Dockerfile.proxy', 'Dockerfile.app'], work, context);
  }, BUILD_TIMEOUT);

  afterAll(async () => {
    await Promise.all(
      [...children].map((c) => {
        const gone = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        return gone;
      }),
    );
    if (work) rmSync(work, {recursive: true, force: true});
  });

  it('are multi-stage on Node 24 LTS slim, run as the non-root node user, with an exec-form ENTRYPOINT', () => {
    for (const image of [proxy, app]) {
      expect(image.stages.length).toBeGreaterThanOrEqual(2);
      for (const stage of image.stages) expect(stage.from).toBe('node:24-slim');
      expect(image.user).toBe('node');
      const runs = image.stages[image.stages.length - 1]!.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
      expect(runs).toContain('npm ci --omit=dev');
      expect(image.entrypoint![0]).toBe('node');
    }
    expect(proxy.entrypoint).toEqual(['node', 'dist/proxy/src/main.js']);
    expect(app.entrypoint).toEqual(['node', 'dist/demo-app/src/main.js']);
    // Only the production dependencies are in the runtime image.
    expect(existsSync(join(proxy.root, proxy.workdir, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(join(proxy.root, proxy.workdir, 'node_modules', 'http-proxy-3'))).toBe(true);
  });

  it('.dockerignore keeps local installs, builds and VCS data out of the build context', () => {
    const ignored = dockerignore(readFileSync(join(REPO, '.dockerignore'), 'utf8'));
    for (const p of ['node_modules/ws/index.js', 'dist/proxy/src/main.js', '.git/HEAD', 'bench/results/x.json']) expect(ignored(p)).toBe(true);
    for (const p of ['package.json', 'package-lock.json', 'proxy/src/main.ts', 'demo-app/src/main.ts', 'tsconfig.build.json']) expect(ignored(p)).toBe(false);
  });

  it('the demo-app image starts and serves /alive; the lameduck image serves /healthz and proxies in front of it', async () => {
    const demo = await startEntrypoint(app, {PORT: '0', HOST: '127.0.0.1', POD_NAME: 'image-test'}, (l) => l.msg === 'listening');
    const appPort = demo.ready.port as number;
    expect((await httpGet(appPort, '/alive')).status).toBe(200);

    const lameduck = await startEntrypoint(
      proxy,
      {LAMEDUCK_LISTEN: '127.0.0.1:0', LAMEDUCK_ADMIN_LISTEN: '127.0.0.1:0', LAMEDUCK_UPSTREAM: `http://127.0.0.1:${appPort}`},
      (l) => l.msg === 'listening',
    );
    const admin = (lameduck.ready.admin as {port: number}).port;
    const traffic = (lameduck.ready.traffic as {port: number}).port;
    expect((await httpGet(admin, '/healthz')).status).toBe(200);
    const through = await httpGet(traffic, '/');
    expect(through.status).toBe(200);
    expect(through.body).toContain('image-test');
  });
});
