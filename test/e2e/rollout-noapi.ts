// Watching the API is what makes the difference. With API access denied, lameduck can only serve for its timed
// fallback and then settle; if the fallback is shorter than the EndpointSlice controller's lag, it closes while the
// Service still routes to the pod. The same pod spec with API access waits for the slice to flip and loses nothing.
//
// The traffic is sparse on purpose: lameduck's quiet period keeps a drain open as long as requests keep arriving, so
// under steady load a short fallback is hidden by the traffic itself; sparse traffic shows what the fallback alone
// guarantees.
import {describe, it, expect} from '@jest/globals';
import {runScenario, type RunOptions} from '../../sim/cluster/scenario-runner.js';
import {describeRun} from '../../sim/cluster/result-report.js';

const common: Omit<RunOptions, 'scenario'> = {
  rps: 40,
  ingressShare: 0,
  keepAliveFraction: 0.5,
  slowFraction: 0,
  streamFraction: 0,
  lags: {controller: 6000, loadBalancer: 500, ingress: 500},
  params: {fallbackDelayMs: 1000, settleMs: 1000, quietMs: 200},
};

describe('lameduck without API access (timed fallback only)', () => {
  it('fails requests when the fallback is shorter than the controller lag', async () => {
    const r = await runScenario({scenario: 'lameduck-noapi', ...common});
    expect(r.requests.failed).toBeGreaterThan(0);
    expect(r.drainSummaries.length).toBeGreaterThan(0);
    for (const d of r.drainSummaries) expect(d.summary).toMatchObject({deregistration: 'fallback'});
  }, 600_000);

  it('loses nothing with the same settings when it can watch the EndpointSlices', async () => {
    const r = await runScenario({scenario: 'lameduck', ...common});
    expect(r.requests.failed === 0 ? 'no failed request' : describeRun(r)).toBe('no failed request');
    for (const d of r.drainSummaries) expect(d.summary).toMatchObject({deregistration: 'deregistered'});
  }, 600_000);
});
