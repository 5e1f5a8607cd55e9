/**
 * Fault matrix, start-up and upstream protocol (docs/reliability.md, faults 8, 14, 15), end to end with the real lameduck process:
 * the app not up at start (502 with a clear body, /readyz 503, then served), SIGTERM during start-up (no hang, exit 0
 * in time), a malformed upstream response (502, counted, still serving).
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {STARTUP_SCENARIOS} from '../../../sim/faults/startup-scenarios.js';
import {killAll} from '../../../sim/processes.js';

afterAll(killAll);

describe('fault matrix: start-up and upstream protocol', () => {
  it.each(STARTUP_SCENARIOS.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const v = await scenario();
    expect(v.failures).toEqual([]);
    expect(v.lost).toBe(0);
    if (v.overrunMs !== undefined) expect(v.overrunMs).toBeLessThanOrEqual(1_000);
  }, 30_000);
});
