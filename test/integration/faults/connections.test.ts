/**
 * Fault matrix, client side (docs/reliability.md, faults 11 and 12), end to end: a storm of 300 client aborts (counted, upstream
 * requests aborted, nothing left in flight, no load request lost) and 2 000 idle keep-alive connections at the trigger
 * (closed at `closing`, not cut; RSS bounded and fds released, read from /proc). The 2 000-connection run also checks
 * that prom-client's event-loop lag (`nodejs_eventloop_lag_seconds`) is exported on /metrics.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {clientAbortStorm, idleKeepAliveAtTrigger} from '../../../sim/faults/connection-scenarios.js';
import {killAll} from '../../../sim/processes.js';

afterAll(killAll);

describe('fault matrix: client aborts and idle keep-alive connections', () => {
  it('a storm of 300 client aborts', async () => {
    const v = await clientAbortStorm(300);
    expect(v.failures).toEqual([]);
    expect(v.lost).toBe(0);
    expect(v.metric.value).toBeGreaterThanOrEqual(75);
  }, 30_000);

  it('2 000 idle keep-alive connections at the trigger: closed at closing, RSS bounded, fds released, event-loop lag exported', async () => {
    const v = await idleKeepAliveAtTrigger(2_000, 300);
    expect(v.failures).toEqual([]);
    expect(v.lost).toBe(0);
    expect(v.metric.want).toMatch(/^nodejs_eventloop_lag_seconds/);
    expect(v.metric.value).toBeGreaterThanOrEqual(0);
    expect(v.overrunMs).toBeLessThanOrEqual(1_000);
  }, 40_000);
});
