import {afterAll, describe, expect, it} from '@jest/globals';
import {startLameduck, startDemoApp, killAll} from '../../../sim/processes.js';
import {httpGet} from '../../../sim/http.js';
import {within} from '../../../sim/cluster/wait.js';

afterAll(killAll);

const TOKEN = 'fallback-exit-token-0123456789';

// docs/design.md: /prestop in native mode starts a fallback drain when the API cannot be asked (and the caller holds the
// token, as the chart's preStop hook does). If that was an app
// restart (failed liveness probe) rather than a termination, no SIGTERM follows: the sidecar waits one exit margin
// for it, then exits so its restart policy brings it back serving, instead of answering /readyz 503 for ever.
describe('native fallback drain of a pod not known to be terminating', () => {
  it('releases the app after the drain and exits 0 one exit margin later without a SIGTERM', async () => {
    const app = await startDemoApp();
    const ld = await startLameduck({
      LAMEDUCK_UPSTREAM: `http://127.0.0.1:${app.port}`,
      LAMEDUCK_MODE: 'native',
      LAMEDUCK_FALLBACK_DELAY: '300ms',
      LAMEDUCK_SETTLE: '100ms',
      LAMEDUCK_QUIET: '100ms',
      LAMEDUCK_DRAIN_TIMEOUT: '10s',
      LAMEDUCK_EXIT_MARGIN: '1s',
      LAMEDUCK_PRESTOP_TOKEN: TOKEN,
    });
    const res = await httpGet({host: '127.0.0.1', port: ld.adminPort, path: '/prestop', timeoutMs: 15_000, headers: {'x-lameduck-token': TOKEN}});
    const answeredAt = Date.now();
    expect(res.status).toBe(200);
    expect(res.body).toContain('fallback');
    const exit = await within(ld.exited, 8_000, 'hung' as const);
    expect(exit).not.toBe('hung');
    expect(exit !== 'hung' && exit.code).toBe(0);
    expect(exit !== 'hung' && exit.at - answeredAt).toBeGreaterThanOrEqual(900); // it did wait for a SIGTERM first
    expect(ld.logs.some((l) => l.msg === 'no SIGTERM after the drain of a pod not known to be terminating: exiting')).toBe(true);
  });

  it('counts only requests the app served after the trigger as drained (502s are not)', async () => {
    const ld = await startLameduck({
      LAMEDUCK_UPSTREAM: 'http://127.0.0.1:1', // nothing listens: every request is a 502
      LAMEDUCK_FALLBACK_DELAY: '1s',
      LAMEDUCK_SETTLE: '0',
      LAMEDUCK_QUIET: '100ms',
      LAMEDUCK_DRAIN_TIMEOUT: '10s',
    });
    ld.kill('SIGTERM');
    await ld.waitForLog((l) => l.msg === 'phase' && l.to === 'deregistering');
    for (let i = 0; i < 3; i++) expect((await httpGet({host: '127.0.0.1', port: ld.trafficPort, path: '/'})).status).toBe(502);
    await ld.exited;
    const summary = ld.logs.find((l) => l.msg === 'drain summary') as {drainedRequests: number};
    expect(summary.drainedRequests).toBe(0);
  });
});
