// The deadline comes from the pod's deletionGracePeriodSeconds (minus LAMEDUCK_EXIT_MARGIN),
// and the `Normal LameduckDrained` Event left on the pod carries the right numbers — requests served after the
// trigger, time to deregistration, drain time, what was cut at the deadline — checked against the summary line and
// against what the clients and lameduck's phase lines saw. The SIGTERM arrives right after start-up, while the
// credentials may still be loading: the deletion must still be confirmed and the pod's grace period still used.
import {describe, expect, it} from '@jest/globals';
import {httpGet} from '../../../sim/http.js';
import {startDemoApp} from '../../../sim/processes.js';
import {NS, makePod, makeService, waitFor} from '../../support/kube-fixture.js';
import {
  createSelfPod,
  failures,
  parseDrainedMessage,
  phaseAt,
  sleep,
  startLoad,
  startSidecar,
  useK8sFixture,
  waitForPhase,
  waitForSummary,
} from '../../support/k8s-harness.js';

const GRACE_S = 12;
const EXIT_MARGIN_MS = 1_000;
const DEADLINE_MS = GRACE_S * 1000 - EXIT_MARGIN_MS;

const fx = useK8sFixture();

describe('deadline from the pod and the LameduckDrained Event', () => {
  it('takes the deadline from deletionGracePeriodSeconds; the Event matches the summary and the observed drain', async () => {
    const {store} = fx.api;
    // terminationGracePeriodSeconds 30, but the delete asks for 12: the delete's value is the one that counts.
    const self = createSelfPod(fx, 'ev8-0', {app: 'ev8'}, {terminationGracePeriodSeconds: 30});
    store.createPod(makePod('ev8-1', '10.9.9.11', {app: 'ev8'}));
    store.createService(makeService('ev8', {app: 'ev8'}));
    await fx.api.whenControllersIdle();
    const [app, replacement] = await Promise.all([startDemoApp({POD_NAME: 'ev8-0'}), startDemoApp({POD_NAME: 'ev8-1'})]);
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_EXIT_MARGIN: `${EXIT_MARGIN_MS}ms`});

    // 100 req/s: with the credentials read in milliseconds, the time from the trigger to the load balancer moving away
    // is only a few hundred ms (slice flip, settle, the 200 ms below), and enough requests must land in it for the
    // drained count below to mean something (at 60 req/s it once came to 18 of the > 20 required).
    const load = startLoad({host: '127.0.0.1', port: ld.trafficPort, rps: 100, keepAliveFraction: 0.5, durationMs: 60_000});
    // One request that outlives the deadline: it is what gets cut.
    const tooLong = httpGet({host: '127.0.0.1', port: ld.trafficPort, path: '/slow?ms=60000', timeoutMs: 90_000}).then(
      (r) => `answered ${r.status}`,
      (e: Error) => `failed: ${e.message}`,
    );
    await sleep(200);
    store.deletePod(NS, 'ev8-0', {gracePeriodSeconds: GRACE_S});
    ld.kill('SIGTERM');

    const started = await ld.waitForLog((l) => l.msg === 'drain started', 45_000);
    expect(started).toMatchObject({deadlineMs: DEADLINE_MS, deadlineSource: 'pod', deletionConfirmed: true});
    await waitForPhase(ld, 'settling');
    await sleep(200); // kube-proxy catching up with the slice
    load.setTarget('127.0.0.1', replacement.port);
    const summary = await waitForSummary(ld);
    const exit = await ld.exited;
    const report = await load.stop();
    expect(await tooLong).toMatch(/^failed/);

    expect(summary).toMatchObject({trigger: 'signal', deadlineMs: DEADLINE_MS, deadlineSource: 'pod', deregistration: 'deregistered'});
    expect(summary.cut.requests).toBe(1);
    expect(failures(report.records, ld)).toEqual([]);
    expect(exit.code).toBe(0);

    // The Event, recorder-style, on this pod.
    await waitFor(() => store.events(NS).some((e) => e.reason === 'LameduckDrained' && e.involvedObject?.name === 'ev8-0'), 10_000, 'the Event');
    const event = store.events(NS).find((e) => e.reason === 'LameduckDrained' && e.involvedObject?.name === 'ev8-0')!;
    expect(event).toMatchObject({
      type: 'Normal',
      involvedObject: {kind: 'Pod', apiVersion: 'v1', name: 'ev8-0', namespace: NS, uid: self.metadata.uid},
      source: {component: 'lameduck'},
      reportingComponent: 'lameduck',
      reportingInstance: 'ev8-0',
      count: 1,
    });
    expect(event.metadata.name).toMatch(/^ev8-0\.[0-9a-f]{16}$/);

    // Its numbers are the summary's...
    const numbers = parseDrainedMessage(event.message!);
    const cutTotal = summary.cut.requests + summary.cut.upgrades + summary.cut.connections;
    expect(numbers).toEqual({
      drained: summary.drainedRequests,
      trigger: 'signal',
      deregisteredMs: summary.timeToDeregistrationMs,
      outcome: 'deregistered',
      drainMs: summary.drainMs,
      cut: cutTotal,
    });
    // ...and the summary's are what happened. Phase lines have millisecond times; allow a few ms each way.
    const deregisteringAt = phaseAt(ld, 'deregistering')!;
    expect(Math.abs(summary.timeToDeregistrationMs - (phaseAt(ld, 'settling')! - deregisteringAt))).toBeLessThanOrEqual(5);
    expect(Math.abs(summary.drainMs - (phaseAt(ld, 'done')! - deregisteringAt))).toBeLessThanOrEqual(5);
    // Closing waited for the long request until the deadline, not longer (early by at most a timer's slack).
    expect(summary.drainMs).toBeGreaterThanOrEqual(DEADLINE_MS - 300);
    expect(summary.drainMs).toBeLessThan(DEADLINE_MS + 2_000);
    // Requests served after the trigger, as the clients saw them: every one sent after the trigger counts; one sent
    // just before it may have arrived just after.
    const ok = report.records.filter((r) => r.outcome === 'ok' && r.pod === 'ev8-0');
    const sentAfter = ok.filter((r) => r.start > deregisteringAt + 5).length;
    const endedAfter = ok.filter((r) => r.end >= deregisteringAt - 5).length;
    expect(sentAfter).toBeGreaterThan(20);
    expect(summary.drainedRequests).toBeGreaterThanOrEqual(sentAfter);
    expect(summary.drainedRequests).toBeLessThanOrEqual(endedAfter);
  }, 120_000);
});
