// Who may drain a pod through the admin port when the API cannot confirm a termination. The real lameduck in native
// mode, its pod GETs answered 403 by the local API server:
// - a /prestop without the token leaves the pod serving: answered "nothing to drain", ready, no phase, counted;
//   the same call with the token starts the fallback drain;
// - with no token configured at all, fallback drains are off (a start-up warning says so), and 20 parallel
//   /prestop calls share their pod lookups: at most one GET per 250 ms reaches the API server, not 20 × 9.
import {afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import {httpGet} from '../../../sim/http.js';
import {startDemoApp, type DemoApp} from '../../../sim/processes.js';
import {
  createSelfPod,
  lameduckRequests,
  prestop,
  readyz,
  scrapeMetric,
  startSidecar,
  useK8sFixture,
  waitForSummary,
} from '../../support/k8s-harness.js';

const TOKEN = 'prestop-token-gate-0123456789';
const PARALLEL = 20;
/** At most one shared pod lookup starts per this long (proxy/src/shared-pod-lookup.ts). */
const LOOKUP_INTERVAL_MS = 250;

const fx = useK8sFixture();
let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp({POD_NAME: 'tok'});
});
afterEach(() => {
  fx.api.faults.reset();
});

/** The pod GETs lameduck made since `since` (each answered 403). */
function podGets(since: number) {
  return lameduckRequests(fx, since).filter((r) => r.resource === 'pods' && r.verb === 'get');
}

describe('/prestop in native mode while the API forbids the pod GET', () => {
  it('without the token: the pod keeps serving and the refusal is counted; with the token: the fallback drain runs', async () => {
    const self = createSelfPod(fx, 'tok-0', {app: 'tok-0'});
    // No Service routes this pod, so once a drain starts it deregisters at once.
    await fx.api.whenControllersIdle();
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_MODE: 'native', LAMEDUCK_PRESTOP_TOKEN: TOKEN, LAMEDUCK_FALLBACK_DELAY: '1s'});
    fx.api.faults.deny('get', 'pods');
    const since = Date.now();

    for (const token of [undefined, 'not-the-token-0123']) {
      const answer = await prestop(ld, {token});
      expect(answer.status).toBe(200);
      expect(answer.body).toContain('nothing to drain');
    }
    expect(podGets(since).length).toBeGreaterThanOrEqual(1);
    expect(podGets(since).every((r) => r.status === 403)).toBe(true);
    expect(ld.logs.some((l) => l.msg === 'phase')).toBe(false);
    expect(await readyz(ld)).toBe(200);
    expect((await httpGet({host: '127.0.0.1', port: ld.trafficPort, path: '/'})).status).toBe(200);
    expect(await scrapeMetric(ld, 'lameduck_prestop_refused_total', {reason: 'token_missing'})).toBe(1);
    expect(await scrapeMetric(ld, 'lameduck_prestop_refused_total', {reason: 'token_wrong'})).toBe(1);
    expect(await scrapeMetric(ld, 'lameduck_drain_triggers_total')).toBe(0);
    const refusals = ld.logs.filter((l) => l.msg === 'prestop: fallback drain needs the token: not draining, the pod keeps serving');
    expect(refusals.map((l) => l.reason)).toEqual(['token_missing', 'token_wrong']);

    // The chart's hook carries the token: the same call now starts the fallback drain.
    const hook = prestop(ld, {token: TOKEN});
    const summary = await waitForSummary(ld);
    const answer = await hook;
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('fallback');
    expect(summary).toMatchObject({trigger: 'prestop', deletionConfirmed: false});
    expect(ld.logs.some((l) => l.msg === 'prestop: API cannot tell, native mode: fallback drain' && l.reason === 'forbidden')).toBe(true);
    ld.kill('SIGTERM');
    expect((await ld.exited).code).toBe(0);
  }, 120_000);

  it('without a configured token: no fallback drain, a start-up warning, and 20 parallel calls share their pod GETs', async () => {
    const self = createSelfPod(fx, 'tok-1', {app: 'tok-1'});
    const ld = await startSidecar(fx, self, app.port, {LAMEDUCK_MODE: 'native'});
    expect(ld.logs.some((l) => l.level === 'warn' && l.msg === 'no LAMEDUCK_PRESTOP_TOKEN: native-mode fallback drains are disabled')).toBe(true);
    fx.api.faults.deny('get', 'pods');
    const since = Date.now();

    const answers = await Promise.all(Array.from({length: PARALLEL}, () => prestop(ld)));
    const windowMs = Date.now() - since;
    expect(answers.map((a) => a.status)).toEqual(Array(PARALLEL).fill(200));
    expect(answers.every((a) => a.body.includes('nothing to drain'))).toBe(true);
    // Unshared, each call re-checked about 9 times: 180 GETs. Shared, the time decides, not the callers: at most one
    // GET per interval over the whole burst (~2 s of re-checks), fewer than one per caller.
    const gets = podGets(since);
    expect(gets.length).toBeGreaterThanOrEqual(1);
    expect(gets.length).toBeLessThanOrEqual(Math.ceil(windowMs / LOOKUP_INTERVAL_MS) + 1);
    expect(gets.length).toBeLessThan(PARALLEL);
    expect(await scrapeMetric(ld, 'lameduck_prestop_refused_total', {reason: 'token_not_configured'})).toBe(PARALLEL);
    expect(await scrapeMetric(ld, 'lameduck_kube_api_requests_total', {resource: 'pods', verb: 'get'})).toBe(gets.length);
    expect(ld.logs.some((l) => l.msg === 'phase')).toBe(false);
    expect(await readyz(ld)).toBe(200);
  }, 120_000);
});
