// A preStop hook that outlives the grace period (DESIGN.md, issue 4): kubelet abandons it at the end of the grace
// period, sends SIGTERM, and SIGKILLs 2 s later (minimumGracePeriodInSeconds). The app is the legacy kind (b), which
// ignores SIGTERM, so only the SIGKILL ends it — the pod takes grace + 2 s.
import {describe, it, expect, afterAll, beforeAll} from '@jest/globals';
import {createStore, type Store} from '../support/kube/store.js';
import type {Pod} from '../support/kube/types.js';
import {isPodReady} from '../support/kube/pod-status.js';
import {createKubelet, type Kubelet} from '../support/cluster/kubelet.js';
import {createImageMap, findRepoRoot} from '../support/cluster/images.js';
import {waitFor} from '../support/cluster/wait.js';

describe('kubelet: hook overrunning the grace period', () => {
  let store: Store;
  let kubelet: Kubelet;

  beforeAll(() => {
    store = createStore();
    kubelet = createKubelet({store, images: createImageMap({repoRoot: findRepoRoot()})});
  });
  afterAll(async () => {
    await kubelet.stop();
  });

  it('abandons the hook at the grace period, SIGTERMs, and SIGKILLs 2 s later', async () => {
    const pod: Pod = {
      metadata: {name: 'stubborn', namespace: 'default'},
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'app',
            image: 'demo-app:dev',
            env: [{name: 'PORT', value: '13000'}, {name: 'IGNORE_SIGTERM', value: '1'}],
            readinessProbe: {httpGet: {path: '/alive', port: 13000}, periodSeconds: 1, failureThreshold: 1},
            lifecycle: {preStop: {sleep: {seconds: 30}}},
          },
        ],
      },
    };
    store.createPod(pod);
    await waitFor('pod Ready', () => {
      const p = store.getPod('default', 'stubborn');
      return p && isPodReady(p);
    }, 20_000);
    const t0 = Date.now();
    store.deletePod('default', 'stubborn');
    await waitFor('pod removed', () => !store.getPod('default', 'stubborn'), 20_000);
    const events = kubelet.recorder.events.filter((e) => e.pod === 'stubborn' && e.at >= t0);
    const at = (type: string): number => {
      const e = events.find((x) => x.type === type && x.container === 'app');
      if (!e) throw new Error(`no ${type}: ${JSON.stringify(events)}`);
      return e.at - t0;
    };
    const hookEnd = events.find((e) => e.type === 'prestop-end')!;
    expect(hookEnd.detail?.aborted).toBe(true);
    // Hook cut at the 2 s grace period; SIGTERM then, SIGKILL 2 s after (generous bounds: shared machine).
    expect(at('prestop-end')).toBeGreaterThanOrEqual(1900);
    expect(at('prestop-end')).toBeLessThan(3500);
    expect(at('sigterm')).toBeGreaterThanOrEqual(at('prestop-end'));
    expect(at('sigkill') - at('sigterm')).toBeGreaterThanOrEqual(1900);
    expect(at('sigkill') - at('sigterm')).toBeLessThan(3500);
    const exit = events.find((e) => e.type === 'container-exited')!;
    expect(exit.detail).toMatchObject({signal: 'SIGKILL', exitCode: 137});
    expect(exit.at - t0).toBeGreaterThanOrEqual(3900);
  });
});
