/**
 * Fault matrix, app and signal side (docs/reliability.md, faults 9, 10, 13, 16), end to end with the real lameduck process under
 * load: the app crashes mid-drain (clean 502s only), requests longer than the deadline (cut, counted, exit in time),
 * repeated SIGTERM/SIGINT (no-ops), WebSockets at the trigger (kept to the deadline, then destroyed and counted).
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {APP_SCENARIOS} from '../../../sim/faults/app-scenarios.js';
import {killAll} from '../../../sim/processes.js';

afterAll(killAll);

describe('fault matrix: app, signal and WebSocket faults during a drain', () => {
  it.each(APP_SCENARIOS.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const v = await scenario();
    expect(v.failures).toEqual([]);
    expect(v.lost).toBeLessThanOrEqual(v.allowedLost);
    expect(v.total).toBeGreaterThan(20);
    expect(v.overrunMs).toBeLessThanOrEqual(1_000);
  }, 30_000);
});
