/**
 * The Helm post-renderer: the real helm v4 with the plugin in helm-plugin/lameduck (`--post-renderer lameduck`) over
 * two realistic charts, one whose Service targets the app by port name and one by port number with the app's own
 * probes. Every object helm would install is valid for the Kubernetes API; a second pass changes nothing; a workload
 * the engine cannot protect stops the install with a message naming it. The same script is the executable Helm 3
 * takes (stdin to stdout).
 */
import {beforeAll, describe, expect, it} from '@jest/globals';
import {join} from 'node:path';
import {LAMEDUCK_MAIN} from '../../../sim/processes.js';
import {findObject, parseObjects, podSpecOf, REPO_ROOT, validateObject, type Container, type KubeObject, type PodSpec} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';
import {runWithInput} from '../../support/run-with-input.js';

// helm copies its environment when the fixture creates it: the plugin directory and the lameduck it runs.
process.env.HELM_PLUGINS = join(REPO_ROOT, 'helm-plugin');
process.env.LAMEDUCK_BIN = `${process.execPath} ${LAMEDUCK_MAIN}`;

const helm = useHelm();
const SCRIPT = join(REPO_ROOT, 'helm-plugin', 'lameduck', 'lameduck-inject.sh');

const run = runWithInput;

function all(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

async function validateAll(objects: readonly KubeObject[]): Promise<void> {
  for (const o of objects) await validateObject(o);
}

describe('helm v4 --post-renderer lameduck', () => {
  it('the plugin is a postrenderer/v1 plugin helm lists', async () => {
    const out = (await helm.run(['plugin', 'list'])).stdout;
    expect(out).toMatch(/lameduck\s+0\.1\.0\s+postrenderer\/v1/);
  });

  describe('a chart whose Service reaches the app by port name', () => {
    let yaml: string;
    let objects: KubeObject[];
    beforeAll(async () => {
      yaml = await helm.templateYaml('test/fixtures/charts/web-named', undefined, {release: 'shop', extraArgs: ['--post-renderer', 'lameduck']});
      objects = parseObjects(yaml);
    });

    it('injects the opted-in Deployment: lameduck takes the port name, the app keeps its probes on its own port', () => {
      const spec = podSpecOf(findObject(objects, 'Deployment'));
      const sidecar = all(spec).find((c) => c.name === 'lameduck')!;
      expect(sidecar.restartPolicy).toBe('Always');
      expect(sidecar.ports).toEqual([{name: 'http', containerPort: 8080, protocol: 'TCP'}, {name: 'admin', containerPort: 9901, protocol: 'TCP'}]);
      const web = spec.containers.find((c) => c.name === 'web')!;
      expect(web.ports).toEqual([{containerPort: 3000}, {name: 'metrics', containerPort: 9090}]);
      expect(web.readinessProbe?.httpGet).toMatchObject({path: '/ready', port: 3000});
      expect(web.livenessProbe?.httpGet).toMatchObject({path: '/live', port: 3000});
      expect(web.lifecycle?.preStop?.httpGet).toEqual({path: '/prestop', port: 9901, scheme: 'HTTP'});
      // lameduck.io/environment: ingress on the template: settle 5s, and a grace period that holds it.
      expect(sidecar.env?.find((e) => e.name === 'LAMEDUCK_SETTLE')?.value).toBe('5s');
      expect(spec.terminationGracePeriodSeconds).toBe(36);
    });

    it('leaves the Service (it targets the name, which is lameduck\'s now) and the CronJob that did not opt in', () => {
      expect((findObject(objects, 'Service').spec as {ports: {targetPort: unknown}[]}).ports.map((p) => p.targetPort)).toEqual(['http', 'metrics']);
      const cron = findObject(objects, 'CronJob').spec as {jobTemplate: {spec: {template: {spec: PodSpec}}}};
      expect(cron.jobTemplate.spec.template.spec.containers.map((c) => c.name)).toEqual(['report']);
    });

    it('every object is valid for the Kubernetes API', async () => {
      await validateAll(objects);
    });

    it('a second pass through the post-renderer changes nothing', async () => {
      const again = await run(SCRIPT, [], yaml);
      expect(again.code).toBe(0);
      expect(again.stdout).toBe(yaml);
    });

    it('with --all, the CronJob that declares no port stops the render; the refusal names it and what to do', async () => {
      await expect(helm.templateYaml('test/fixtures/charts/web-named', undefined, {release: 'shop', extraArgs: ['--post-renderer', 'lameduck', '--post-renderer-args', '--all']})).rejects.toThrow(
        /post-renderer plugin "lameduck"/,
      );
      // Helm 4 keeps the plugin's stderr to itself; the script's own (and the terminal's) carry the message.
      const plain = await helm.templateYaml('test/fixtures/charts/web-named', undefined, {release: 'shop'});
      const r = await run(SCRIPT, ['--all'], plain);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/CronJob shop-report: container "report" declares no TCP port.*lameduck\.io\/port/);
    });
  });

  describe('a chart whose Service targets the app port by number, with its own probes', () => {
    let objects: KubeObject[];
    beforeAll(async () => {
      const args = ['--post-renderer', 'lameduck', '--post-renderer-args', '--rbac', '--post-renderer-args', '--mode=classic'];
      objects = parseObjects(await helm.templateYaml('test/fixtures/charts/api-numeric', undefined, {release: 'shop', namespace: 'payments', extraArgs: args}));
    });

    it('injects the StatefulSet on the annotated port, next to the app on 8080, and raises its short grace period', () => {
      const spec = podSpecOf(findObject(objects, 'StatefulSet'));
      expect(spec.containers.map((c) => c.name)).toEqual(['api', 'lameduck']);
      const sidecar = spec.containers[1]!;
      expect(sidecar.ports![0]).toEqual({name: 'traffic', containerPort: 8081, protocol: 'TCP'});
      expect(sidecar.env?.find((e) => e.name === 'LAMEDUCK_UPSTREAM')?.value).toBe('http://127.0.0.1:8080');
      const api = spec.containers[0]!;
      expect(api.readinessProbe?.httpGet).toMatchObject({path: '/healthz', port: 8080});
      expect(api.livenessProbe).toMatchObject({httpGet: {path: '/healthz', port: 8080}, failureThreshold: 5});
      expect(spec.terminationGracePeriodSeconds).toBe(33);
    });

    it('points the Service\'s numeric targetPort at lameduck, leaves the gRPC port', () => {
      const ports = (findObject(objects, 'Service').spec as {ports: {name: string; targetPort: unknown}[]}).ports;
      expect(ports).toEqual([expect.objectContaining({name: 'http', targetPort: 'traffic'}), expect.objectContaining({name: 'grpc', targetPort: 9000})]);
    });

    it('adds a Role and RoleBinding for the pod\'s ServiceAccount; every object is valid for the Kubernetes API', async () => {
      expect(findObject(objects, 'RoleBinding').subjects).toEqual([{kind: 'ServiceAccount', name: 'default'}]);
      expect(findObject(objects, 'Role').metadata.name).toBe('lameduck-default');
      await validateAll(objects);
    });
  });

  it('Helm 3: the script itself is the post-renderer executable (manifests on stdin, on stdout)', async () => {
    const plain = await helm.templateYaml('test/fixtures/charts/web-named', undefined, {release: 'shop'});
    const viaPlugin = parseObjects(await helm.templateYaml('test/fixtures/charts/web-named', undefined, {release: 'shop', extraArgs: ['--post-renderer', 'lameduck']}));
    const r = await run(SCRIPT, [], plain);
    expect(r.code).toBe(0);
    const byKind = (os: KubeObject[]) => [...os].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
    expect(byKind(parseObjects(r.stdout))).toEqual(byKind(viaPlugin));
  });
});
