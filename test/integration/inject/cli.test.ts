/**
 * `lameduck inject` as a user runs it: the real executable (dist/proxy/src/main.js, the package's bin) reading stdin,
 * files and directories; exit codes 0 (manifests on stdout), 1 (refusals on stderr, nothing on stdout), 2 (bad flags).
 * The packed npm package carries what `npx lameduck inject` needs; the sidecar's own start path loads none of it.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {execFile} from 'node:child_process';
import {existsSync, readFileSync} from 'node:fs';
import {mkdir, mkdtemp, readFile, rm, symlink, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {parseAllDocuments} from 'yaml';
import {LAMEDUCK_MAIN} from '../../../sim/processes.js';
import {REPO_ROOT} from '../../support/helm.js';
import {runWithInput, type RunResult} from '../../support/run-with-input.js';

function run(args: string[], stdin = '', main = LAMEDUCK_MAIN): Promise<RunResult> {
  return runWithInput(process.execPath, [main, ...args], stdin);
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: web:1
          ports: [{name: http, containerPort: 3000}]
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lameduck-inject-cli-'));
});
afterAll(async () => {
  await rm(dir, {recursive: true, force: true});
});

describe('lameduck inject', () => {
  it('stdin to stdout, with --all and flags for the defaults; what it did on stderr', async () => {
    const r = await run(['inject', '--all', '--mode', 'classic', '--image=reg/lameduck:1'], DEPLOYMENT);
    expect(r.code).toBe(0);
    const [d] = parseAllDocuments(r.stdout).map((x) => x.toJS());
    const containers = d.spec.template.spec.containers;
    expect(containers.map((c: {name: string}) => c.name)).toEqual(['app', 'lameduck']);
    expect(containers[1].image).toBe('reg/lameduck:1');
    expect(r.stderr).toContain('Deployment web: injected');
  });

  it('files and directories (recursively, *.yaml, *.yml, *.json), in name order', async () => {
    await mkdir(join(dir, 'tree', 'sub'), {recursive: true});
    await writeFile(join(dir, 'tree', 'a.yaml'), DEPLOYMENT.replace('name: web', 'name: a'));
    await writeFile(join(dir, 'tree', 'sub', 'b.json'), JSON.stringify({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'b'}}));
    await writeFile(join(dir, 'tree', 'notes.txt'), 'not a manifest');
    const r = await run(['inject', '--all', join(dir, 'tree')]);
    expect(r.code).toBe(0);
    const names = parseAllDocuments(r.stdout).map((x) => (x.toJS() as {metadata: {name: string}}).metadata.name);
    expect(names).toEqual(['a', 'b']);
  });

  it('a refusal: exit 1, the workload and what to do on stderr, nothing on stdout', async () => {
    const r = await run(['inject', '--all'], DEPLOYMENT.replace('ports: [{name: http, containerPort: 3000}]', 'args: [serve]'));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Deployment web: container "app" declares no TCP port.*lameduck\.io\/port/);
  });

  it('bad flags and missing files: exit 2 / 1 with a message naming them', async () => {
    const bad = await run(['inject', '--mode', 'sidecar']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--mode="sidecar": must be one of native, classic');
    const unknown = await run(['inject', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown flag --bogus');
    const missing = await run(['inject', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.yaml: cannot read it');
  });

  it('the /prestop token: from a Secret for the sidecar, from a file for the app\'s preStop hook', async () => {
    await writeFile(join(dir, 'token'), 'a-long-enough-token\n');
    const r = await run(['inject', '--all', '--prestop-token-secret', 'web-token:key', '--prestop-token-file', join(dir, 'token')], DEPLOYMENT);
    expect(r.code).toBe(0);
    const spec = (parseAllDocuments(r.stdout)[0]!.toJS() as {spec: {template: {spec: any}}}).spec.template.spec;
    expect(spec.containers[0].lifecycle.preStop.httpGet.httpHeaders).toEqual([{name: 'X-Lameduck-Token', value: 'a-long-enough-token'}]);
    expect(spec.initContainers[0].env).toContainEqual({name: 'LAMEDUCK_PRESTOP_TOKEN', valueFrom: {secretKeyRef: {name: 'web-token', key: 'key'}}});
    const alone = await run(['inject', '--prestop-token-file', join(dir, 'token')], DEPLOYMENT);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('--prestop-token-file needs --prestop-token-secret');
  });

  it('--help lists the flags', async () => {
    const r = await run(['inject', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--rbac');
    expect(r.stdout).toContain('--settle');
  });
});

/** Every module a file imports statically, recursively (relative imports and bare package names). */
function staticImports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
    const spec = m[1]!;
    if (spec.startsWith('.')) staticImports(resolve(dirname(file), spec), seen);
    else seen.add(spec);
  }
  return seen;
}

describe('the sidecar start path', () => {
  it('loads neither the injector nor the YAML library (they are imported only for the subcommands)', () => {
    const graph = [...staticImports(LAMEDUCK_MAIN)];
    expect(graph.length).toBeGreaterThan(10);
    expect(graph.filter((f) => f.includes(`${join('src', 'inject')}`))).toEqual([]);
    expect(graph).not.toContain('yaml');
    expect(readFileSync(LAMEDUCK_MAIN, 'utf8')).toContain("import('./inject/cli.js')");
  });
});

describe('the npm package', () => {
  it('carries the bin, the injector, the Helm plugin and the yaml dependency: `npx lameduck inject` runs', async () => {
    const packDir = join(dir, 'pack');
    await mkdir(packDir);
    const tgz = await new Promise<string>((resolvePromise, reject) =>
      execFile('npm', ['pack', '--pack-destination', packDir, '--json', '--ignore-scripts'], {cwd: REPO_ROOT, timeout: 120_000}, (err, stdout) =>
        err ? reject(err) : resolvePromise((JSON.parse(stdout) as {filename: string}[])[0]!.filename),
      ),
    );
    await new Promise<void>((resolvePromise, reject) => execFile('tar', ['-xzf', join(packDir, tgz), '-C', packDir], (err) => (err ? reject(err) : resolvePromise())));
    const pkg = join(packDir, 'package');
    const manifest = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8')) as {bin: {lameduck: string}; dependencies: Record<string, string>};
    expect(manifest.dependencies.yaml).toBeDefined();
    expect(existsSync(join(pkg, 'helm-plugin', 'lameduck', 'plugin.yaml'))).toBe(true);
    // The installed package's dependencies: the repository's (what npm would install from the same lock).
    await symlink(join(REPO_ROOT, 'node_modules'), join(pkg, 'node_modules'));
    const r = await run(['inject', '--all'], DEPLOYMENT, join(pkg, manifest.bin.lameduck));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('name: lameduck');
  }, 150_000);
});
