// A 410 Expired in the middle of the drain (the API server compacted the history the
// EndpointSlice watch resumes from). The real lameduck re-lists at once, watches again, and still catches the flip.
import {describe, expect, it} from '@jest/globals';
import {startDemoApp} from '../../../sim/processes.js';
import {NS, routeInOwnSlice} from '../../support/kube-fixture.js';
import {
  createSelfPod,
  lameduckRequests,
  phaseAt,
  prestop,
  scrapeMetric,
  sleep,
  startSidecar,
  useK8sFixture,
  waitForSliceWatch,
  waitForSummary,
} from '../../support/k8s-harness.js';

const fx = useK8sFixture();

describe('410 Expired mid-drain', () => {
  it('re-lists at once, watches from the new list, and still catches the flip', async () => {
    const {store} = fx.api;
    const self = createSelfPod(fx, 'expire-0', {app: 'expire'});
    const {flip} = routeInOwnSlice(fx, self, 'expire');
    const app = await startDemoApp({POD_NAME: 'expire-0'});
    // Native mode: the drain starts from the app's preStop hook and the process stays until SIGTERM, so its metrics
    // can be read after the drain.
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_MODE: 'native'});

    const triggerAt = Date.now();
    store.deletePod(NS, 'expire-0', {gracePeriodSeconds: 30});
    const hook = prestop(ld);
    await waitForSliceWatch(fx, triggerAt);

    const compactedAt = Date.now();
    fx.api.faults.compact();
    const compactedThrough = fx.api.store.oldestWatchableVersion();
    await ld.waitForLog((l) => l.msg === 'endpointslice watch expired (410): re-listing', 10_000);
    const rewatch = await waitForSliceWatch(fx, compactedAt);
    expect(phaseAt(ld, 'settling')).toBeUndefined(); // the 410 alone decided nothing
    await sleep(200);

    const flippedAt = Date.now();
    flip();
    const summary = await waitForSummary(ld);
    const answer = await hook;

    // The 410 was followed by a re-list before the new watch, not by a backoff or the periodic safety net (3 s). Like
    // client-go's reflector, that re-list may come from the watch cache but not older than the state already seen;
    // the new watch resumed from that list's resourceVersion, not before the compaction.
    const relists = lameduckRequests(fx, compactedAt).filter((r) => r.resource === 'endpointslices' && r.verb === 'list');
    expect(relists.length).toBeGreaterThanOrEqual(1);
    expect(relists[0]!.query).toMatchObject({resourceVersionMatch: 'NotOlderThan'});
    expect(Number(relists[0]!.query.resourceVersion)).toBeGreaterThan(0);
    expect(relists[0]!.time).toBeLessThanOrEqual(rewatch.time);
    expect(relists[0]!.time - compactedAt).toBeLessThan(2_500);
    expect(Number(rewatch.query.resourceVersion)).toBeGreaterThanOrEqual(compactedThrough);

    const settlingAt = phaseAt(ld, 'settling')!;
    expect(settlingAt).toBeGreaterThanOrEqual(flippedAt);
    expect(summary).toMatchObject({trigger: 'prestop', deregistration: 'deregistered', deletionConfirmed: true});
    expect(answer.status).toBe(200);
    expect(await scrapeMetric(ld, 'lameduck_watch_restarts_total')).toBeGreaterThanOrEqual(1);
    expect(await scrapeMetric(ld, 'lameduck_fallbacks_total')).toBe(0);

    ld.kill('SIGTERM'); // native: kubelet signals the sidecar after the app exited
    expect((await ld.exited).code).toBe(0);
  });
});
