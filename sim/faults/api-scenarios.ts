/**
 * Fault matrix, Kubernetes API side (docs/reliability.md, faults 1-7): what the API server does wrong while a real lameduck
 * process drains under load. Each returns a Verdict; the runner prints them, the tests assert them.
 */
import {runDrainScenario} from './drain-scenario.js';
import type {Verdict} from './verdict.js';
import {NAMESPACE, SUBJECT, type World} from './world.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const LOAD = {rps: 40, keepAliveFraction: 0.5};

/**
 * Waits until lameduck has listed the EndpointSlices (its watch is then open), so that the endpoint change made next
 * can only reach it through the watch or a re-list: the fault, not the timing of a busy machine, decides the path.
 */
async function afterFirstList(w: World, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (w.api!.requests.count({verb: 'list', resource: 'endpointslices', status: 200}) === 0) {
    if (Date.now() > until) throw new Error('lameduck never listed the EndpointSlices');
    await sleep(20);
  }
  await sleep(100);
}

/** 1. API server unreachable at the trigger: native /prestop cannot ask → fallback drain for the fallback delay. */
export const apiUnreachable = (): Promise<Verdict> =>
  runDrainScenario({
    id: '1',
    name: 'API server unreachable at the trigger',
    world: {deadlineMs: 6_000, load: LOAD},
    before: async (w) => w.api!.stop(),
    log: {want: 'prestop: API cannot tell, native mode: fallback drain', match: (l) => l.msg === 'prestop: API cannot tell, native mode: fallback drain'},
    metric: {name: 'lameduck_fallbacks_total', labels: {reason: 'unreachable'}},
  });

/** 2. API server stops mid-drain and comes back: retries with backoff, then deregisters from the real state. */
export const apiRestartsMidDrain = (): Promise<Verdict> =>
  runDrainScenario({
    id: '2',
    name: 'API server stops mid-drain and returns',
    // Classic (SIGTERM) so the drain starts before the pod is deleted; the deletion happens while the API is down.
    world: {mode: 'classic', deadlineMs: 10_000, load: LOAD, env: {LAMEDUCK_FALLBACK_DELAY: '6s'}},
    deletePod: false,
    during: async (w) => {
      await afterFirstList(w);
      await w.api!.stop();
      w.api!.store.deletePod(NAMESPACE, SUBJECT, {gracePeriodSeconds: 30});
      await sleep(1_500);
      await w.api!.start();
    },
    log: {want: 'kubernetes api request failed: retrying', match: (l) => l.msg === 'kubernetes api request failed: retrying'},
    metric: {name: 'lameduck_kube_api_requests_total', labels: {resource: 'endpointslices', verb: 'list', code: 'ok'}, min: 2},
    check: async (w) => {
      const s = w.ld.logs.find((l) => l.msg === 'drain summary') as {deregistration?: string} | undefined;
      return {failures: s?.deregistration === 'deregistered' ? [] : [`deregistration ${s?.deregistration}, expected deregistered`]};
    },
  });

/** 3. 403 on endpointslices: RBAC denial → timed fallback `forbidden`, Warning logged. */
export const forbiddenEndpointSlices = (): Promise<Verdict> =>
  runDrainScenario({
    id: '3',
    name: '403 on endpointslices',
    world: {deadlineMs: 6_000, load: LOAD},
    before: async (w) => {
      w.api!.faults.deny('list', 'endpointslices');
      w.api!.faults.deny('watch', 'endpointslices');
    },
    log: {want: 'kubernetes api refused the endpoint watch', match: (l) => String(l.msg).startsWith('kubernetes api refused the endpoint watch')},
    metric: {name: 'lameduck_fallbacks_total', labels: {reason: 'forbidden'}},
  });

/** 4. 403 on pods: the pod GET is refused; native /prestop falls back to draining, the slices still decide. */
export const forbiddenPods = (): Promise<Verdict> =>
  runDrainScenario({
    id: '4',
    name: '403 on pods',
    world: {deadlineMs: 6_000, load: LOAD},
    before: async (w) => w.api!.faults.deny('get', 'pods'),
    log: {want: 'prestop: API cannot tell, native mode: fallback drain', match: (l) => l.msg === 'prestop: API cannot tell, native mode: fallback drain'},
    metric: {name: 'lameduck_kube_api_requests_total', labels: {resource: 'pods', verb: 'get', code: '403'}},
  });

/** 5. Every watch answers 410 Expired (history compacted over and over): re-list each time, still deregisters. */
export const everyWatchExpires = (): Promise<Verdict> =>
  runDrainScenario({
    id: '5',
    name: 'every watch answers 410 Expired',
    world: {mode: 'classic', deadlineMs: 10_000, load: LOAD, env: {LAMEDUCK_FALLBACK_DELAY: '8s'}},
    deletePod: false,
    during: async (w) => {
      await afterFirstList(w);
      w.api!.faults.compact();
      await sleep(300);
      w.api!.store.deletePod(NAMESPACE, SUBJECT, {gracePeriodSeconds: 30});
      // Compact until the drain left deregistering: every watch opened meanwhile starts from a compacted version.
      const until = Date.now() + 9_000;
      while (Date.now() < until && !w.ld.logs.some((l) => l.msg === 'phase' && l.to === 'settling')) {
        w.api!.faults.compact();
        await sleep(50);
      }
    },
    log: {want: 'endpointslice watch expired (410): re-listing', match: (l) => l.msg === 'endpointslice watch expired (410): re-listing'},
    metric: {name: 'lameduck_watch_restarts_total'},
    check: async (w) => {
      const s = w.ld.logs.find((l) => l.msg === 'drain summary') as {deregistration?: string} | undefined;
      return {failures: s?.deregistration === 'deregistered' ? [] : [`deregistration ${s?.deregistration}, expected deregistered`]};
    },
  });

/** 6. A watch that stays open and sends nothing: the periodic re-list (3 s) finds the change. */
export const stalledWatch = (): Promise<Verdict> =>
  runDrainScenario({
    id: '6',
    name: 'stalled watch (open, silent)',
    world: {mode: 'classic', deadlineMs: 12_000, load: LOAD, env: {LAMEDUCK_FALLBACK_DELAY: '10s'}},
    deletePod: false,
    during: async (w) => {
      // The watch is open and silent when the endpoint changes: only the periodic re-list can tell.
      await afterFirstList(w);
      w.api!.faults.stallWatches(true);
      w.api!.store.deletePod(NAMESPACE, SUBJECT, {gracePeriodSeconds: 30});
    },
    log: {
      want: 'periodic re-list found endpoint changes the watch had not delivered',
      match: (l) => l.msg === 'periodic re-list found endpoint changes the watch had not delivered',
    },
    metric: {name: 'lameduck_kube_api_requests_total', labels: {resource: 'endpointslices', verb: 'list', code: 'ok'}, min: 2},
    check: async (w) => {
      const s = w.ld.logs.find((l) => l.msg === 'drain summary') as {deregistration?: string} | undefined;
      return {failures: s?.deregistration === 'deregistered' ? [] : [`deregistration ${s?.deregistration}, expected deregistered`]};
    },
  });

/**
 * 7. 401 after the token rotated on disk. The world's kubeconfig names the token file through an `auth-provider`, so
 * this runs lameduck's client-node path (kubeconfig.ts), whose FileAuth cached the old token; the 401 forces a re-read.
 */
export const tokenRotated = (): Promise<Verdict> =>
  runDrainScenario({
    id: '7',
    name: '401: service-account token rotated on disk',
    world: {deadlineMs: 6_000, load: LOAD, tokenFile: true},
    before: async (w) => {
      // A /prestop on a healthy pod (a container restart) makes lameduck read and cache the token; it starts nothing.
      const r = await w.admin('/prestop', 10_000);
      if (!/nothing to drain/.test(r.body)) throw new Error(`healthy /prestop answered ${r.status} ${r.body}`);
      w.api!.faults.rotateToken('rotated-token-after-cache');
    },
    log: {want: 'kubernetes api answered 401: re-reading credentials', match: (l) => l.msg === 'kubernetes api answered 401: re-reading credentials'},
    metric: {name: 'lameduck_kube_api_requests_total', labels: {code: '401'}},
    check: async (w) => {
      const s = w.ld.logs.find((l) => l.msg === 'drain summary') as {deregistration?: string; deletionConfirmed?: boolean} | undefined;
      return {failures: s?.deregistration === 'deregistered' && s.deletionConfirmed ? [] : [`after the 401: ${JSON.stringify(s)}`]};
    },
  });

export const API_SCENARIOS = [apiUnreachable, apiRestartsMidDrain, forbiddenEndpointSlices, forbiddenPods, everyWatchExpires, stalledWatch, tokenRotated];
