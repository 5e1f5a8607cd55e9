/**
 * The tests of chart-simulation-classic.test.ts and chart-simulation-native.test.ts, which differ only in the mode:
 * charts/demo rendered by a real helm in that mode and rolled on the cluster simulation (chart-simulation-harness.ts);
 * the sidecar sits where the mode puts it, no request fails, and every old pod drains through the Kubernetes API
 * (not the fallback) within the deadline the chart's grace period gives it.
 */
import {beforeAll, describe, expect, it} from '@jest/globals';
import {findObject, podSpecOf} from './helm.js';
import {rollChart, type ChartRollout} from './chart-simulation-harness.js';

const REPLICAS = 2;

export function describeChartOnSimulation(mode: 'classic' | 'native'): void {
  describe(`charts/demo (${mode}) on the cluster simulation`, () => {
    let run: ChartRollout;
    beforeAll(async () => {
      run = await rollChart({replicaCount: REPLICAS, lameduck: {mode}});
    }, 240_000);

    it(`renders the ${mode} sidecar`, () => {
      const pod = podSpecOf(findObject(run.objects, 'Deployment'));
      const inInit = (pod.initContainers ?? []).some((c) => c.name === 'lameduck');
      // A native sidecar is an init container (restartPolicy Always); a classic one is not.
      expect(inInit).toBe(mode === 'native');
    });

    it('rolls under load with zero failed requests', () => {
      expect(run.report.total).toBeGreaterThan(300);
      expect(run.report.byOutcome).toMatchObject({refused: 0, reset: 0, '5xx': 0, '4xx': 0, timeout: 0, error: 0});
      expect(run.report.failed).toBe(0);
    });

    it('drains every old pod through the API, within the deadline the chart gave it', () => {
      const grace = podSpecOf(findObject(run.objects, 'Deployment')).terminationGracePeriodSeconds!;
      expect(run.summaries).toHaveLength(REPLICAS);
      for (const s of run.summaries) {
        expect(s).toMatchObject({deregistration: 'deregistered', deadlineSource: 'pod', deadlineMs: grace * 1000 - 5000, cut: {requests: 0, upgrades: 0, connections: 0}});
        expect(s.drainMs as number).toBeLessThan(s.deadlineMs as number);
      }
    });
  });
}
