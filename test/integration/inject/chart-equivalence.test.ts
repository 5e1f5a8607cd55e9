/**
 * The library chart and the injector give the same pod spec for the same workload: the chart rendered by a real helm
 * (charts/lameduck through test/fixtures/charts/library-harness) against the engine's output for the same input and
 * the same settings. With a named app port, the engine's one extra step (the takeover of the port's name) is applied to
 * the chart's input by hand: that step is the injector's alone (a chart author names the Service's targetPort).
 */
import {describe, expect, it} from '@jest/globals';
import {injectManifests} from '../../../proxy/src/inject/manifests.js';
import {DEFAULT_SETTINGS, type InjectSettings, type PrestopToken} from '../../../proxy/src/inject/settings.js';
import {LAMEDUCK_VERSION} from '../../../proxy/src/inject/version.js';
import {findObject, parseObjects, podSpecOf, validateObject} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();

function engine(podSpec: object, annotations: Record<string, string>, settings: Partial<InjectSettings> = {}) {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name: 'demo'},
    spec: {selector: {matchLabels: {app: 'demo'}}, template: {metadata: {labels: {app: 'demo'}, annotations: {'lameduck.io/inject': 'true', ...annotations}}, spec: podSpec}},
  };
  const out = injectManifests([{name: 'in.json', text: JSON.stringify(deployment)}], {
    defaults: {...structuredClone(DEFAULT_SETTINGS), ...settings} as InjectSettings,
    version: LAMEDUCK_VERSION,
    all: false,
    rbac: false,
  });
  return findObject(parseObjects(out.text), 'Deployment');
}

async function chart(podSpec: object, lameduck: object) {
  return findObject(await helm.template('test/fixtures/charts/library-harness', {podSpec, lameduck}), 'Deployment');
}

/**
 * The /prestop token the chart generated (a random value per release): the engine takes the token as a parameter
 * (`--prestop-token-secret`, `--prestop-token-file`), so it is given the same Secret and value.
 */
function tokenOf(rendered: ReturnType<typeof findObject>): PrestopToken {
  const spec = podSpecOf(rendered);
  const sidecar = [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === 'lameduck')!;
  const ref = sidecar.env!.find((e) => e.name === 'LAMEDUCK_PRESTOP_TOKEN')!.valueFrom!.secretKeyRef!;
  const hook = spec.containers.find((c) => c.lifecycle?.preStop)!.lifecycle!.preStop!.httpGet as unknown as {httpHeaders: {name: string; value: string}[]};
  return {secretName: ref.name, secretKey: ref.key, value: hook.httpHeaders.find((h) => h.name === 'X-Lameduck-Token')!.value};
}

describe('library chart and injector: the same pod spec', () => {
  it('an app with one unnamed port, native mode, the defaults', async () => {
    const podSpec = {containers: [{name: 'app', image: 'app:1', ports: [{containerPort: 3000}], readinessProbe: {httpGet: {path: '/ready', port: 3000}}}]};
    const rendered = await chart(podSpec, {appPort: 3000});
    const injected = engine(podSpec, {}, {prestopToken: tokenOf(rendered)});
    expect(podSpecOf(injected)).toEqual(podSpecOf(rendered));
    await validateObject(injected);
  });

  it('a named port, classic mode, settings by annotation, the app\'s API token switched off, a second container', async () => {
    const app = {
      name: 'web',
      image: 'web:2',
      ports: [{name: 'http', containerPort: 3000}, {name: 'metrics', containerPort: 9090}],
      livenessProbe: {httpGet: {path: '/live', port: 'http'}},
    };
    const podSpec = {serviceAccountName: 'web', containers: [app, {name: 'log-shipper', image: 'shipper:1'}]};
    // The takeover, by hand: the app's port loses its name to lameduck, the app's probe uses the number.
    const takenOver = {
      ...podSpec,
      containers: [{...app, ports: [{containerPort: 3000}, {name: 'metrics', containerPort: 9090}], livenessProbe: {httpGet: {path: '/live', port: 3000}}}, podSpec.containers[1]],
    };
    const rendered = await chart(takenOver, {
      mode: 'classic',
      appPort: 3000,
      environment: 'cloud-lb',
      quiet: '2s',
      watchPod: true,
      quietIgnorePaths: ['/live', '/ready'],
      ignoreServices: ['web-headless'],
      logLevel: 'debug',
      image: {repository: 'registry.example.com/lameduck', tag: '0.1.0'},
      ports: {trafficName: 'http'},
    });
    const injected = engine(podSpec, {
      'lameduck.io/mode': 'classic',
      'lameduck.io/environment': 'cloud-lb',
      'lameduck.io/quiet': '2s',
      'lameduck.io/watch-pod': 'true',
      'lameduck.io/quiet-ignore-paths': '/live,/ready',
      'lameduck.io/ignore-services': 'web-headless',
      'lameduck.io/log-level': 'debug',
      'lameduck.io/image': 'registry.example.com/lameduck:0.1.0',
    }, {prestopToken: tokenOf(rendered)});
    expect(podSpecOf(injected)).toEqual(podSpecOf(rendered));
    await validateObject(injected);
  });

  it('a gRPC app: appProtocol h2c in the chart, a port named grpc for the injector', async () => {
    const app = {name: 'greeter', image: 'greeter:1', ports: [{name: 'grpc', containerPort: 50051}], readinessProbe: {grpc: {port: 50051}}};
    const takenOver = {containers: [{...app, ports: [{containerPort: 50051}]}]};
    const rendered = await chart(takenOver, {appPort: 50051, appProtocol: 'h2c', ports: {trafficName: 'grpc'}});
    const injected = engine({containers: [app]}, {}, {prestopToken: tokenOf(rendered)});
    expect(podSpecOf(injected)).toEqual(podSpecOf(rendered));
    const sidecar = podSpecOf(injected).initContainers!.find((c) => c.name === 'lameduck')!;
    expect(sidecar.env!.find((e) => e.name === 'LAMEDUCK_UPSTREAM')!.value).toBe('h2c://127.0.0.1:50051');
    await validateObject(injected);
  });
});
