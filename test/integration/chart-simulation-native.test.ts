/**
 * The simulation runs what the chart renders (native sidecar): charts/demo rendered by a real helm, its Deployment
 * and Service fed unchanged to the local cluster simulation and rolled under load (chart-simulation-harness.ts):
 * zero failed requests, and every old pod drained through the Kubernetes API (not the fallback) within the
 * deadline the chart's grace period gives it.
 */
import {beforeAll, describe, expect, it} from '@jest/globals';
import {findObject, podSpecOf} from '../support/helm.js';
import {rollChart, type ChartRollout} from './chart-simulation-harness.js';

const REPLICAS = 2;

describe('charts/demo (native) on the cluster simulation', () => {
  let run: ChartRollout;
  beforeAll(async () => {
    run = await rollChart({replicaCount: REPLICAS, lameduck: {mode: 'native'}});
  }, 240_000);

  it('renders the native sidecar', () => {
    const pod = podSpecOf(findObject(run.objects, 'Deployment'));
    const inInit = (pod.initContainers ?? []).some((c) => c.name === 'lameduck');
    expect(inInit).toBe(true);
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
