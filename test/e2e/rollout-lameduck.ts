// The acceptance test, for lameduck as a classic sidecar and as a native one (in initContainers[] with restartPolicy
// Always; the app's preStop /prestop starts the drain, and SIGTERM reaches lameduck only after the app exited): three
// consecutive rolling updates under load, with kube-proxy lagging up to 3 s and the EndpointSlice controller up to
// 5 s, /slow (1 s) and streaming requests in the mix, over keep-alive and fresh connections, through the Service's
// virtual IP and an ingress — and not one request lost.
import {describe, it, expect} from '@jest/globals';
import {runScenario} from '../../sim/cluster/scenario-runner.js';
import {describeRun} from '../../sim/cluster/result-report.js';

/** What each old pod's drain summary must show. Native: the app's preStop (/prestop) starts the drain. */
const SUMMARY = {
  classic: {deregistration: 'deregistered', deletionConfirmed: true},
  native: {trigger: 'prestop', deregistration: 'deregistered', deletionConfirmed: true},
} as const;

function describeThreeRollouts(sidecar: 'classic' | 'native'): void {
  describe(`rolling updates with lameduck (${sidecar} sidecar)`, () => {
    it('drops nothing over three rollouts with LB lag up to 3 s and controller lag up to 5 s', async () => {
      const r = await runScenario({
        scenario: sidecar === 'native' ? 'lameduck-native' : 'lameduck',
        rps: 100,
        rollouts: 3,
        lags: {controller: {minMs: 500, maxMs: 5000}, loadBalancer: {minMs: 500, maxMs: 3000}, ingress: {minMs: 1000, maxMs: 3000}},
        slowFraction: 0.05,
        slowMs: 1000,
      });
      expect(r.requests.failed === 0 ? 'no failed request' : describeRun(r)).toBe('no failed request');
      expect(r.rollouts).toHaveLength(3);
      expect(r.rollouts.every((x) => x.completedAt !== undefined)).toBe(true);
      // The mix really happened: slow requests completed, and old pods served until they were drained.
      expect(r.records.filter((x) => x.kind === 'slow' && x.outcome === 'ok').length).toBeGreaterThan(5);
      expect(r.records.filter((x) => x.via === 'ingress' && x.outcome === 'ok').length).toBeGreaterThan(100);
      const old = r.pods.filter((p) => p.terminatedAt !== undefined);
      expect(old).toHaveLength(9);
      // Every old pod was drained by lameduck from the API (not by its timed fallback), in time.
      expect(r.drainSummaries).toHaveLength(9);
      for (const d of r.drainSummaries) expect(d.summary).toMatchObject(SUMMARY[sidecar]);
      for (const p of old) expect(p.sigkilled).toBe(false);
    }, 600_000);
  });
}

describeThreeRollouts('classic');
describeThreeRollouts('native');
