/**
 * Legacy apps of kind (b) (PID 1 without a SIGTERM handler): shareProcessNamespace makes the pause container PID 1,
 * so kubelet's SIGTERM after the release ends the app; with `exit: signal:…` lameduck signals the app itself and
 * then runs as the app's UID (kill(2) needs the same UID; the hardened context has no CAP_KILL).
 */
import {describe, expect, it} from '@jest/globals';
import {parseConfig} from '../../../proxy/src/config.js';
import {findObject, podSpecOf, type Container, type PodSpec} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();

async function pod(values: object): Promise<{pod: PodSpec; sidecar: Container}> {
  const spec = podSpecOf(findObject(await helm.template('charts/demo', values), 'Deployment'));
  return {pod: spec, sidecar: [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === 'lameduck')!};
}

function envOf(c: Container): Record<string, string | undefined> {
  return Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
}

const SIGNAL = {enabled: true, exit: 'signal:SIGTERM', processPattern: 'dist/demo-app/src/main\\.js'};

describe('legacyApp', () => {
  it('is off in the library: no shared process namespace, no app signal', async () => {
    const {pod: spec, sidecar} = await pod({lameduck: {legacyApp: {enabled: false}}});
    expect(spec.shareProcessNamespace).toBeUndefined();
    expect(envOf(sidecar).LAMEDUCK_APP_EXIT).toBeUndefined();
    expect(sidecar.securityContext?.runAsUser).toBe(65532);
  });

  it('shares the process namespace and leaves the exit to kubelet with exit: hook', async () => {
    const {pod: spec, sidecar} = await pod({lameduck: {legacyApp: {enabled: true}}});
    expect(spec.shareProcessNamespace).toBe(true);
    expect(envOf(sidecar).LAMEDUCK_APP_EXIT).toBeUndefined();
    // Nothing to signal: the sidecar keeps its own UID.
    expect(sidecar.securityContext?.runAsUser).toBe(65532);
  });

  it("signals the app itself with exit: signal:…, as the app's UID from the app container", async () => {
    const {pod: spec, sidecar} = await pod({app: {runAsUser: 1234}, lameduck: {legacyApp: SIGNAL}});
    expect(spec.shareProcessNamespace).toBe(true);
    expect(sidecar.securityContext).toMatchObject({runAsUser: 1234, runAsNonRoot: true, capabilities: {drop: ['ALL']}});
    const config = parseConfig(envOf(sidecar));
    expect(config.appExit).toEqual({kind: 'signal', signal: 'SIGTERM'});
    expect(config.appProcess?.test('node dist/demo-app/src/main.js')).toBe(true);
  });

  it('takes an explicit legacyApp.runAsUser over the container\'s', async () => {
    const {sidecar} = await pod({app: {runAsUser: 1234}, lameduck: {legacyApp: {...SIGNAL, runAsUser: 4321}}});
    expect(sidecar.securityContext?.runAsUser).toBe(4321);
  });

  it('refuses to run as root to signal a root app', async () => {
    await expect(pod({lameduck: {legacyApp: {...SIGNAL, runAsUser: 0}}})).rejects.toThrow(/the app runs as root \(UID 0\); lameduck will not run as root/);
  });

  it('refuses a signal without the process pattern or without the shared process namespace', async () => {
    // The schema stops both before the templates run; the messages name the keys.
    await expect(pod({lameduck: {legacyApp: {enabled: true, exit: 'signal:SIGTERM'}}})).rejects.toThrow(/processPattern/);
    await expect(pod({lameduck: {legacyApp: {enabled: false, exit: 'signal:SIGTERM', processPattern: 'x'}}})).rejects.toThrow(/legacyApp\/enabled/);
  });
});
