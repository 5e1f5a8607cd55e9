// Shared set-up of the cluster-kubelet-*.test.ts tests: an in-memory store and a simulated kubelet running the
// repo's images (real demo-app processes on the pod's own loopback IP), for the tests of one describe block.
import {createImageMap, findRepoRoot} from '../../sim/cluster/images.js';
import {createKubelet, type Kubelet} from '../../sim/cluster/kubelet.js';
import {waitFor} from '../../sim/cluster/wait.js';
import {isPodReady} from '../../sim/kube/pod-status.js';
import {createStore, type Store} from '../../sim/kube/store.js';
import type {Pod} from '../../sim/kube/types.js';
import {useSuiteResource} from './suite-resource.js';

export interface KubeletFixture {
  readonly store: Store;
  readonly kubelet: Kubelet;
  /** Resolves with pod `name` (namespace default) once its readiness probe has made it Ready; rejects after 20 s. */
  waitForReady(name: string): Promise<Pod>;
}

/**
 * Registers the store and kubelet with jest: created before the enclosing block's tests, the kubelet stopped (its
 * processes ended) after them. Read `store` and `kubelet` inside a test or hook; at module load they throw.
 */
export function useKubelet(): KubeletFixture {
  const get = useSuiteResource(
    'the kubelet',
    () => {
      const store = createStore();
      return {store, kubelet: createKubelet({store, images: createImageMap({repoRoot: findRepoRoot()})})};
    },
    async (sim) => sim?.kubelet.stop(),
  );
  return {
    get store() {
      return get().store;
    },
    get kubelet() {
      return get().kubelet;
    },
    waitForReady: (name) =>
      waitFor(`pod ${name} Ready`, () => {
        const p = get().store.getPod('default', name);
        return p && isPodReady(p) ? p : undefined;
      }, 20_000),
  };
}
