// One simulated cluster at a time: the run lock is exclusive, waits for its holder, and takes over a lock whose
// owner died.
import {describe, it, expect, afterEach, afterAll} from '@jest/globals';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync} from 'node:fs';
import {spawnSync} from 'node:child_process';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {acquireRunLock, RunLockTimeoutError} from '../../../sim/cluster/run-lock.js';

describe('run lock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'run-lock-test-'));
  const path = join(dir, 'lock');
  afterEach(() => rmSync(path, {recursive: true, force: true}));
  afterAll(() => rmSync(dir, {recursive: true, force: true}));

  it('is exclusive: a second taker waits until the first releases', async () => {
    const release = await acquireRunLock({path});
    let waited = false;
    const second = acquireRunLock({path, onWait: () => (waited = true)});
    await new Promise((r) => setTimeout(r, 400));
    expect(waited).toBe(true);
    release();
    const release2 = await second;
    expect(existsSync(path)).toBe(true);
    release2();
    expect(existsSync(path)).toBe(false);
  });

  it('takes over a lock whose owner process is gone', async () => {
    // A PID that certainly is not running: a child that has already exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    mkdirSync(path);
    writeFileSync(join(path, 'owner'), dead);
    const release = await acquireRunLock({path, timeoutMs: 5000});
    release();
  });

  it('gives up after its timeout while a live owner holds it', async () => {
    mkdirSync(path);
    writeFileSync(join(path, 'owner'), String(process.ppid));
    await expect(acquireRunLock({path, timeoutMs: 600})).rejects.toBeInstanceOf(RunLockTimeoutError);
  });
});
