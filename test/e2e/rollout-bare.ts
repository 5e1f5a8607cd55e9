// The problem lameduck solves, documented as a test: the legacy app alone dies on SIGTERM while kube-proxy and the
// ingress still route to it (and while keep-alive clients still hold connections to it), so a rolling update fails
// requests.
import {describe, it, expect} from '@jest/globals';
import {runScenario} from '../../sim/cluster/scenario-runner.js';

describe('rolling update of the bare legacy app', () => {
  it('fails requests: refused/reset connections and 502s while the data planes catch up', async () => {
    const r = await runScenario({
      scenario: 'bare',
      rps: 100,
      lags: {controller: {minMs: 500, maxMs: 2000}, loadBalancer: {minMs: 500, maxMs: 3000}, ingress: {minMs: 1000, maxMs: 3000}},
    });
    expect(r.rollouts[0]?.completedAt).toBeDefined();
    expect(r.requests.failed).toBeGreaterThan(0);
    // Both ways a dead pod shows: connections the L4 balancer could not complete, and the ingress's 502s.
    expect(r.lb.refused).toBeGreaterThan(0);
    expect(r.ingress.badGateway).toBeGreaterThan(0);
    // The old pods went at once: SIGTERM killed them, no hook held them.
    for (const p of r.pods.filter((x) => x.terminationMs !== undefined)) expect(p.terminationMs!).toBeLessThan(3000);
  }, 600_000);
});
