// A short API outage late in a drain (an API server restart after the fallback delay has already passed since the
// trigger) must not end the drain while the pod is still routed: the fallback delay is judged from the outage's
// start, so kube-proxy's still-routed traffic is served until the API is back and shows the flip.
import {describe, expect, it} from '@jest/globals';
import {counterValue, deadline, makePod, routeInOwnSlice, sleepMs, useFixture, waitFor} from '../../support/kube-fixture.js';

const fx = useFixture({
  teardown: async () => {
    await fx.api.start(); // no-op unless the test left it stopped
  },
});

describe('API outage after the fallback delay', () => {
  it('keeps waiting for the flip instead of falling back on the first failures', async () => {
    const {store} = fx.api;
    const pod = store.createPod(makePod('late', '10.2.9.10', {app: 'late'}));
    const {flip} = routeInOwnSlice(fx, pod);
    const {cluster, metrics} = fx.sidecar({name: 'late', tuning: {relistIntervalMs: 60_000}});
    const d = deadline(20_000);
    const fallbackDelayMs = 1_000;
    let resolved: unknown;
    const outcome = cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs}).then((o) => (resolved = o));
    await waitFor(async () => (await counterValue(metrics, 'lameduck_kube_api_requests_total', {verb: 'watch', code: 'ok'})) >= 1, 5_000, 'the watch');
    await sleepMs(fallbackDelayMs + 200); // the fallback delay since the trigger has passed; the pod is still routed
    await fx.api.stop();
    await sleepMs(600); // an outage shorter than the fallback delay: several failed re-lists
    expect(resolved).toBeUndefined();
    flip();
    await fx.api.start();
    await expect(outcome).resolves.toEqual({kind: 'deregistered'});
    d.cancel();
  });
});
