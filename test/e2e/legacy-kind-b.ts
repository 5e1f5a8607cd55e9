// Legacy apps of kind (b) (docs/design.md): a PID 1 without a SIGTERM handler ignores SIGTERM, so a bare pod hangs until
// kubelet's SIGKILL at the end of the grace period. Behind lameduck with LAMEDUCK_APP_EXIT=signal:SIGKILL the app is
// ended at release, and the pod goes within a second or two of the drain's end.
import {describe, it, expect} from '@jest/globals';
import {runScenario, type RunOptions} from '../../sim/cluster/scenario-runner.js';
import {describeRun} from '../../sim/cluster/result-report.js';

const GRACE = 12;
const common: Omit<RunOptions, 'scenario'> = {
  rps: 60,
  params: {gracePeriodSeconds: GRACE},
  lags: {controller: {minMs: 200, maxMs: 1500}, loadBalancer: {minMs: 300, maxMs: 1500}, ingress: {minMs: 500, maxMs: 2000}},
};

describe('legacy app of kind (b): PID 1 ignoring SIGTERM', () => {
  it('bare: every old pod takes the whole grace period and is SIGKILLed', async () => {
    const r = await runScenario({scenario: 'legacy-b-bare', ...common});
    const old = r.pods.filter((p) => p.terminationMs !== undefined);
    expect(old).toHaveLength(3);
    for (const p of old) {
      expect(p.sigkilled).toBe(true);
      expect(p.terminationMs!).toBeGreaterThanOrEqual(GRACE * 1000 - 300);
      expect(p.terminationMs!).toBeLessThan(GRACE * 1000 + 3000);
    }
  }, 600_000);

  it('with lameduck: the pod goes within two seconds of the drain end, nothing SIGKILLed by kubelet, nothing lost', async () => {
    const r = await runScenario({scenario: 'legacy-b-lameduck', ...common});
    expect(r.requests.failed === 0 ? 'no failed request' : describeRun(r)).toBe('no failed request');
    const old = r.pods.filter((p) => p.terminationMs !== undefined);
    expect(old).toHaveLength(3);
    for (const p of old) {
      expect(p.sigkilled).toBe(false);
      const done = p.lameduckPhases.find((x) => x.to === 'done');
      expect(done).toBeDefined();
      expect(p.terminatedAt! - done!.at).toBeLessThan(2000);
      // The app died of lameduck's SIGKILL, not of kubelet's SIGTERM (which it ignores).
      expect(p.exits.find((e) => e.container === 'app')?.signal).toBe('SIGKILL');
      expect(p.terminationMs!).toBeLessThan(GRACE * 1000 - 2000);
    }
  }, 600_000);
});
