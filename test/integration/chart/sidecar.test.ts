/**
 * The sidecar that charts/demo renders through the library chart: placed once, in the right list for the mode, with
 * the Downward API identity, the probes, the app's preStop to the admin port, a hardened securityContext - and an
 * environment that the proxy's own config parser accepts.
 */
import {beforeAll, describe, expect, it} from '@jest/globals';
import {SETTINGS, IDENTITY_ENV, parseConfig} from '../../../proxy/src/config.js';
import {findObject, podSpecOf, type Container, type KubeObject, type PodSpec} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();

async function render(values: object): Promise<{objects: KubeObject[]; pod: PodSpec}> {
  const objects = await helm.template('charts/demo', values);
  return {objects, pod: podSpecOf(findObject(objects, 'Deployment'))};
}

function all(pod: PodSpec): Container[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

function env(c: Container, name: string) {
  const found = (c.env ?? []).filter((e) => e.name === name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe.each([
  ['native', {}],
  ['classic', {lameduck: {mode: 'classic'}}],
] as const)('%s mode', (mode, values) => {
  let pod: PodSpec;
  let sidecar: Container;
  let app: Container;
  let tokenSecret: KubeObject;
  beforeAll(async () => {
    let objects: KubeObject[];
    ({pod, objects} = await render(values));
    tokenSecret = findObject(objects, 'Secret', 'demo-prestop-token');
    const named = all(pod).filter((c) => c.name === 'lameduck');
    expect(named).toHaveLength(1);
    sidecar = named[0]!;
    app = pod.containers.find((c) => c.name === 'app')!;
  });

  it('adds the sidecar exactly once, in the list the mode needs', () => {
    if (mode === 'native') {
      // A native sidecar is an init container with restartPolicy Always (KEP-753).
      expect(pod.initContainers?.filter((c) => c.name === 'lameduck')).toHaveLength(1);
      expect(sidecar.restartPolicy).toBe('Always');
      expect(pod.containers.map((c) => c.name)).toEqual(['app']);
    } else {
      expect(pod.initContainers ?? []).toEqual([]);
      expect(pod.containers.map((c) => c.name)).toEqual(['app', 'lameduck']);
      expect(sidecar.restartPolicy).toBeUndefined();
    }
    expect(env(sidecar, 'LAMEDUCK_MODE').value).toBe(mode);
    expect(sidecar.image).toBe('lameduck:0.1.0');
  });

  it('takes the pod identity from the Downward API', () => {
    expect(env(sidecar, 'POD_NAME').valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(env(sidecar, 'POD_NAMESPACE').valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    expect(env(sidecar, 'POD_UID').valueFrom?.fieldRef?.fieldPath).toBe('metadata.uid');
    expect(env(sidecar, 'POD_IPS').valueFrom?.fieldRef?.fieldPath).toBe('status.podIPs');
  });

  it("gives the app container a preStop httpGet on the admin port's /prestop", () => {
    const admin = sidecar.ports!.find((p) => p.name === 'admin')!;
    expect(admin.containerPort).toBe(9901);
    // A number, not the port name: a hook's named port would be looked up in the app container's own ports.
    // The hook carries the token the sidecar reads from the Secret: a drain the API does not confirm needs it.
    const token = Buffer.from((tokenSecret.data as Record<string, string>).token!, 'base64').toString('utf8');
    expect(token).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(app.lifecycle?.preStop?.httpGet).toEqual({
      path: '/prestop',
      port: admin.containerPort,
      scheme: 'HTTP',
      httpHeaders: [{name: 'X-Lameduck-Token', value: token}],
    });
    expect(env(sidecar, 'LAMEDUCK_PRESTOP_TOKEN').valueFrom?.secretKeyRef).toEqual({name: 'demo-prestop-token', key: 'token'});
    expect(sidecar.lifecycle).toBeUndefined();
  });

  it('probes startup on /healthz and readiness on /readyz every second with failure threshold 1', () => {
    expect(sidecar.startupProbe?.httpGet).toMatchObject({path: '/healthz', port: 'admin'});
    expect(sidecar.readinessProbe?.httpGet).toMatchObject({path: '/readyz', port: 'admin'});
    expect(sidecar.readinessProbe).toMatchObject({periodSeconds: 1, failureThreshold: 1});
    expect(sidecar.livenessProbe?.httpGet?.path).toBe('/healthz');
    for (const probe of [sidecar.startupProbe, sidecar.livenessProbe]) expect(probe?.httpGet?.path).not.toBe('/readyz');
  });

  it('runs with a hardened securityContext', () => {
    expect(sidecar.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: {drop: ['ALL']},
      seccompProfile: {type: 'RuntimeDefault'},
    });
    expect(sidecar.securityContext?.capabilities?.add).toBeUndefined();
  });

  it('renders only settings the proxy knows, and the proxy accepts them', () => {
    const known = new Set<string>([...SETTINGS.map((s) => s.env), ...IDENTITY_ENV]);
    const names = (sidecar.env ?? []).map((e) => e.name);
    expect(names.filter((n) => !known.has(n))).toEqual([]);
    expect(new Set(names).size).toBe(names.length);
    // What kubelet would resolve the Downward API references to.
    const downward: Record<string, string> = {
      'metadata.name': 'demo-7c9d8-abcde',
      'metadata.namespace': 'default',
      'metadata.uid': '9a1b2c3d-0000-4000-8000-000000000001',
      'status.podIPs': '10.0.0.7,fd00::7',
    };
    const secret = (name: string, key: string): string => {
      expect(name).toBe(tokenSecret.metadata.name);
      return Buffer.from((tokenSecret.data as Record<string, string>)[key]!, 'base64').toString('utf8');
    };
    const resolved = Object.fromEntries(
      (sidecar.env ?? []).map((e) => {
        const ref = e.valueFrom?.secretKeyRef;
        return [e.name, e.value ?? (ref ? secret(ref.name, ref.key) : downward[e.valueFrom!.fieldRef!.fieldPath]!)];
      }),
    );
    const config = parseConfig(resolved);
    expect(config.mode).toBe(mode);
    expect(config.listen).toEqual({host: '', port: 8080});
    expect(config.adminListen).toEqual({host: '', port: 9901});
    expect(config.upstream.href).toBe('http://127.0.0.1:3000/');
    expect(config.identity).toEqual({name: 'demo-7c9d8-abcde', namespace: 'default', uid: '9a1b2c3d-0000-4000-8000-000000000001', ips: ['10.0.0.7', 'fd00::7']});
    expect(config.settleMs).toBe(2000);
    expect(config.prestopToken).toMatch(/^[A-Za-z0-9]{40}$/);
  });
});

describe('custom ports and resources', () => {
  it('flow into the listeners, probes, preStop and the Service', async () => {
    const {objects, pod} = await render({
      app: {port: 4000},
      lameduck: {
        appPort: 4000,
        ports: {traffic: 18080, trafficName: 'proxy', admin: 19901, adminName: 'ld-admin'},
        resources: {requests: {cpu: '200m', memory: '100Mi'}, limits: {memory: '300Mi'}},
      },
    });
    const sidecar = all(pod).find((c) => c.name === 'lameduck')!;
    const app = pod.containers.find((c) => c.name === 'app')!;
    expect(sidecar.ports).toEqual([
      {name: 'proxy', containerPort: 18080, protocol: 'TCP'},
      {name: 'ld-admin', containerPort: 19901, protocol: 'TCP'},
    ]);
    expect(env(sidecar, 'LAMEDUCK_LISTEN').value).toBe(':18080');
    expect(env(sidecar, 'LAMEDUCK_ADMIN_LISTEN').value).toBe(':19901');
    expect(env(sidecar, 'LAMEDUCK_UPSTREAM').value).toBe('http://127.0.0.1:4000');
    expect(sidecar.readinessProbe?.httpGet?.port).toBe('ld-admin');
    expect(app.lifecycle?.preStop?.httpGet).toMatchObject({path: '/prestop', port: 19901});
    expect(sidecar.resources).toEqual({requests: {cpu: '200m', memory: '100Mi'}, limits: {memory: '300Mi'}});
    const service = findObject(objects, 'Service');
    expect((service.spec as {ports: {targetPort: unknown}[]}).ports.map((p) => p.targetPort)).toEqual(['proxy']);
    // Annotation-based scraping follows the admin port too.
    const annotations = (findObject(objects, 'Deployment').spec as {template: {metadata: {annotations?: Record<string, string>}}}).template.metadata.annotations;
    expect(annotations).toEqual({'prometheus.io/scrape': 'true', 'prometheus.io/port': '19901', 'prometheus.io/path': '/metrics'});
  });

  it('refuses ports that clash with the app', async () => {
    await expect(render({lameduck: {appPort: 8080}})).rejects.toThrow(/appPort 8080 clashes with a lameduck port/);
    await expect(render({app: {port: 9901}, lameduck: {appPort: 3000}})).rejects.toThrow(/container "app" already uses port 9901/);
    await expect(render({lameduck: {ports: {trafficName: 'app'}}})).rejects.toThrow(/container "app" already has a port named "app"/);
  });

  it('appProtocol h2c points lameduck at a gRPC/HTTP/2 app with prior knowledge, which the proxy accepts', async () => {
    const {pod} = await render({lameduck: {appPort: 50051, appProtocol: 'h2c'}});
    const sidecar = all(pod).find((c) => c.name === 'lameduck')!;
    expect(env(sidecar, 'LAMEDUCK_UPSTREAM').value).toBe('h2c://127.0.0.1:50051');
    const config = parseConfig({LAMEDUCK_UPSTREAM: env(sidecar, 'LAMEDUCK_UPSTREAM').value!});
    expect(config.upstreamProtocol).toBe('h2c');
    expect(config.upstream.port).toBe('50051');
  });
});

describe('the Service', () => {
  it("targets the proxy's port by name, so traffic reaches the app only through lameduck", async () => {
    const {objects, pod} = await render({});
    const service = findObject(objects, 'Service');
    const ports = (service.spec as {ports: {targetPort: unknown; port: number}[]}).ports;
    expect(ports).toHaveLength(1);
    expect(ports[0]!.targetPort).toBe('traffic');
    // The name resolves to lameduck's traffic port and to no other container's port.
    const owners = all(pod).filter((c) => (c.ports ?? []).some((p) => p.name === ports[0]!.targetPort));
    expect(owners.map((c) => c.name)).toEqual(['lameduck']);
    expect(owners[0]!.ports!.find((p) => p.name === 'traffic')!.containerPort).toBe(8080);
  });
});

describe('the Kubernetes version', () => {
  it('refuses native mode before 1.29 and points to classic, which renders there', async () => {
    await expect(helm.template('charts/demo', {}, {kubeVersion: '1.28.9'})).rejects.toThrow(/mode native needs Kubernetes 1\.29 or later .*use mode: classic/);
    const objects = await helm.template('charts/demo', {lameduck: {mode: 'classic'}}, {kubeVersion: '1.28.9'});
    expect(podSpecOf(findObject(objects, 'Deployment')).containers.map((c) => c.name)).toEqual(['app', 'lameduck']);
  });
});
