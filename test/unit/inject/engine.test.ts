/**
 * The injection engine on manifests: which workloads get the sidecar, how lameduck takes the app's port over, what it
 * refuses (naming the workload and what to do), idempotence and re-injection, and that every injected object is one
 * the Kubernetes API accepts.
 */
import {describe, expect, it} from '@jest/globals';
import {parse, parseAllDocuments} from 'yaml';
import {injectManifests} from '../../../proxy/src/inject/manifests.js';
import {DEFAULT_SETTINGS, type InjectSettings} from '../../../proxy/src/inject/settings.js';
import {InjectError} from '../../../proxy/src/inject/errors.js';
import {LAMEDUCK_VERSION} from '../../../proxy/src/inject/version.js';
import {validateObject, type KubeObject, type PodSpec, type Container} from '../../support/helm.js';

interface Options {
  all?: boolean;
  rbac?: boolean;
  settings?: Partial<InjectSettings>;
}

function inject(text: string, o: Options = {}): string {
  return injectManifests([{name: 'input.yaml', text}], {
    defaults: {...structuredClone(DEFAULT_SETTINGS), ...o.settings} as InjectSettings,
    version: LAMEDUCK_VERSION,
    all: o.all ?? false,
    rbac: o.rbac ?? false,
  }).text;
}

/** Every object of the output, the items of a List included. */
function objects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject & {items?: KubeObject[]})
    .filter((o) => o)
    .flatMap((o) => (o.kind === 'List' ? o.items! : [o]));
}

function refusal(text: string, o: Options = {}): InjectError {
  try {
    inject(text, o);
  } catch (err) {
    if (err instanceof InjectError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

function podSpec(o: KubeObject): PodSpec {
  if (o.kind === 'Pod') return o.spec as PodSpec;
  if (o.kind === 'CronJob') return (o.spec as {jobTemplate: {spec: {template: {spec: PodSpec}}}}).jobTemplate.spec.template.spec;
  return (o.spec as {template: {spec: PodSpec}}).template.spec;
}

function sidecar(spec: PodSpec): Container | undefined {
  return [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === 'lameduck');
}

function deployment(opts: {annotations?: Record<string, string>; container?: object; grace?: number; name?: string} = {}): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name: opts.name ?? 'web', namespace: 'shop', ...(opts.annotations ? {annotations: opts.annotations} : {})},
    spec: {
      selector: {matchLabels: {app: 'web'}},
      template: {
        metadata: {labels: {app: 'web'}},
        spec: {
          ...(opts.grace !== undefined ? {terminationGracePeriodSeconds: opts.grace} : {}),
          containers: [opts.container ?? {name: 'app', image: 'web:1', ports: [{name: 'http', containerPort: 3000}]}],
        },
      },
    },
  });
}

const OPT_IN = {'lameduck.io/inject': 'true'};

describe('which workloads are injected', () => {
  const kinds: [string, object][] = [
    ['Pod', {apiVersion: 'v1', kind: 'Pod', metadata: {name: 'p', annotations: OPT_IN}, spec: {containers: [{name: 'app', image: 'a', ports: [{containerPort: 3000}]}]}}],
    ['Job', {apiVersion: 'batch/v1', kind: 'Job', metadata: {name: 'j'}, spec: {template: {metadata: {annotations: OPT_IN}, spec: {restartPolicy: 'Never', containers: [{name: 'app', image: 'a', ports: [{containerPort: 3000}]}]}}}}],
    ['CronJob', {apiVersion: 'batch/v1', kind: 'CronJob', metadata: {name: 'c', annotations: OPT_IN}, spec: {schedule: '* * * * *', jobTemplate: {spec: {template: {spec: {restartPolicy: 'Never', containers: [{name: 'app', image: 'a', ports: [{containerPort: 3000}]}]}}}}}}],
    ['StatefulSet', {apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: {name: 's', annotations: OPT_IN}, spec: {serviceName: 's', selector: {matchLabels: {a: 'b'}}, template: {metadata: {labels: {a: 'b'}}, spec: {containers: [{name: 'app', image: 'a', ports: [{containerPort: 3000}]}]}}}}],
    ['DaemonSet', {apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: {name: 'd', annotations: OPT_IN}, spec: {selector: {matchLabels: {a: 'b'}}, template: {metadata: {labels: {a: 'b'}}, spec: {containers: [{name: 'app', image: 'a', ports: [{containerPort: 3000}]}]}}}}],
    ['ReplicaSet', {apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: {name: 'r', annotations: OPT_IN}, spec: {selector: {matchLabels: {a: 'b'}}, template: {metadata: {labels: {a: 'b'}}, spec: {containers: [{name: 'app', image: 'a', ports: [{containerPort: 3000}]}]}}}}],
    ['ReplicationController', {apiVersion: 'v1', kind: 'ReplicationController', metadata: {name: 'rc', annotations: OPT_IN}, spec: {selector: {a: 'b'}, template: {metadata: {labels: {a: 'b'}}, spec: {containers: [{name: 'app', image: 'a', ports: [{containerPort: 3000}]}]}}}}],
  ];
  it.each(kinds)('%s: gets the sidecar, and the result is valid for the Kubernetes API', async (_kind, o) => {
    const [out] = objects(inject(JSON.stringify(o)));
    const spec = podSpec(out!);
    expect(sidecar(spec)?.restartPolicy).toBe('Always');
    expect(spec.containers[0]!.lifecycle?.preStop?.httpGet).toEqual({path: '/prestop', port: 9901, scheme: 'HTTP'});
    await validateObject(out!);
  });

  it('any kind with a standard pod template at spec.template (an Argo Rollout)', () => {
    const rollout = {apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: {name: 'r', annotations: OPT_IN}, spec: {strategy: {canary: {}}, template: {spec: {containers: [{name: 'app', image: 'a', ports: [{containerPort: 3000}]}]}}}};
    const [out] = objects(inject(JSON.stringify(rollout)));
    expect(sidecar(podSpec(out!))).toBeDefined();
  });

  it('only what opted in; --all takes every workload but those that opted out', () => {
    const text = [deployment({name: 'a'}), deployment({name: 'b', annotations: OPT_IN}), deployment({name: 'c', annotations: {'lameduck.io/inject': 'false'}})].join('\n---\n');
    const injected = (o: Options) => objects(inject(text, o)).filter((x) => sidecar(podSpec(x))).map((x) => x.metadata.name);
    expect(injected({})).toEqual(['b']);
    expect(injected({all: true})).toEqual(['a', 'b']);
  });

  it('the pod template opts out of what its workload opted into (the more specific wins)', () => {
    const d = JSON.parse(deployment({annotations: OPT_IN}));
    d.spec.template.metadata.annotations = {'lameduck.io/inject': 'false'};
    expect(sidecar(podSpec(objects(inject(JSON.stringify(d)))[0]!))).toBeUndefined();
  });

  it('an inject value that is neither true nor false is refused, not guessed', () => {
    const e = refusal(deployment({annotations: {'lameduck.io/inject': 'yes'}}));
    expect(e.message).toContain('Deployment shop/web');
    expect(e.message).toContain('lameduck.io/inject="yes"');
  });

  it('a pod that already has the library chart\'s lameduck is left as it is', () => {
    const d = JSON.parse(deployment({annotations: OPT_IN}));
    d.spec.template.spec.containers.push({name: 'lameduck', image: 'lameduck:0.1.0'});
    const text = JSON.stringify(d);
    expect(inject(text)).toBe(text);
  });
});

describe('taking over the app port', () => {
  it('lameduck takes the port name; the app keeps its number; the app\'s probes keep probing the app', () => {
    const container = {
      name: 'app',
      image: 'web:1',
      ports: [{name: 'http', containerPort: 3000}],
      readinessProbe: {httpGet: {path: '/ready', port: 'http'}},
      livenessProbe: {tcpSocket: {port: 'http'}},
    };
    const spec = podSpec(objects(inject(deployment({annotations: OPT_IN, container})))[0]!);
    const app = spec.containers[0]!;
    const ld = sidecar(spec)!;
    expect(ld.ports).toEqual([{name: 'http', containerPort: 8080, protocol: 'TCP'}, {name: 'admin', containerPort: 9901, protocol: 'TCP'}]);
    expect(app.ports).toEqual([{containerPort: 3000}]);
    expect(app.readinessProbe?.httpGet).toEqual({path: '/ready', port: 3000});
    expect((app.livenessProbe as {tcpSocket?: unknown}).tcpSocket).toEqual({port: 3000});
    expect(ld.env?.find((e) => e.name === 'LAMEDUCK_UPSTREAM')?.value).toBe('http://127.0.0.1:3000');
    // lameduck's own probes: startup and liveness on /healthz, readiness on /readyz, all on its admin port.
    expect(ld.startupProbe?.httpGet).toEqual({path: '/healthz', port: 'admin'});
    expect(ld.readinessProbe?.httpGet).toEqual({path: '/readyz', port: 'admin'});
  });

  it('the only port, else the one named http, else lameduck.io/port; several without http are refused', () => {
    const two = {name: 'app', image: 'a', ports: [{name: 'web', containerPort: 3000}, {name: 'grpc', containerPort: 9000}]};
    const e = refusal(deployment({annotations: OPT_IN, container: two}));
    expect(e.code).toBe('INJECT_AMBIGUOUS_PORT');
    expect(e.message).toContain('Deployment shop/web');
    expect(e.message).toContain('lameduck.io/port');
    const chosen = podSpec(objects(inject(deployment({annotations: {...OPT_IN, 'lameduck.io/port': 'grpc'}, container: two})))[0]!);
    expect(sidecar(chosen)!.ports![0]).toEqual({name: 'grpc', containerPort: 8080, protocol: 'TCP'});
    const withHttp = {...two, ports: [...two.ports, {name: 'http', containerPort: 4000}]};
    expect(sidecar(podSpec(objects(inject(deployment({annotations: OPT_IN, container: withHttp})))[0]!))!.env!.find((x) => x.name === 'LAMEDUCK_UPSTREAM')!.value).toBe('http://127.0.0.1:4000');
  });

  it('no port and no annotation: refused; an undeclared port number by annotation is allowed', () => {
    const none = {name: 'app', image: 'a'};
    expect(refusal(deployment({annotations: OPT_IN, container: none})).code).toBe('INJECT_NO_APP_PORT');
    const spec = podSpec(objects(inject(deployment({annotations: {...OPT_IN, 'lameduck.io/port': '5000'}, container: none})))[0]!);
    expect(sidecar(spec)!.ports![0]!.name).toBe('traffic');
  });

  it('an app already on 8080 gets lameduck on the next free port', () => {
    const c = {name: 'app', image: 'a', ports: [{name: 'http', containerPort: 8080}]};
    const ld = sidecar(podSpec(objects(inject(deployment({annotations: OPT_IN, container: c})))[0]!))!;
    expect(ld.ports![0]).toEqual({name: 'http', containerPort: 8081, protocol: 'TCP'});
  });

  it('a hostPort on the app port is refused (traffic through the node would bypass lameduck)', () => {
    const c = {name: 'app', image: 'a', ports: [{name: 'http', containerPort: 3000, hostPort: 80}]};
    expect(refusal(deployment({annotations: OPT_IN, container: c})).message).toContain('hostPort');
  });

  it('Services in the input that target the app port by number are pointed at lameduck; others stay', () => {
    const services = [
      {apiVersion: 'v1', kind: 'Service', metadata: {name: 'by-number', namespace: 'shop'}, spec: {selector: {app: 'web'}, ports: [{port: 80, targetPort: 3000}]}},
      {apiVersion: 'v1', kind: 'Service', metadata: {name: 'default-target', namespace: 'shop'}, spec: {selector: {app: 'web'}, ports: [{port: 3000}]}},
      {apiVersion: 'v1', kind: 'Service', metadata: {name: 'other-ns', namespace: 'other'}, spec: {selector: {app: 'web'}, ports: [{port: 80, targetPort: 3000}]}},
      {apiVersion: 'v1', kind: 'Service', metadata: {name: 'other-app', namespace: 'shop'}, spec: {selector: {app: 'db'}, ports: [{port: 80, targetPort: 3000}]}},
    ];
    const out = objects(inject([deployment({annotations: OPT_IN}), ...services.map((s) => JSON.stringify(s))].join('\n---\n')));
    const target = (name: string) => (out.find((o) => o.metadata.name === name)!.spec as {ports: {targetPort?: unknown}[]}).ports[0]!.targetPort;
    expect(target('by-number')).toBe('http');
    expect(target('default-target')).toBe('http');
    expect(target('other-ns')).toBe(3000);
    expect(target('other-app')).toBe(3000);
  });
});

describe('the protocol lameduck speaks to the app', () => {
  const upstream = (text: string): string | undefined =>
    sidecar(podSpec(objects(inject(text))[0]!))!.env!.find((e) => e.name === 'LAMEDUCK_UPSTREAM')?.value;
  const app = (ports: object[], extra: object = {}) => ({name: 'app', image: 'a', ports, ...extra});

  it('HTTP/1.1 unless the app port says HTTP/2: a grpc/h2c/http2 port name or a gRPC probe on it', () => {
    expect(upstream(deployment({annotations: OPT_IN}))).toBe('http://127.0.0.1:3000');
    for (const name of ['grpc', 'grpc-api', 'h2c', 'http2', 'http2-public']) {
      expect(upstream(deployment({annotations: OPT_IN, container: app([{name, containerPort: 50051}])}))).toBe('h2c://127.0.0.1:50051');
    }
    // Names that merely contain the letters are not a protocol prefix.
    expect(upstream(deployment({annotations: OPT_IN, container: app([{name: 'grpcx', containerPort: 50051}])}))).toBe('http://127.0.0.1:50051');
    const probed = app([{containerPort: 50051}], {readinessProbe: {grpc: {port: 50051}}});
    expect(upstream(deployment({annotations: OPT_IN, container: probed}))).toBe('h2c://127.0.0.1:50051');
    // A gRPC probe on another port (a separate health server) says nothing about the traffic port.
    const elsewhere = app([{name: 'http', containerPort: 3000}], {livenessProbe: {grpc: {port: 9090}}});
    expect(upstream(deployment({annotations: OPT_IN, container: elsewhere}))).toBe('http://127.0.0.1:3000');
  });

  it('lameduck.io/app-protocol decides over the guess, and a bad value is refused naming the annotation', () => {
    const grpc = app([{name: 'grpc', containerPort: 50051}]);
    expect(upstream(deployment({annotations: {...OPT_IN, 'lameduck.io/app-protocol': 'http'}, container: grpc}))).toBe('http://127.0.0.1:50051');
    expect(upstream(deployment({annotations: {...OPT_IN, 'lameduck.io/app-protocol': 'h2c'}}))).toBe('h2c://127.0.0.1:3000');
    const e = refusal(deployment({annotations: {...OPT_IN, 'lameduck.io/app-protocol': 'grpc'}}));
    expect(e.code).toBe('INJECT_BAD_ANNOTATION');
    expect(e.message).toContain('lameduck.io/app-protocol');
    expect(e.message).toContain('auto, http, h2c');
  });

  it('re-injection keeps an h2c app on h2c (the port name is lameduck\'s by then)', () => {
    const once = inject(deployment({annotations: OPT_IN, container: app([{name: 'grpc', containerPort: 50051}])}));
    expect(inject(once)).toBe(once);
    expect(sidecar(podSpec(objects(once)[0]!))!.env!.find((e) => e.name === 'LAMEDUCK_UPSTREAM')?.value).toBe('h2c://127.0.0.1:50051');
  });
});

describe('the drain wiring', () => {
  it('Downward API identity, grace period raised when shorter than the drain needs, kept when longer', () => {
    const short = podSpec(objects(inject(deployment({annotations: OPT_IN, grace: 10})))[0]!);
    expect(short.terminationGracePeriodSeconds).toBe(33);
    const long = podSpec(objects(inject(deployment({annotations: OPT_IN, grace: 120})))[0]!);
    expect(long.terminationGracePeriodSeconds).toBe(120);
    const env = Object.fromEntries(sidecar(short)!.env!.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath ?? e.value]));
    expect(env).toMatchObject({POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace', POD_UID: 'metadata.uid', POD_IPS: 'status.podIPs'});
    // cloud-lb settle is 20 s: the grace period grows with it.
    const cloud = podSpec(objects(inject(deployment({annotations: {...OPT_IN, 'lameduck.io/environment': 'cloud-lb'}})))[0]!);
    expect(cloud.terminationGracePeriodSeconds).toBe(51);
  });

  it('classic mode appends the sidecar to containers; a restrictive securityContext either way', () => {
    const spec = podSpec(objects(inject(deployment({annotations: {...OPT_IN, 'lameduck.io/mode': 'classic'}})))[0]!);
    expect(spec.containers.map((c) => c.name)).toEqual(['app', 'lameduck']);
    expect(spec.initContainers).toBeUndefined();
    expect(sidecar(spec)!.restartPolicy).toBeUndefined();
    expect(sidecar(spec)!.securityContext).toMatchObject({runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: ['ALL']}});
  });

  it("an app with its own preStop: refused unless lameduck.io/app-prestop says keep or replace", () => {
    const c = {name: 'app', image: 'a', ports: [{containerPort: 3000}], lifecycle: {preStop: {sleep: {seconds: 10}}}};
    const e = refusal(deployment({annotations: OPT_IN, container: c}));
    expect(e.code).toBe('INJECT_EXISTING_PRESTOP');
    expect(e.message).toContain('Deployment shop/web');
    expect(e.message).toContain('lameduck.io/app-prestop');
    const kept = podSpec(objects(inject(deployment({annotations: {...OPT_IN, 'lameduck.io/app-prestop': 'keep'}, container: c})))[0]!);
    expect(kept.containers[0]!.lifecycle?.preStop).toEqual({sleep: {seconds: 10}});
    const replaced = podSpec(objects(inject(deployment({annotations: {...OPT_IN, 'lameduck.io/app-prestop': 'replace'}, container: c})))[0]!);
    expect(replaced.containers[0]!.lifecycle?.preStop).toEqual({httpGet: {path: '/prestop', port: 9901, scheme: 'HTTP'}});
  });

  it('a prestop token: the sidecar reads it from the Secret, the app\'s hook sends it when the value is known', () => {
    const spec = podSpec(objects(inject(deployment({annotations: OPT_IN}), {settings: {prestopToken: {secretName: 'web-token', secretKey: 'token', value: 's3cr3t-token'}}}))[0]!);
    expect(sidecar(spec)!.env!.find((e) => e.name === 'LAMEDUCK_PRESTOP_TOKEN')!.valueFrom).toEqual({secretKeyRef: {name: 'web-token', key: 'token'}});
    expect(spec.containers[0]!.lifecycle?.preStop?.httpGet).toMatchObject({httpHeaders: [{name: 'X-Lameduck-Token', value: 's3cr3t-token'}]});
  });

  it('settings by annotation, validated: a bad value or an unknown key names the workload and the annotation', () => {
    const spec = podSpec(objects(inject(deployment({annotations: {...OPT_IN, 'lameduck.io/settle': '7s', 'lameduck.io/image': 'reg/lameduck:9'}})))[0]!);
    expect(sidecar(spec)!.image).toBe('reg/lameduck:9');
    expect(sidecar(spec)!.env!.find((e) => e.name === 'LAMEDUCK_SETTLE')!.value).toBe('7s');
    expect(refusal(deployment({annotations: {...OPT_IN, 'lameduck.io/settle': 'soon'}})).message).toMatch(/Deployment shop\/web: annotation lameduck.io\/settle="soon": not a duration/);
    expect(refusal(deployment({annotations: {...OPT_IN, 'lameduck.io/setle': '2s'}})).message).toContain('unknown setting annotation lameduck.io/setle');
  });

  it('a pod without the automounted token: a projected token for the sidecar alone', async () => {
    const d = JSON.parse(deployment({annotations: OPT_IN}));
    d.spec.template.spec.automountServiceAccountToken = false;
    const [out] = objects(inject(JSON.stringify(d)));
    const spec = podSpec(out!);
    expect(spec.volumes?.map((v) => v.name)).toEqual(['lameduck-kube-api-access']);
    expect(sidecar(spec)!.volumeMounts).toEqual([{name: 'lameduck-kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true}]);
    await validateObject(out!);
  });

  it('every refusal in one run is reported, and nothing is written', () => {
    const bad1 = deployment({name: 'one', annotations: OPT_IN, container: {name: 'app', image: 'a'}});
    const bad2 = deployment({name: 'two', annotations: {...OPT_IN, 'lameduck.io/mode': 'sidecar'}});
    const e = refusal([bad1, bad2].join('\n---\n'));
    expect(e.message).toContain('Deployment shop/one');
    expect(e.message).toContain('Deployment shop/two');
  });
});

describe('idempotence and re-injection', () => {
  const input = `# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # keep me
  annotations:
    lameduck.io/inject: "true"
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
    spec:
      automountServiceAccountToken: false
      containers:
        - name: app # the app
          image: web:1
          ports:
            - name: http
              containerPort: 3000
          readinessProbe:
            httpGet: {path: /ready, port: http}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 3000
`;

  it('injecting an injected manifest changes nothing (the text is byte for byte the same)', () => {
    const once = inject(input, {rbac: true});
    expect(inject(once, {rbac: true})).toBe(once);
  });

  it('keeps comments and the order of what it did not change; marks what it injected with the version', () => {
    const once = inject(input);
    expect(once).toContain('# the web tier');
    expect(once).toContain('name: web # keep me');
    expect(once).toContain('- name: app # the app');
    const d = parse(once.split('---')[0]!) as KubeObject;
    expect(Object.keys(d)).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect((d.spec as {template: {metadata: {annotations: Record<string, string>}}}).template.metadata.annotations).toEqual({'lameduck.io/injected': LAMEDUCK_VERSION});
  });

  it('a manifest injected by an older lameduck is re-injected cleanly: the same as a fresh injection', () => {
    const once = inject(input);
    const older = once.replace(`lameduck.io/injected: ${LAMEDUCK_VERSION}`, 'lameduck.io/injected: 0.0.1').replace(`lameduck:${LAMEDUCK_VERSION}`, 'lameduck:0.0.1').replace('value: 15s', 'value: 30s');
    expect(older).not.toBe(once);
    expect(objects(inject(older))).toEqual(objects(once));
  });

  it('a port chosen by name (lameduck.io/port) is the same port on re-injection', () => {
    const two = {name: 'app', image: 'a', ports: [{name: 'web', containerPort: 3000}, {name: 'grpc', containerPort: 9000}]};
    const once = inject(deployment({annotations: {...OPT_IN, 'lameduck.io/port': 'grpc'}, container: two}));
    expect(inject(once)).toBe(once);
    const older = once.replace(`"lameduck.io/injected": "${LAMEDUCK_VERSION}"`, '"lameduck.io/injected": "0.0.1"');
    expect(older).not.toBe(once);
    expect(inject(older)).toBe(once);
  });

  it('opting out of an injected manifest takes lameduck out again, and the app its port name back', () => {
    const source = deployment({annotations: OPT_IN, grace: 60});
    const once = inject(source);
    expect(sidecar(podSpec(objects(once)[0]!))).toBeDefined();
    const optOut = (text: string) => text.replace(/"lameduck\.io\/inject":\s*"true"/, '"lameduck.io/inject": "false"');
    expect(optOut(once)).not.toBe(once);
    expect(objects(inject(optOut(once)))).toEqual(objects(optOut(source)));
  });

  it('changed settings on an injected manifest are applied (settle via annotation)', () => {
    const once = inject(input);
    const again = inject(once.replace('lameduck.io/inject: "true"', 'lameduck.io/inject: "true"\n    lameduck.io/mode: classic'));
    const spec = podSpec(objects(again)[0]!);
    expect(spec.initContainers).toBeUndefined();
    expect(spec.containers.map((c) => c.name)).toEqual(['app', 'lameduck']);
    expect(sidecar(spec)!.ports![0]!.name).toBe('http');
  });
});

describe('input forms', () => {
  it('a JSON kind: List, written back as JSON', () => {
    const list = {apiVersion: 'v1', kind: 'List', items: [JSON.parse(deployment({annotations: OPT_IN})), {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'c'}, data: {a: 'b'}}]};
    const out = JSON.parse(inject(JSON.stringify(list))) as {items: KubeObject[]};
    expect(out.items).toHaveLength(2);
    expect(sidecar(podSpec(out.items[0]!))).toBeDefined();
    expect(out.items[1]).toEqual(list.items[1]);
  });

  it('--rbac adds a Role and RoleBinding per ServiceAccount and namespace, with the chart\'s rules', async () => {
    const d = JSON.parse(deployment({annotations: {...OPT_IN, 'lameduck.io/watch-pod': 'true'}}));
    d.spec.template.spec.serviceAccountName = 'web-sa';
    // One JSON object in, a JSON List out (the object and what was added).
    const out = objects(inject(JSON.stringify(d), {rbac: true}));
    expect(out.map((o) => o.kind)).toEqual(['Deployment', 'Role', 'RoleBinding']);
    const role = out.find((o) => o.kind === 'Role')!;
    const binding = out.find((o) => o.kind === 'RoleBinding')!;
    expect(role.metadata).toMatchObject({name: 'lameduck-web-sa', namespace: 'shop'});
    expect(role.rules).toEqual([
      {apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch']},
      {apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch']},
      {apiGroups: [''], resources: ['services'], verbs: ['get']},
      {apiGroups: [''], resources: ['events'], verbs: ['create']},
    ]);
    expect(binding.subjects).toEqual([{kind: 'ServiceAccount', name: 'web-sa', namespace: 'shop'}]);
    for (const o of out) await validateObject(o);
  });

  it('bad YAML is refused with the file name', () => {
    expect(refusal('a: [1, 2\nb: c').message).toMatch(/^input\.yaml: document 1 is not valid YAML/);
  });
});
