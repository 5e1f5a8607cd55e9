// Native sidecar order (KEP-753, docs/design.md): the sidecar (initContainers[] with restartPolicy Always) starts first and
// the app only after the sidecar's startup probe passed; on deletion the app's hook and SIGTERM come first, and the
// sidecar gets SIGTERM only after every main container exited.
import {describe, it, expect} from '@jest/globals';
import type {Pod} from '../../../sim/kube/types.js';
import {waitFor} from '../../../sim/cluster/wait.js';
import {useKubelet} from '../../support/kubelet-fixture.js';

describe('kubelet: native sidecar', () => {
  const sim = useKubelet();

  it('starts the app after the sidecar is up and stops the sidecar after the app exited', async () => {
    const {store, kubelet} = sim;
    const pod: Pod = {
      metadata: {name: 'native', namespace: 'default'},
      spec: {
        terminationGracePeriodSeconds: 20,
        initContainers: [
          {
            name: 'sidecar',
            image: 'demo-app:dev',
            restartPolicy: 'Always',
            env: [{name: 'PORT', value: '13100'}],
            ports: [{name: 'side', containerPort: 13100}],
            startupProbe: {httpGet: {path: '/alive', port: 'side'}, periodSeconds: 1, failureThreshold: 30},
          },
        ],
        containers: [
          {
            name: 'app',
            image: 'demo-app:dev',
            env: [{name: 'PORT', value: '13000'}],
            ports: [{name: 'http', containerPort: 13000}],
            readinessProbe: {httpGet: {path: '/alive', port: 'http'}, periodSeconds: 1, failureThreshold: 1},
            lifecycle: {preStop: {sleep: {seconds: 1}}},
          },
        ],
      },
    };
    store.createPod(pod);
    await sim.waitForReady('native');
    const ev = (): typeof kubelet.recorder.events => kubelet.recorder.events.filter((e) => e.pod === 'native');
    const first = (type: string, container?: string): number => {
      const e = ev().find((x) => x.type === type && (container === undefined || x.container === container));
      if (!e) throw new Error(`no ${type} ${container ?? ''}: ${JSON.stringify(ev())}`);
      return e.at;
    };
    // The app's process is spawned only once the sidecar's startup probe passed.
    expect(first('container-started', 'sidecar')).toBeLessThanOrEqual(first('container-process-started', 'app'));
    expect(first('container-process-started', 'sidecar')).toBeLessThan(first('container-process-started', 'app'));
    const status = store.getPod('default', 'native')!.status!;
    expect(status.initContainerStatuses?.[0]?.state?.running).toBeDefined();

    store.deletePod('default', 'native', {gracePeriodSeconds: 20});
    await waitFor('pod removed', () => !store.getPod('default', 'native'), 20_000);
    // The sidecar is signalled only after the app has exited, and the app only after its own 1 s hook.
    expect(first('sigterm', 'app')).toBeGreaterThanOrEqual(first('prestop-end', 'app'));
    expect(first('sigterm', 'sidecar')).toBeGreaterThanOrEqual(first('container-exited', 'app'));
    expect(first('container-exited', 'sidecar')).toBeGreaterThan(first('container-exited', 'app'));
    expect(first('sigterm', 'sidecar') - first('terminating')).toBeGreaterThan(900);
    expect(ev().some((e) => e.type === 'sigkill')).toBe(false);
  });
});
