// The common workaround fails when its guess is short: a preStop `sleep 1` while the EndpointSlice controller takes
// 2 s and kube-proxy another 2 s. The app is SIGTERMed while the Service still routes to it.
import {describe, it, expect} from '@jest/globals';
import {runScenario} from '../../sim/cluster/scenario-runner.js';

describe('rolling update with a preStop sleep shorter than the propagation lag', () => {
  it('fails requests', async () => {
    const r = await runScenario({
      scenario: 'sleep',
      rps: 100,
      params: {sleepSeconds: 1},
      lags: {controller: 2000, loadBalancer: 2000, ingress: 2000},
    });
    expect(r.rollouts[0]?.completedAt).toBeDefined();
    expect(r.requests.failed).toBeGreaterThan(0);
    // The hook held each old pod for its second, then SIGTERM ended it.
    const old = r.pods.filter((p) => p.terminationMs !== undefined);
    expect(old).toHaveLength(3);
    for (const p of old) {
      expect(p.terminationMs!).toBeGreaterThanOrEqual(900);
      expect(p.terminationMs!).toBeLessThan(5000);
    }
    // Failures come after the sleep, while the endpoint was still routed.
    const firstDeletion = Math.min(...old.map((p) => p.terminatingAt!));
    const failures = r.records.filter((x) => x.outcome !== 'ok');
    expect(Math.min(...failures.map((f) => f.end))).toBeGreaterThan(firstDeletion + 900);
  }, 600_000);
});
