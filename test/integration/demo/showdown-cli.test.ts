// `npm run demo` as a user runs it (the built CLI): a bad option is a clear one-line error with exit 2; a small real
// run prints JSON results and writes the SVG timeline, exit 0.
import {describe, it, expect, afterAll} from '@jest/globals';
import {spawn, spawnSync} from 'node:child_process';
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {findRepoRoot} from '../../../sim/cluster/images.js';

const root = findRepoRoot();
const cli = join(root, 'dist', 'demo', 'showdown.js');
const env = {...process.env, NODE_OPTIONS: ''};

describe('showdown CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'showdown-cli-'));
  afterAll(() => rmSync(dir, {recursive: true, force: true}));

  it('rejects a bad option with exit 2 and a message naming it', () => {
    const r = spawnSync(process.execPath, [cli, '--scenario', 'nope'], {env, encoding: 'utf8'});
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^showdown: --scenario: unknown "nope"/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('prints its usage with --help, exit 0', () => {
    const r = spawnSync(process.execPath, [cli, '--help'], {env, encoding: 'utf8'});
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--replicas N/);
    expect(r.stdout).toMatch(/--json/);
  });

  it('runs a scenario end to end: JSON on stdout, the SVG written, exit 0', async () => {
    const svg = join(dir, 'timeline.svg');
    // --parallel 2: a run in parallel lanes does not take the machine-wide run lock (sim/cluster/run-lock.ts). This one
    // is tiny (one replica, 30 rps); with the lock it would wait behind the e2e rollouts that another jest worker runs
    // back to back, getting in only if its poll fell between two of them.
    const child = spawn(process.execPath, [cli, '--scenario', 'bare', '--replicas', '1', '--rps', '30', '--lag', '0.2s-0.5s', '--controller-lag', '0s-0.3s', '--ingress-lag', '0.2s-0.5s', '--parallel', '2', '--json', '--out', svg], {env, stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({code, err: code === 0 ? '' : err}).toEqual({code: 0, err: ''});
    const json = JSON.parse(out) as {svg: string; results: {scenario: string; requests: {total: number}; rollouts: unknown[]; pods: unknown[]}[]};
    expect(json.svg).toBe(svg);
    expect(json.results).toHaveLength(1);
    expect(json.results[0]).toMatchObject({scenario: 'bare'});
    expect(json.results[0]!.requests.total).toBeGreaterThan(20);
    expect(json.results[0]!.rollouts).toHaveLength(1);
    expect(json.results[0]!.pods).toHaveLength(2);
    expect(existsSync(svg)).toBe(true);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<\?xml[\s\S]*<\/svg>$/);
    // Progress went to stderr, not into the JSON.
    expect(err).toMatch(/bare/);
  }, 600_000);
});
