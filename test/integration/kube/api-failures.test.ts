// When the API refuses or pushes back: RBAC denial (403), a rotated service-account token (401), API Priority and
// Fairness throttling (429 + Retry-After) — and the promise that an idle sidecar costs the API server nothing.
import {afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import {join} from 'node:path';
import type {KubeCluster} from '../../../proxy/src/kube/index.js';
import type {Metrics} from '../../../proxy/src/metrics.js';
import {
  NS,
  counterValue,
  deadline,
  makePod,
  routeInOwnSlice,
  sleepMs,
  useFixture,
  waitFor,
} from '../../support/kube-fixture.js';

const fx = useFixture();
let originalToken: string;
beforeAll(() => {
  originalToken = fx.api.token;
});
afterEach(() => {
  fx.api.faults.reset();
  // The kubeconfig the other tests use carries the original token.
  if (fx.api.token !== originalToken) fx.api.faults.rotateToken(originalToken);
});

/** A pod routed by one manually managed Service; `flip()` makes its endpoint terminating and not serving. */
function routedPod(name: string, ip: string): {flip(): void} {
  return routeInOwnSlice(fx, fx.api.store.createPod(makePod(name, ip, {app: name})));
}

/** In-cluster credentials: a service-account directory and KUBERNETES_SERVICE_HOST/PORT, no kubeconfig. */
function inCluster(name: string): {serviceAccountDir: string; clusterEnv: Record<string, string>; kubeconfig: null} {
  const serviceAccountDir = join(fx.dir, `sa-${name}`);
  fx.api.writeServiceAccount(serviceAccountDir, {namespace: NS});
  const url = new URL(fx.api.url);
  return {serviceAccountDir, clusterEnv: {KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port}, kubeconfig: null};
}

/** Waits for the pod's deregistration, flipping its endpoint once the EndpointSlice watch is open; the outcome. */
async function deregisterOnceWatching(cluster: KubeCluster, metrics: Metrics, flip: () => void): Promise<unknown> {
  const d = deadline(15_000);
  try {
    const outcome = cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 10_000});
    await waitFor(async () => (await counterValue(metrics, 'lameduck_kube_api_requests_total', {verb: 'watch', code: 'ok'})) >= 1, 5_000, 'watch');
    flip();
    return await outcome;
  } finally {
    d.cancel();
  }
}

describe('API failures', () => {
  it('403 on endpointslices: timed fallback after fallbackDelayMs, Warning logged, metric counted', async () => {
    routedPod('denied', '10.3.0.10');
    fx.api.faults.deny('list', 'endpointslices');
    const {cluster, metrics, logs} = fx.sidecar({name: 'denied'});
    const d = deadline(15_000);
    const t0 = Date.now();
    await expect(cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 1_000})).resolves.toEqual({kind: 'fallback', reason: 'forbidden'});
    d.cancel();
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(2_500);
    expect(await counterValue(metrics, 'lameduck_fallbacks_total', {reason: 'forbidden'})).toBe(1);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list', code: '403'})).toBe(1);
    const warn = logs.find((l) => l.level === 'warn' && l.reason === 'forbidden');
    expect(warn).toBeDefined();
    expect(JSON.stringify(warn)).toContain('cannot list resource');
  });

  it('a deadline before the fallback delay ends the wait as aborted', async () => {
    routedPod('denied-short', '10.3.0.15');
    fx.api.faults.deny('list', 'endpointslices');
    const {cluster, metrics} = fx.sidecar({name: 'denied-short'});
    const d = deadline(400);
    await expect(cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 10_000})).resolves.toEqual({kind: 'aborted'});
    expect(await counterValue(metrics, 'lameduck_fallbacks_total')).toBe(0);
  });

  it('token rotated and the service-account file rewritten (kubelet): the next request uses the new token, no 401', async () => {
    const {flip} = routedPod('rotated', '10.3.0.20');
    const {cluster, metrics} = fx.sidecar({name: 'rotated', ...inCluster('rotated')});
    expect((await cluster.getPod(AbortSignal.timeout(5_000))).ok).toBe(true);
    fx.api.faults.rotateToken('rotated-token-2');
    await expect(deregisterOnceWatching(cluster, metrics, flip)).resolves.toEqual({kind: 'deregistered'});
    // The token file is read for every request (kubeconfig.ts), so no request goes out with the old token.
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list', code: '401'})).toBe(0);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list', code: 'ok'})).toBe(1);
    expect(await counterValue(metrics, 'lameduck_fallbacks_total')).toBe(0);
  });

  it('401 after the token in a kubeconfig was replaced: re-reads the kubeconfig at once and carries on', async () => {
    const {flip} = routedPod('rotated-kc', '10.3.0.21');
    const kubeconfig = fx.api.writeKubeconfig(join(fx.dir, 'kc-rotated'), {namespace: NS, fileName: 'config'});
    const {cluster, metrics, logs} = fx.sidecar({name: 'rotated-kc', kubeconfig});
    // A first call reads the kubeconfig (and keeps it: a kubeconfig's token is not re-read per request).
    expect((await cluster.getPod(AbortSignal.timeout(5_000))).ok).toBe(true);
    fx.api.faults.rotateToken('rotated-token-kc');
    fx.api.writeKubeconfig(join(fx.dir, 'kc-rotated'), {namespace: NS, fileName: 'config', token: 'rotated-token-kc'});
    await expect(deregisterOnceWatching(cluster, metrics, flip)).resolves.toEqual({kind: 'deregistered'});
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list', code: '401'})).toBe(1);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list', code: 'ok'})).toBe(1);
    expect(await counterValue(metrics, 'lameduck_fallbacks_total')).toBe(0);
    expect(logs.some((l) => l.msg.includes('re-reading credentials'))).toBe(true);
  });

  it('401 that a re-read cannot fix (token file not rewritten): fallback `unauthorized`', async () => {
    routedPod('stale', '10.3.0.30');
    const {cluster, metrics} = fx.sidecar({name: 'stale', ...inCluster('stale')});
    fx.api.faults.rotateToken('rotated-token-3', {rewriteServiceAccountFiles: false});
    const d = deadline(15_000);
    const t0 = Date.now();
    await expect(cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 800})).resolves.toEqual({kind: 'fallback', reason: 'unauthorized'});
    d.cancel();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(750);
    // One request, one retry with the re-read (still stale) token.
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'endpointslices', verb: 'list', code: '401'})).toBe(2);
    expect(await counterValue(metrics, 'lameduck_fallbacks_total', {reason: 'unauthorized'})).toBe(1);
  });

  it('429 with Retry-After: waits as told before asking again, then proceeds', async () => {
    const {flip} = routedPod('busy', '10.3.0.40');
    flip(); // already deregistered: the only question is how the list gets through
    fx.api.faults.throttle({count: 2, retryAfterSeconds: 1, verb: 'list', resource: 'endpointslices'});
    const {cluster, metrics} = fx.sidecar({name: 'busy'});
    const since = Date.now();
    const d = deadline(15_000);
    await expect(cluster.awaitDeregistration({signal: d.signal, fallbackDelayMs: 10_000})).resolves.toEqual({kind: 'deregistered'});
    d.cancel();
    // By path: the simulation's request log fills verb/resource only for requests that got past throttling.
    const lists = fx.api.requests
      .filter({since})
      .filter((r) => r.path === `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices` && r.query.watch === undefined);
    expect(lists.map((r) => r.status)).toEqual([429, 429, 200]);
    expect(lists[1]!.time - lists[0]!.time).toBeGreaterThanOrEqual(950);
    expect(lists[2]!.time - lists[1]!.time).toBeGreaterThanOrEqual(950);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {code: '429'})).toBe(2);
  });

  it('429 on the pod GET: getPod waits out Retry-After within its signal', async () => {
    fx.api.store.createPod(makePod('busy-get', '10.3.0.45', {app: 'busy-get'}));
    fx.api.faults.throttle({count: 1, retryAfterSeconds: 1, verb: 'get', resource: 'pods'});
    const {cluster} = fx.sidecar({name: 'busy-get'});
    const t0 = Date.now();
    const lookup = await cluster.getPod(AbortSignal.timeout(5_000));
    expect(lookup.ok).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
  });

  it('idle: zero API requests until a method is called', async () => {
    routedPod('idle', '10.3.0.50');
    const since = Date.now();
    const {cluster, metrics} = fx.sidecar({name: 'idle'});
    await sleepMs(1_500);
    expect(fx.api.requests.count({since})).toBe(0);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total')).toBe(0);
    // ...and one call is exactly one request.
    expect((await cluster.getPod(AbortSignal.timeout(5_000))).ok).toBe(true);
    expect(fx.api.requests.count({since})).toBe(1);
    expect(await counterValue(metrics, 'lameduck_kube_api_requests_total', {resource: 'pods', verb: 'get', code: 'ok'})).toBe(1);
  });
});
