/**
 * `helm template` of charts/demo over a matrix of values: every rendered object must pass the Kubernetes API schemas
 * (kubernetes-models) and carry no field the API does not know (client-node's OpenAPI attribute maps). The one CRD,
 * PrometheusRule, has no schema here; its rules are checked by promtool (chart-prometheus-rule.test.ts) and its
 * envelope below.
 */
import {describe, expect, it} from '@jest/globals';
import {objectId, validateObject, type KubeObject} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();

const MATRIX: [string, object][] = [
  ['defaults (native)', {}],
  ['classic', {lameduck: {mode: 'classic'}}],
  ['custom ports', {app: {port: 4000}, lameduck: {appPort: 4000, ports: {traffic: 18080, trafficName: 'proxy', admin: 19901, adminName: 'ld-admin'}}}],
  ['resources', {app: {resources: {requests: {cpu: '1', memory: '1Gi'}, limits: {memory: '2Gi'}}}, lameduck: {resources: {requests: {cpu: '100m', memory: '80Mi'}, limits: {cpu: '1', memory: '256Mi'}}}}],
  ['existing preStop kept', {app: {lifecycle: {preStop: {exec: {command: ['sh', '-c', 'wget -qO- http://127.0.0.1:9901/prestop; sleep 1']}}}}, lameduck: {existingPreStop: 'keep'}}],
  ['RBAC off', {lameduck: {rbac: {create: false}}}],
  ['watchPod', {lameduck: {watchPod: true}}],
  ['automountServiceAccountToken false', {automountServiceAccountToken: false, serviceAccountName: 'app-identity'}],
  ['dedicated ServiceAccount', {lameduck: {serviceAccount: {create: true}}}],
  ['kind (b) with a signal', {lameduck: {legacyApp: {enabled: true, exit: 'signal:SIGTERM', processPattern: 'dist/demo-app/src/main\\.js'}}}],
  ['kind (a), no legacy option', {lameduck: {legacyApp: {enabled: false}}}],
  ['every option', {
    replicaCount: 5,
    podAntiAffinity: 'hard',
    terminationGracePeriodSeconds: 90,
    service: {type: 'LoadBalancer', port: 8080},
    lameduck: {
      mode: 'classic',
      environment: 'cloud-lb',
      quietIgnorePaths: ['/healthz', '/ping'],
      ignoreServices: ['headless'],
      drainTimeout: '60s',
      prestopToken: {secretKey: 'prestop'},
      networkPolicy: {enabled: true, adminFrom: [{ipBlock: {cidr: '10.0.0.0/8'}}], trafficFrom: [{namespaceSelector: {matchLabels: {'kubernetes.io/metadata.name': 'ingress'}}}], extraPorts: [3000]},
      serviceAccount: {automountForApp: true},
      extraEnv: [{name: 'LAMEDUCK_KEEPALIVE_TIMEOUT', value: '350s'}],
      image: {digest: `sha256:${'a'.repeat(64)}`},
      dashboard: {enabled: true, annotations: {grafana_folder: 'Platform'}},
      prometheusRule: {enabled: true, labels: {release: 'kube-prometheus-stack'}},
    },
  }],
  ['no PDB, no anti-affinity', {podDisruptionBudget: {enabled: false}, podAntiAffinity: 'none'}],
];

describe('charts/demo over a matrix of values', () => {
  it.each(MATRIX)('%s: every object passes the Kubernetes schemas', async (_name, values) => {
    const objects = await helm.template('charts/demo', values);
    const kinds = objects.map((o) => o.kind);
    expect(kinds).toEqual(expect.arrayContaining(['Deployment', 'Service']));
    const unchecked: KubeObject[] = [];
    for (const o of objects) {
      if (o.kind === 'PrometheusRule') {
        unchecked.push(o);
        continue;
      }
      await validateObject(o);
    }
    for (const rule of unchecked) {
      expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
      expect(Object.keys(rule).sort()).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
      expect(Object.keys(rule.spec as object)).toEqual(['groups']);
    }
    // Names are unique per kind, so nothing overwrites anything at install.
    const ids = objects.map(objectId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('the validators catch what they claim to: a wrong type and an unknown field', async () => {
    const objects = await helm.template('charts/demo', {});
    const deployment = structuredClone(objects.find((o) => o.kind === 'Deployment')!);
    const spec = (deployment.spec as {template: {spec: {initContainers: Record<string, unknown>[]}}}).template.spec;
    const wrongType = structuredClone(deployment);
    (wrongType.spec as {replicas: unknown}).replicas = 'three';
    await expect(validateObject(wrongType)).rejects.toMatchObject({code: 'MANIFEST_INVALID'});
    spec.initContainers[0]!.restartpolicy = 'Always';
    await expect(validateObject(deployment)).rejects.toMatchObject({
      code: 'MANIFEST_UNKNOWN_FIELD',
      message: expect.stringContaining('spec.template.spec.initContainers[0].restartpolicy'),
    });
  });
});
