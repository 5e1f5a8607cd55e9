/**
 * Fault matrix, API side (docs/reliability.md, faults 1-7), end to end: the real lameduck process draining under load while the
 * local API server is unreachable, restarts, denies, expires or stalls watches, or rotates the token. Each verdict:
 * no request lost, the deadline kept, the log line and the metric seen. One at a time (2 shared cores).
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {API_SCENARIOS} from '../../../sim/faults/api-scenarios.js';
import {killAll} from '../../../sim/processes.js';

afterAll(killAll);

describe('fault matrix: Kubernetes API faults during a drain', () => {
  it.each(API_SCENARIOS.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const v = await scenario();
    expect(v.failures).toEqual([]);
    expect(v.lost).toBe(0);
    expect(v.total).toBeGreaterThan(20);
    expect(v.overrunMs).toBeLessThanOrEqual(1_000);
  }, 40_000);
});
