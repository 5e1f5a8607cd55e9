import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {mkdtempSync, mkdirSync, writeFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {findProcesses} from '../../../proxy/src/process-finder.js';

// A fake /proc tree: the finder must never return PID 1, its own PID or its parent, even when they match.
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'proc-'));
  const proc = (pid: number, argv: string[]) => {
    mkdirSync(join(dir, String(pid)));
    writeFileSync(join(dir, String(pid), 'cmdline'), argv.join('\0') + '\0');
  };
  proc(1, ['node', 'app.js']);
  proc(10, ['node', 'app.js', '--port=3000']);
  proc(11, ['node', 'dist/proxy/src/main.js', 'app.js']);
  proc(12, ['nginx']);
  proc(13, ['sh', '-c', 'node app.js']);
  mkdirSync(join(dir, 'self'));
});
afterAll(() => rmSync(dir, {recursive: true, force: true}));

describe('finding the app process', () => {
  it('matches the joined command line and skips PID 1, itself and its parent', async () => {
    const found = await findProcesses({pattern: /node app\.js/, procDir: dir, exclude: [11, 13]});
    expect(found.map((p) => p.pid)).toEqual([10]);
    expect(found[0]!.cmdline).toBe('node app.js --port=3000');
  });
});
