import {afterAll, describe, expect, it} from '@jest/globals';
import {startLameduck, startDemoApp, killAll} from '../../../sim/processes.js';
import {httpGet} from '../../../sim/http.js';

afterAll(killAll);

describe('drain deadline', () => {
  it('cuts a request longer than the deadline, counts it, and exits in time', async () => {
    const app = await startDemoApp();
    const ld = await startLameduck({
      LAMEDUCK_UPSTREAM: `http://127.0.0.1:${app.port}`,
      LAMEDUCK_DRAIN_TIMEOUT: '2s',
      LAMEDUCK_FALLBACK_DELAY: '200ms',
      LAMEDUCK_SETTLE: '0',
      LAMEDUCK_QUIET: '0',
    });
    const slow = httpGet({host: '127.0.0.1', port: ld.trafficPort, path: '/slow?ms=10000', timeoutMs: 15_000}).then(
      (r) => ({ok: true as const, status: r.status}),
      (err: Error) => ({ok: false as const, error: err.message}),
    );
    await new Promise((r) => setTimeout(r, 300));
    const triggerAt = Date.now();
    ld.kill('SIGTERM');
    const exit = await ld.exited;
    const outcome = await slow;
    expect(outcome.ok).toBe(false); // the client sees the connection cut, not a fake success
    expect(exit.code).toBe(0);
    // Deadline 2 s from the trigger, plus the exit itself: well under a second of overrun.
    expect(exit.at - triggerAt).toBeGreaterThanOrEqual(1900);
    expect(exit.at - triggerAt).toBeLessThan(3000);
    const summary = ld.logs.find((l) => l.msg === 'drain summary') as {cut: {requests: number}};
    expect(summary.cut.requests).toBe(1);
    expect(ld.logs.some((l) => l.msg === 'deadline reached: cut what remained' && l.level === 'warn')).toBe(true);
  });
});
