// The API cost promise and trigger 3 (the pod watch):
// - without LAMEDUCK_WATCH_POD, a serving sidecar makes zero API requests (the API server's request log shows
//   none), however busy it is; the drain's requests start at the trigger;
// - with LAMEDUCK_WATCH_POD=true, it keeps one list+watch of its own Pod while serving, and a deletion seen on that
//   watch starts the drain by itself (trigger `pod_watch`), deadline from the deletion's grace period.
import {beforeAll, describe, expect, it} from '@jest/globals';
import {httpGet} from '../../../sim/http.js';
import {startDemoApp, type DemoApp, type Lameduck} from '../../../sim/processes.js';
import {NS, makePod, makeService} from '../../support/kube-fixture.js';
import {
  createSelfPod,
  failures,
  lameduckRequests,
  readyz,
  sleep,
  startLoad,
  startSidecar,
  useK8sFixture,
  waitForSummary,
} from '../../support/k8s-harness.js';

const fx = useK8sFixture();
let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp({POD_NAME: 'wp'});
  fx.api.store.createPod(makePod('wp-peer', '10.9.10.2', {app: 'wp'}));
  fx.api.store.createService(makeService('wp', {app: 'wp'}));
});

/** Traffic, probes and scrapes for `ms`: everything a serving sidecar sees. */
async function steadyState(ld: Lameduck, ms: number): Promise<void> {
  const load = startLoad({host: '127.0.0.1', port: ld.trafficPort, rps: 50, durationMs: ms});
  const until = Date.now() + ms;
  while (Date.now() < until) {
    expect(await readyz(ld)).toBe(200);
    await httpGet({host: ld.host, port: ld.adminPort, path: '/status'});
    await httpGet({host: ld.host, port: ld.adminPort, path: '/metrics'});
    await sleep(200);
  }
  const report = await load.finished;
  expect(report.total).toBeGreaterThan(20);
  expect(failures(report.records)).toEqual([]);
}

describe('API requests while serving, and the pod watch trigger', () => {
  it('without LAMEDUCK_WATCH_POD: zero API requests while serving; the drain asks only from the trigger on', async () => {
    const self = createSelfPod(fx, 'wp-0', {app: 'wp'});
    await fx.api.whenControllersIdle();
    const before = Date.now();
    const ld = await startSidecar(fx, self, app.port);
    await steadyState(ld, 2_000);
    expect(lameduckRequests(fx, before)).toEqual([]);

    const triggerAt = Date.now();
    fx.api.store.deletePod(NS, 'wp-0', {gracePeriodSeconds: 30});
    ld.kill('SIGTERM');
    await waitForSummary(ld);
    expect((await ld.exited).code).toBe(0);
    const drain = lameduckRequests(fx, before);
    expect(drain.length).toBeGreaterThan(0);
    expect(drain.every((r) => r.time >= triggerAt)).toBe(true);
    expect(drain.filter((r) => r.resource === 'pods').map((r) => `${r.verb} ${r.name}`)).toEqual(['get wp-0']);
  }, 120_000);

  it('with LAMEDUCK_WATCH_POD=true: one list+watch of its own pod while serving; the deletion alone starts the drain', async () => {
    const self = createSelfPod(fx, 'wp-1', {app: 'wp'});
    await fx.api.whenControllersIdle();
    const before = Date.now();
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_WATCH_POD: 'true', LAMEDUCK_EXIT_MARGIN: '1s'});
    await steadyState(ld, 2_000);
    const serving = lameduckRequests(fx, before);
    expect(serving.map((r) => `${r.verb} ${r.resource} ${r.status}`)).toEqual(['list pods 200', 'watch pods 200']);
    expect(serving.every((r) => r.query.fieldSelector === 'metadata.name=wp-1')).toBe(true);

    // No signal, no hook: only the deletion.
    const deletedAt = Date.now();
    fx.api.store.deletePod(NS, 'wp-1', {gracePeriodSeconds: 20});
    const started = await ld.waitForLog((l) => l.msg === 'drain started', 45_000);
    expect(Date.parse(started.time as string) - deletedAt).toBeLessThan(5_000);
    expect(started).toMatchObject({trigger: 'pod_watch', deletionConfirmed: true, deadlineSource: 'pod', deadlineMs: 19_000});
    const summary = await waitForSummary(ld);
    expect(summary).toMatchObject({trigger: 'pod_watch', deregistration: 'deregistered'});
    // The watch told it everything: no GET of its pod at the trigger.
    expect(lameduckRequests(fx, deletedAt).filter((r) => r.resource === 'pods')).toEqual([]);
    // A deleting pod's sidecar waits for kubelet's SIGTERM, then exits at once.
    await sleep(300);
    expect(ld.child.exitCode).toBeNull();
    ld.kill('SIGTERM');
    expect((await ld.exited).code).toBe(0);
  }, 120_000);
});
