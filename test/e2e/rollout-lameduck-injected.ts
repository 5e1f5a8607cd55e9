// The showdown's `lameduck-injected` scenario: the bare app's Deployment, only annotated lameduck.io/inject, gets
// lameduck from the real `lameduck webhook` through the simulated API server's mutating admission, and a rolling
// update under load with lagging data planes loses no request — the pods were protected without a manifest change.
import {describe, expect, it} from '@jest/globals';
import {runScenario} from '../../sim/cluster/scenario-runner.js';
import {describeRun} from '../../sim/cluster/result-report.js';

describe('rolling update with lameduck added by the admission webhook', () => {
  it('drops nothing, and every old pod was drained by its injected lameduck from the API', async () => {
    const r = await runScenario({
      scenario: 'lameduck-injected',
      rps: 100,
      rollouts: 1,
      lags: {controller: {minMs: 500, maxMs: 3000}, loadBalancer: {minMs: 500, maxMs: 3000}, ingress: {minMs: 1000, maxMs: 3000}},
    });
    expect(r.requests.failed === 0 ? 'no failed request' : describeRun(r)).toBe('no failed request');
    const old = r.pods.filter((p) => p.terminatedAt !== undefined);
    expect(old).toHaveLength(3);
    // A drain summary per old pod: each ran the injected sidecar (native, started by the app's injected preStop).
    expect(r.drainSummaries).toHaveLength(3);
    for (const d of r.drainSummaries) expect(d.summary).toMatchObject({trigger: 'prestop', deregistration: 'deregistered', deletionConfirmed: true});
    for (const p of old) expect(p.sigkilled).toBe(false);
  }, 600_000);
});
