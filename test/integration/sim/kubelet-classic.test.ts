// Kubelet termination order for ordinary containers (docs/design.md, "Kubelet runs every container's preStop hook at once,
// then SIGTERMs each container after its own hook"): real demo-app processes on the pod's own loopback IP, a
// readiness probe that writes the Ready condition, then a graceful delete through the store.
import {describe, it, expect} from '@jest/globals';
import {request} from 'node:http';
import type {Pod} from '../../../sim/kube/types.js';
import {waitFor} from '../../../sim/cluster/wait.js';
import {useKubelet} from '../../support/kubelet-fixture.js';

function get(host: string, port: number, path: string): Promise<{status: number; pod?: string}> {
  return new Promise((resolve, reject) => {
    const req = request({host, port, path, agent: false}, (res) => {
      res.resume();
      res.on('end', () => resolve({status: res.statusCode ?? 0, pod: res.headers['x-pod-name'] as string | undefined}));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('kubelet: classic containers', () => {
  const sim = useKubelet();

  it('runs the pod on its own IP, reports Ready from the probe, then hooks at once and SIGTERM after each own hook', async () => {
    const {store, kubelet} = sim;
    const pod: Pod = {
      metadata: {name: 'web', namespace: 'default', labels: {app: 'web'}},
      spec: {
        terminationGracePeriodSeconds: 20,
        containers: [
          {
            name: 'app',
            image: 'demo-app:dev',
            env: [{name: 'PORT', value: '13000'}, {name: 'POD_NAME', valueFrom: {fieldRef: {fieldPath: 'metadata.name'}}}],
            ports: [{name: 'http', containerPort: 13000}],
            readinessProbe: {httpGet: {path: '/alive', port: 'http'}, periodSeconds: 1, failureThreshold: 1},
            lifecycle: {preStop: {sleep: {seconds: 2}}},
          },
          {
            // A second container in the same "network namespace": same IP, its own port, no hook.
            name: 'helper',
            image: 'demo-app:dev',
            env: [{name: 'PORT', value: '13001'}, {name: 'POD_NAME', value: 'helper'}],
            lifecycle: {preStop: {exec: {command: ['sleep', '1']}}},
          },
        ],
      },
    };
    store.createPod(pod);
    const ready = await sim.waitForReady('web');
    const ip = ready.status!.podIP!;
    expect(ip).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(ip).not.toBe('127.0.0.1');
    // The Downward API name reached the app, which binds the pod IP (not every address).
    expect(await get(ip, 13000, '/')).toEqual({status: 200, pod: 'web'});
    expect((await get(ip, 13001, '/')).status).toBe(200);
    await expect(get('127.0.0.1', 13000, '/')).rejects.toThrow();

    const t0 = Date.now();
    store.deletePod('default', 'web', {gracePeriodSeconds: 20});
    // While its hook runs the app still serves (the endpoint may still be routed); the helper is past its own hook
    // only after ~1 s, so it serves now too.
    await new Promise((r) => setTimeout(r, 300));
    expect((await get(ip, 13000, '/')).status).toBe(200);
    await waitFor('pod removed', () => !store.getPod('default', 'web'), 20_000);

    const events = kubelet.recorder.events.filter((e) => e.pod === 'web' && e.at >= t0);
    const at = (type: string, container: string): number => {
      const e = events.find((x) => x.type === type && x.container === container);
      if (!e) throw new Error(`no ${type} for ${container}: ${JSON.stringify(events)}`);
      return e.at - t0;
    };
    // Both hooks start together.
    expect(Math.abs(at('prestop-start', 'app') - at('prestop-start', 'helper'))).toBeLessThan(500);
    // Each container is signalled after its own hook: the exec hook (1 s) before the sleep hook (2 s).
    expect(at('sigterm', 'helper')).toBeGreaterThanOrEqual(at('prestop-end', 'helper'));
    expect(at('sigterm', 'app')).toBeGreaterThanOrEqual(at('prestop-end', 'app'));
    expect(at('sigterm', 'helper')).toBeGreaterThan(800);
    expect(at('sigterm', 'app')).toBeGreaterThan(1800);
    expect(at('sigterm', 'helper')).toBeLessThan(at('sigterm', 'app'));
    // The legacy app dies on SIGTERM (kind a): no SIGKILL needed, and the pod went long before its grace period.
    expect(events.some((e) => e.type === 'sigkill')).toBe(false);
    expect(at('container-exited', 'app')).toBeLessThan(10_000);
    const exits = events.filter((e) => e.type === 'container-exited').map((e) => e.detail?.signal);
    expect(exits).toEqual(['SIGTERM', 'SIGTERM']);
    expect(events.find((e) => e.type === 'removed')).toBeDefined();
  });
});
