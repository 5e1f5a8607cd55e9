// A preStop hook that outlives the grace period (docs/design.md): kubelet abandons it at the end of the grace
// period, sends SIGTERM, and SIGKILLs 2 s later (minimumGracePeriodInSeconds). The app is the legacy kind (b), which
// ignores SIGTERM, so only the SIGKILL ends it — the pod takes grace + 2 s.
import {describe, it, expect} from '@jest/globals';
import type {Pod} from '../../../sim/kube/types.js';
import {waitFor} from '../../../sim/cluster/wait.js';
import {useKubelet} from '../../support/kubelet-fixture.js';

describe('kubelet: hook overrunning the grace period', () => {
  const sim = useKubelet();

  it('abandons the hook at the grace period, SIGTERMs, and SIGKILLs 2 s later', async () => {
    const {store, kubelet} = sim;
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
    await sim.waitForReady('stubborn');
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
