// Fidelity against the real kubectl (/usr/bin/kubectl): discovery, server-side Tables, JSON output, graceful delete
// and Events, each compared with what the simulation's store holds.
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {execFile} from 'node:child_process';
import {existsSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {startApiServer, type ApiServer} from '../../../sim/kube/apiserver.js';
import {makePod, makeService} from '../../../sim/kube/fixtures.js';
import {kubeTime} from '../../../sim/kube/time.js';
import type {EndpointSlice, Pod} from '../../../sim/kube/types.js';
import {waitFor} from '../../../sim/kube/wait-for.js';

// /usr/bin/kubectl on these machines; elsewhere the one .ci/run installs on PATH.
const KUBECTL = existsSync('/usr/bin/kubectl') ? '/usr/bin/kubectl' : 'kubectl';

let api: ApiServer;
let dir: string;
let kubeconfig: string;

beforeAll(async () => {
  api = await startApiServer();
  dir = mkdtempSync(join(tmpdir(), 'apiserver-kubectl-'));
  kubeconfig = api.writeKubeconfig(dir, {namespace: 'shop'});
  api.store.createService(makeService({name: 'web', namespace: 'shop', selector: {app: 'web'}}));
  api.store.createPod(makePod({name: 'web-0', namespace: 'shop', ip: '127.0.0.10', ready: true, labels: {app: 'web'}}));
  api.store.createPod(makePod({name: 'web-1', namespace: 'shop', ip: '127.0.0.11', ready: false, labels: {app: 'web'}}));
  const now = kubeTime(Date.now());
  api.store.create('events', {
    metadata: {name: 'web-0.1849f0c2a1b2c3d4', namespace: 'shop'},
    involvedObject: {kind: 'Pod', namespace: 'shop', name: 'web-0', apiVersion: 'v1'},
    reason: 'LameduckDrained',
    message: 'drained: 12 requests after the trigger',
    type: 'Normal',
    count: 1,
    firstTimestamp: now,
    lastTimestamp: now,
    source: {component: 'lameduck'},
  });
  await api.whenControllersIdle();
});

afterAll(async () => {
  await api.stop();
  rmSync(dir, {recursive: true, force: true});
});

function kubectl(args: string[], config = kubeconfig): Promise<{stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    execFile(
      KUBECTL,
      ['--kubeconfig', config, '--cache-dir', join(dir, 'cache'), ...args],
      // HOME keeps kubectl from reading or writing the real user's ~/.kube.
      {env: {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir}, timeout: 30_000},
      (err, stdout, stderr) => (err ? reject(Object.assign(err, {stdout, stderr})) : resolve({stdout, stderr})),
    );
  });
}

/** `kubectl get` table output as rows of cells (split on runs of 2+ spaces), header first. */
function table(stdout: string): string[][] {
  return stdout.trimEnd().split('\n').map((line) => line.trim().split(/\s{2,}/));
}

describe('kubectl against the simulated API server', () => {
  it('get pods prints the server-side table the store implies', async () => {
    const {stdout} = await kubectl(['get', 'pods']);
    const [header, ...rows] = table(stdout);
    expect(header).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
    const byName = Object.fromEntries(rows.map((r) => [r[0], r]));
    expect(Object.keys(byName).sort()).toEqual(api.store.list<Pod>('pods', 'shop').map((p) => p.metadata.name).sort());
    expect(byName['web-0'].slice(1, 4)).toEqual(['1/1', 'Running', '0']);
    expect(byName['web-1'].slice(1, 4)).toEqual(['0/1', 'Running', '0']);
  });

  it('get pods -o json returns the stored objects', async () => {
    const {stdout} = await kubectl(['get', 'pods', '-o', 'json']);
    const list = JSON.parse(stdout) as {items: Pod[]};
    for (const item of list.items) {
      const stored = api.store.getPod('shop', item.metadata.name ?? '')!;
      expect(item.metadata.uid).toBe(stored.metadata.uid);
      expect(item.metadata.resourceVersion).toBe(stored.metadata.resourceVersion);
      expect(item.status?.podIP).toBe(stored.status?.podIP);
      expect(item.status?.conditions).toEqual(stored.status?.conditions);
    }
    expect(list.items).toHaveLength(2);
  });

  it('get endpointslices -o json shows the controller-written slices', async () => {
    const {stdout} = await kubectl(['get', 'endpointslices', '-o', 'json']);
    const list = JSON.parse(stdout) as {items: EndpointSlice[]};
    const stored = api.store.endpointSlices('shop', 'web');
    expect(list.items.map((s) => s.metadata.name)).toEqual(stored.map((s) => s.metadata.name));
    expect(list.items[0].endpoints).toEqual(stored[0].endpoints);
    expect(list.items[0].metadata.labels?.['kubernetes.io/service-name']).toBe('web');
    const ready = list.items[0].endpoints?.find((e) => e.targetRef?.name === 'web-0');
    expect(ready?.conditions).toEqual({ready: true, serving: true, terminating: false});
  });

  it('delete pod --grace-period=30 --wait=false sets deletionTimestamp; the slice turns terminating', async () => {
    const before = Date.now();
    const {stdout} = await kubectl(['delete', 'pod', 'web-0', '--grace-period=30', '--wait=false']);
    expect(stdout.trim()).toBe('pod "web-0" deleted');
    const pod = api.store.getPod('shop', 'web-0')!;
    expect(pod.metadata.deletionGracePeriodSeconds).toBe(30);
    const at = Date.parse(pod.metadata.deletionTimestamp!);
    expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 29_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 30_000);

    const [, ...rows] = table((await kubectl(['get', 'pods'])).stdout);
    expect(rows.find((r) => r[0] === 'web-0')?.[2]).toBe('Terminating');
    const json = JSON.parse((await kubectl(['get', 'pod', 'web-0', '-o', 'json'])).stdout) as Pod;
    expect(json.metadata.deletionTimestamp).toBe(pod.metadata.deletionTimestamp);

    await waitFor(() => api.store.endpointSlices('shop', 'web')[0]?.endpoints?.find((e) => e.targetRef?.name === 'web-0')?.conditions?.terminating);
    const slices = JSON.parse((await kubectl(['get', 'endpointslices', '-o', 'json'])).stdout) as {items: EndpointSlice[]};
    const endpoint = slices.items[0].endpoints?.find((e) => e.targetRef?.name === 'web-0');
    expect(endpoint?.conditions).toEqual({ready: false, serving: true, terminating: true});
  });

  it('get events lists the Events in the store', async () => {
    const [header, ...rows] = table((await kubectl(['get', 'events'])).stdout);
    expect(header).toEqual(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    const stored = api.store.events('shop');
    expect(rows).toHaveLength(stored.length);
    expect(rows[0].slice(1)).toEqual(['Normal', 'LameduckDrained', 'pod/web-0', 'drained: 12 requests after the trigger']);
  });

  it('reports a missing pod with the server NotFound message', async () => {
    const err = (await kubectl(['get', 'pod', 'no-such-pod']).catch((e: unknown) => e)) as {stderr: string};
    expect(err.stderr).toContain('Error from server (NotFound): pods "no-such-pod" not found');
  });

  it('works with legacy discovery only (servers without aggregated discovery)', async () => {
    const legacy = await startApiServer({aggregatedDiscovery: false});
    try {
      legacy.store.createPod(makePod({name: 'solo', ip: '127.0.0.12', ready: true}));
      const {stdout} = await kubectl(['get', 'pods', '-o', 'name'], legacy.writeKubeconfig(join(dir, 'legacy')));
      expect(stdout.trim()).toBe('pod/solo');
      expect(legacy.requests.count({method: 'GET', verb: 'list', resource: 'pods'})).toBe(1);
      expect(legacy.requests.filter().map((r) => r.path)).toContain('/api/v1');
    } finally {
      await legacy.stop();
    }
  });
});
