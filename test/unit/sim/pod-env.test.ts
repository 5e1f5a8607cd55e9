// kubelet's environment rules (ordered env, $(VAR) references, Downward API fieldRef) and the simulation's network
// namespace emulation (every bind and loopback URL moved to the pod's own IP).
import {describe, it, expect} from '@jest/globals';
import type {Pod} from '../../../sim/kube/types.js';
import {containerEnv, emulateNetns, expandArgv, expandVars, fieldRefValue, resolveEnvList, rewriteLoopbackUrls, EnvResolutionError} from '../../../sim/cluster/pod-env.js';

const pod: Pod = {
  metadata: {name: 'web-abc', namespace: 'shop', uid: 'u-1', labels: {app: 'web'}, annotations: {team: 'edge'}},
  spec: {nodeName: 'node-1', serviceAccountName: 'web', containers: []},
  status: {podIP: '127.9.9.4', podIPs: [{ip: '127.9.9.4'}, {ip: 'fd00::4'}], hostIP: '127.9.9.1'},
};

describe('env resolution', () => {
  it('expands $(VAR) from earlier variables, keeps unknown references and honours $$ escapes', () => {
    const vars = new Map([['A', 'x'], ['B', 'y']]);
    expect(expandVars('$(A)-$(B)-$(C)', vars)).toBe('x-y-$(C)');
    expect(expandVars('$$(A) costs $$5', vars)).toBe('$(A) costs $5');
  });

  it('resolves the Downward API field paths lameduck and the chart use', () => {
    expect(fieldRefValue(pod, 'metadata.name')).toBe('web-abc');
    expect(fieldRefValue(pod, 'metadata.namespace')).toBe('shop');
    expect(fieldRefValue(pod, 'metadata.uid')).toBe('u-1');
    expect(fieldRefValue(pod, "metadata.labels['app']")).toBe('web');
    expect(fieldRefValue(pod, "metadata.annotations['team']")).toBe('edge');
    expect(fieldRefValue(pod, 'spec.nodeName')).toBe('node-1');
    expect(fieldRefValue(pod, 'status.podIP')).toBe('127.9.9.4');
    expect(fieldRefValue(pod, 'status.podIPs')).toBe('127.9.9.4,fd00::4');
    expect(() => fieldRefValue(pod, 'spec.containers')).toThrow(EnvResolutionError);
  });

  it('resolves env entries in order: later ones see earlier ones, earlier ones do not see later ones', () => {
    const vars = resolveEnvList(pod, [
      {name: 'POD_NAME', valueFrom: {fieldRef: {fieldPath: 'metadata.name'}}},
      {name: 'GREETING', value: 'hi $(POD_NAME) $(LATER)'},
      {name: 'LATER', value: 'late'},
    ]);
    expect(vars.get('GREETING')).toBe('hi web-abc $(LATER)');
  });
});

describe('network namespace emulation', () => {
  it('binds HOST and lameduck listeners to the pod IP, keeping ports', () => {
    const vars = emulateNetns(new Map([['LAMEDUCK_LISTEN', ':8080'], ['LAMEDUCK_ADMIN_LISTEN', '0.0.0.0:9901'], ['OTHER', ':1234']]), '127.9.9.4');
    expect(vars.get('HOST')).toBe('127.9.9.4');
    expect(vars.get('LAMEDUCK_LISTEN')).toBe('127.9.9.4:8080');
    expect(vars.get('LAMEDUCK_ADMIN_LISTEN')).toBe('127.9.9.4:9901');
    // Not a listener variable: left alone.
    expect(vars.get('OTHER')).toBe(':1234');
  });

  it('rewrites loopback hosts of URLs to the pod IP, and nothing else', () => {
    expect(rewriteLoopbackUrls('http://127.0.0.1:3000', '127.9.9.4')).toBe('http://127.9.9.4:3000');
    expect(rewriteLoopbackUrls('http:POST http://localhost:3000/shutdown', '127.9.9.4')).toBe('http:POST http://127.9.9.4:3000/shutdown');
    expect(rewriteLoopbackUrls('http://127.0.0.10:3000', '127.9.9.4')).toBe('http://127.0.0.10:3000');
    expect(rewriteLoopbackUrls('localhost is not a URL here', '127.9.9.4')).toBe('localhost is not a URL here');
  });

  it('applies image defaults first so unset listeners also land on the pod IP; the spec wins over defaults', () => {
    const env = containerEnv({
      pod,
      imageEnv: {LAMEDUCK_LISTEN: ':8080', LAMEDUCK_ADMIN_LISTEN: ':9901', LAMEDUCK_UPSTREAM: 'http://127.0.0.1:3000'},
      base: {PATH: '/bin'},
      env: [{name: 'LAMEDUCK_ADMIN_LISTEN', value: ':19901'}],
    });
    expect(env).toMatchObject({
      PATH: '/bin',
      HOST: '127.9.9.4',
      LAMEDUCK_LISTEN: '127.9.9.4:8080',
      LAMEDUCK_ADMIN_LISTEN: '127.9.9.4:19901',
      LAMEDUCK_UPSTREAM: 'http://127.9.9.4:3000',
    });
  });

  it('expands $(VAR) in args with the container environment (a per-pod command-line marker)', () => {
    expect(expandArgv(['--pod=$(POD_NAME)'], {POD_NAME: 'web-abc'})).toEqual(['--pod=web-abc']);
    expect(expandArgv(undefined, {})).toBeUndefined();
  });

  it('refuses to build an environment before the pod has an IP', () => {
    expect(() => containerEnv({pod: {...pod, status: {}}})).toThrow(EnvResolutionError);
  });
});
