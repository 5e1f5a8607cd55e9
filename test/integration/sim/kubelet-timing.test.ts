// Termination timing as kubelet's killContainer (pkg/kubelet/kuberuntime/kuberuntime_container.go) does it:
// every preStop hook starts at once (a native sidecar's too; only its SIGTERM waits its turn), a hook is waited for
// until it returns or the grace period ends even when its container exits, the time it took comes off the grace
// period in whole seconds, a force delete still gets the pod worker's 1 s, and node-pressure evictions get the
// eviction manager's grace period (1 s for a hard threshold), not the pod's.
import {describe, it, expect} from '@jest/globals';
import type {Pod} from '../../../sim/kube/types.js';
import {getCondition} from '../../../sim/kube/pod-status.js';
import {waitFor} from '../../../sim/cluster/wait.js';
import {evictionGraceSeconds} from '../../../sim/cluster/kubelet.js';
import type {LifecycleHandler} from '../../../sim/cluster/lifecycle-hook.js';
import {useKubelet} from '../../support/kubelet-fixture.js';

let port = 13400;

function appPod(name: string, opts: {grace: number; preStop?: LifecycleHandler; ignoreSigterm?: boolean; sidecarPreStop?: LifecycleHandler}): Pod {
  const p = port++;
  const env = [{name: 'PORT', value: String(p)}];
  if (opts.ignoreSigterm) env.push({name: 'IGNORE_SIGTERM', value: '1'});
  const pod: Pod = {
    metadata: {name, namespace: 'default'},
    spec: {
      terminationGracePeriodSeconds: opts.grace,
      containers: [{
        name: 'app',
        image: 'demo-app:dev',
        env,
        ports: [{name: 'http', containerPort: p}],
        readinessProbe: {httpGet: {path: '/alive', port: 'http'}, periodSeconds: 1, failureThreshold: 1},
        ...(opts.preStop ? {lifecycle: {preStop: opts.preStop}} : {}),
      }],
    },
  };
  if (opts.sidecarPreStop) {
    const sp = port++;
    pod.spec.initContainers = [{
      name: 'sidecar',
      image: 'demo-app:dev',
      restartPolicy: 'Always',
      env: [{name: 'PORT', value: String(sp)}],
      ports: [{name: 'side', containerPort: sp}],
      startupProbe: {httpGet: {path: '/alive', port: 'side'}, periodSeconds: 1, failureThreshold: 30},
      lifecycle: {preStop: opts.sidecarPreStop},
    }];
  }
  return pod;
}

describe('kubelet: termination timing', () => {
  const sim = useKubelet();
  const events = (pod: string) => sim.kubelet.recorder.events.filter((e) => e.pod === pod);
  const find = (pod: string, type: string, container?: string) => {
    const e = events(pod).find((x) => x.type === type && (container === undefined || x.container === container));
    if (!e) throw new Error(`no ${type} ${container ?? ''} for ${pod}: ${JSON.stringify(events(pod).map((x) => [x.type, x.container]))}`);
    return e;
  };
  const gone = (name: string) => waitFor(`${name} terminated`, () => events(name).some((e) => e.type === 'terminated'), 30_000);

  it("starts a native sidecar's preStop hook with the app's; only the sidecar's SIGTERM waits for the app", async () => {
    const {store} = sim;
    store.createPod(appPod('native-hooks', {grace: 20, preStop: {sleep: {seconds: 2}}, sidecarPreStop: {sleep: {seconds: 1}}}));
    await sim.waitForReady('native-hooks');
    store.deletePod('default', 'native-hooks', {gracePeriodSeconds: 20});
    await gone('native-hooks');
    // The sidecar's hook ran while the app's was still running (not after the app exited, as a serial model has it).
    expect(find('native-hooks', 'prestop-start', 'sidecar').at).toBeLessThan(find('native-hooks', 'prestop-end', 'app').at);
    expect(find('native-hooks', 'prestop-end', 'sidecar').at).toBeLessThan(find('native-hooks', 'container-exited', 'app').at);
    expect(find('native-hooks', 'sigterm', 'sidecar').at).toBeGreaterThanOrEqual(find('native-hooks', 'container-exited', 'app').at);
    expect(events('native-hooks').some((e) => e.type === 'sigkill')).toBe(false);
  }, 60_000);

  it('takes the hook off the grace period in whole seconds: what is left is the SIGTERM to SIGKILL window', async () => {
    const {store} = sim;
    store.createPod(appPod('rounding', {grace: 5, preStop: {sleep: {seconds: 1.2}}, ignoreSigterm: true}));
    await sim.waitForReady('rounding');
    store.deletePod('default', 'rounding', {gracePeriodSeconds: 5});
    await gone('rounding');
    const hookMs = find('rounding', 'prestop-end', 'app').detail!.ms as number;
    const killAfterMs = find('rounding', 'sigterm', 'app').detail!.killAfterMs as number;
    // 5 s minus the hook's whole seconds (1.2 s counts as 1): 4 s, not the 3.8 s a millisecond clock would leave.
    expect(killAfterMs).toBe(Math.max(2, 5 - Math.floor(hookMs / 1000)) * 1000);
    expect(killAfterMs % 1000).toBe(0);
    // The app ignores SIGTERM: SIGKILL ends it.
    find('rounding', 'sigkill', 'app');
  }, 60_000);

  it('waits for a hook until it returns even when the container exited meanwhile', async () => {
    const {store, kubelet} = sim;
    store.createPod(appPod('exits-early', {grace: 20, preStop: {sleep: {seconds: 3}}}));
    await sim.waitForReady('exits-early');
    store.deletePod('default', 'exits-early', {gracePeriodSeconds: 20});
    await waitFor('hook running', () => events('exits-early').some((e) => e.type === 'prestop-start'), 10_000);
    // The app dies on its own while its hook runs.
    for (const pid of kubelet.runtime('default', 'exits-early')!.pids()) process.kill(-pid, 'SIGKILL');
    await gone('exits-early');
    const hook = find('exits-early', 'prestop-end', 'app');
    expect(hook.detail).toMatchObject({ok: true, aborted: false});
    expect(find('exits-early', 'container-exited', 'app').at).toBeLessThan(hook.at);
    expect(find('exits-early', 'terminated').at).toBeGreaterThanOrEqual(hook.at);
  }, 60_000);

  it('gives a force-deleted pod 1 s for its hooks, then SIGTERM and SIGKILL 2 s later', async () => {
    const {store} = sim;
    store.createPod(appPod('forced', {grace: 30, preStop: {sleep: {seconds: 10}}, ignoreSigterm: true}));
    await sim.waitForReady('forced');
    store.deletePod('default', 'forced', {gracePeriodSeconds: 0});
    await gone('forced');
    expect(find('forced', 'terminating').detail).toMatchObject({cause: 'force-deleted', gracePeriodMs: 1000});
    expect(find('forced', 'prestop-end', 'app').detail).toMatchObject({aborted: true});
    expect(find('forced', 'sigterm', 'app').detail).toMatchObject({killAfterMs: 2000});
    find('forced', 'sigkill', 'app');
  }, 60_000);

  it('evicts for a hard threshold with 1 s, whatever the pod asks: DisruptionTarget, no deletionTimestamp', async () => {
    const {store, kubelet} = sim;
    store.createPod(appPod('pressure', {grace: 30, preStop: {sleep: {seconds: 10}}}));
    await sim.waitForReady('pressure');
    await kubelet.evict('default', 'pressure');
    const after = store.getPod('default', 'pressure')!;
    expect(after.metadata.deletionTimestamp).toBeUndefined();
    expect(getCondition(after, 'DisruptionTarget')).toMatchObject({status: 'True', reason: 'TerminationByKubelet'});
    expect(after.status).toMatchObject({phase: 'Failed', reason: 'Evicted'});
    expect(find('pressure', 'evicted').detail).toMatchObject({gracePeriodSeconds: 1, threshold: 'hard'});
    expect(find('pressure', 'prestop-end', 'app').detail).toMatchObject({aborted: true});
  }, 60_000);

  it("applies the eviction manager's rules: hard 1 s, soft min(evictionMaxPodGracePeriod, spec), 0 leaves the spec", () => {
    expect(evictionGraceSeconds(30)).toBe(1);
    expect(evictionGraceSeconds(30, {threshold: 'hard'})).toBe(1);
    expect(evictionGraceSeconds(30, {threshold: 'soft', maxPodGracePeriodSeconds: 10})).toBe(10);
    expect(evictionGraceSeconds(5, {threshold: 'soft', maxPodGracePeriodSeconds: 10})).toBe(5);
    expect(evictionGraceSeconds(30, {threshold: 'soft'})).toBe(30);
    expect(evictionGraceSeconds(undefined, {threshold: 'soft'})).toBe(30);
    // Graceful node shutdown and the like give their own grace period.
    expect(evictionGraceSeconds(30, {gracePeriodSeconds: 10})).toBe(10);
    expect(evictionGraceSeconds(0, {threshold: 'soft'})).toBe(1);
  });
});
