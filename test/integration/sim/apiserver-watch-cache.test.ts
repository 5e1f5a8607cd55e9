// The resourceVersion semantics of lists, and a watch cache that lags behind etcd (faults.lagWatchCache): what a
// client sees from one of several API servers whose cache has not caught up. Consistent reads are never stale.
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {startApiServer, type ApiServer} from '../../../sim/kube/apiserver.js';
import {makePod} from '../../../sim/kube/fixtures.js';
import type {Pod} from '../../../sim/kube/types.js';

let api: ApiServer;

beforeAll(async () => {
  api = await startApiServer({tls: false, controllers: false});
});

afterAll(async () => {
  await api.stop();
});

async function list(query: string): Promise<{status: number; json: {metadata: {resourceVersion: string}; items: Pod[]; message?: string; reason?: string; details?: {causes?: {reason?: string}[]}}}> {
  const res = await fetch(`${api.url}/api/v1/namespaces/cache/pods${query}`, {headers: {Authorization: `Bearer ${api.token}`, Accept: 'application/json'}});
  return {status: res.status, json: (await res.json()) as never};
}
const readyOf = (pods: Pod[], name: string): boolean | undefined =>
  pods.find((p) => p.metadata.name === name)?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

describe('list resourceVersion semantics with a lagging watch cache', () => {
  it('resourceVersion=0 answers the cached (older) state; a consistent read the current one; NotOlderThan never older', async () => {
    api.store.createPod(makePod({name: 'a', namespace: 'cache', ip: '127.0.0.71', ready: true}));
    api.store.createPod(makePod({name: 'b', namespace: 'cache', ip: '127.0.0.72', ready: true}));
    const before = api.store.resourceVersion();
    api.faults.lagWatchCache(true);
    api.store.setPodReady('cache', 'b', false);
    api.store.deletePod('cache', 'a', {gracePeriodSeconds: 30});
    const now = api.store.resourceVersion();
    expect(now).toBeGreaterThan(before);

    // From the cache: the state before the changes, with its own (older) resourceVersion.
    const cached = await list('?resourceVersion=0');
    expect(cached.status).toBe(200);
    expect(Number(cached.json.metadata.resourceVersion)).toBe(before);
    expect(readyOf(cached.json.items, 'b')).toBe(true);
    expect(cached.json.items.find((p) => p.metadata.name === 'a')!.metadata.deletionTimestamp).toBeUndefined();

    // Consistent: the current state.
    const current = await list('');
    expect(Number(current.json.metadata.resourceVersion)).toBe(now);
    expect(readyOf(current.json.items, 'b')).toBe(false);
    expect(current.json.items.find((p) => p.metadata.name === 'a')!.metadata.deletionTimestamp).toBeDefined();

    // NotOlderThan a version the cache has: served from it. A newer one: 504 Too large resource version.
    expect((await list(`?resourceVersion=${before}&resourceVersionMatch=NotOlderThan`)).json.metadata.resourceVersion).toBe(String(before));
    const tooLarge = await list(`?resourceVersion=${now}&resourceVersionMatch=NotOlderThan`);
    expect(tooLarge.status).toBe(504);
    expect(tooLarge.json).toMatchObject({reason: 'Timeout', message: expect.stringContaining('Too large resource version')});
    expect(tooLarge.json.details?.causes?.[0]?.reason).toBe('ResourceVersionTooLarge');

    // Exact reads a past revision (rebuilt from history).
    expect(readyOf((await list(`?resourceVersion=${before}&resourceVersionMatch=Exact`)).json.items, 'b')).toBe(true);

    // The cache catches up.
    api.faults.lagWatchCache(false);
    const caught = await list(`?resourceVersion=${now}&resourceVersionMatch=NotOlderThan`);
    expect(caught.status).toBe(200);
    expect(readyOf(caught.json.items, 'b')).toBe(false);
  });

  it('rejects a malformed resourceVersion and a match without a version', async () => {
    expect((await list('?resourceVersion=abc')).status).toBe(400);
    expect((await list('?resourceVersionMatch=NotOlderThan')).status).toBe(400);
  });
});
