/**
 * RBAC: a namespace-scoped Role with exactly the verbs the enabled features need (docs/design.md, "Kubernetes API use"),
 * bound to the pod's existing ServiceAccount; a dedicated ServiceAccount only on request; an API token projected
 * into the sidecar alone when the pod opts out of the automounted one.
 */
import {describe, expect, it} from '@jest/globals';
import {DEFAULT_SERVICE_ACCOUNT_DIR} from '../../../proxy/src/kube/index.js';
import {findObject, podSpecOf, validateObject, type KubeObject} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** `group/resource` -> sorted verbs, merged over all rules (so splitting rules differently cannot hide a verb). */
function permissions(role: KubeObject): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const rule of role.rules as Rule[]) {
    expect(rule.resourceNames).toBeUndefined();
    for (const g of rule.apiGroups) for (const r of rule.resources) for (const v of rule.verbs) (out[`${g}/${r}`] ??= new Set()).add(v);
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()]));
}

const BASE = {
  '/pods': ['get'],
  'discovery.k8s.io/endpointslices': ['list', 'watch'],
  '/services': ['get'],
  '/events': ['create'],
};

describe('the Role', () => {
  it('grants exactly get pods, list/watch endpointslices, get services, create events', async () => {
    const objects = await helm.template('charts/demo', {});
    const role = findObject(objects, 'Role');
    expect(role.metadata.namespace).toBe('default');
    expect(permissions(role)).toEqual(BASE);
  });

  it('adds list and watch on pods, and nothing else, with watchPod', async () => {
    const objects = await helm.template('charts/demo', {lameduck: {watchPod: true}});
    expect(permissions(findObject(objects, 'Role'))).toEqual({...BASE, '/pods': ['get', 'list', 'watch']});
    const sidecar = podSpecOf(findObject(objects, 'Deployment')).initContainers!.find((c) => c.name === 'lameduck')!;
    expect(sidecar.env!.find((e) => e.name === 'LAMEDUCK_WATCH_POD')!.value).toBe('true');
  });

  it('is not rendered with rbac.create=false', async () => {
    const objects = await helm.template('charts/demo', {lameduck: {rbac: {create: false}}});
    expect(objects.filter((o) => ['Role', 'RoleBinding', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind))).toEqual([]);
  });
});

describe('the RoleBinding', () => {
  function binding(objects: KubeObject[]) {
    const rb = findObject(objects, 'RoleBinding');
    const role = findObject(objects, 'Role');
    expect(rb.roleRef).toEqual({apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name});
    const subjects = rb.subjects as {kind: string; name: string; namespace: string}[];
    expect(subjects).toHaveLength(1);
    return subjects[0]!;
  }

  it("binds the pod's existing ServiceAccount: the namespace default when the pod names none", async () => {
    const objects = await helm.template('charts/demo', {}, {namespace: 'shop'});
    expect(podSpecOf(findObject(objects, 'Deployment')).serviceAccountName).toBeUndefined();
    expect(binding(objects)).toEqual({kind: 'ServiceAccount', name: 'default', namespace: 'shop'});
    expect(objects.filter((o) => o.kind === 'ServiceAccount')).toEqual([]);
  });

  it("binds the pod's own ServiceAccount, and leaves it on the pod", async () => {
    const objects = await helm.template('charts/demo', {serviceAccountName: 'app-irsa'});
    expect(podSpecOf(findObject(objects, 'Deployment')).serviceAccountName).toBe('app-irsa');
    expect(binding(objects)).toEqual({kind: 'ServiceAccount', name: 'app-irsa', namespace: 'default'});
  });

  it('creates a dedicated ServiceAccount only on request, and puts it on the pod', async () => {
    const objects = await helm.template('charts/demo', {lameduck: {serviceAccount: {create: true}}});
    const sa = findObject(objects, 'ServiceAccount');
    expect(podSpecOf(findObject(objects, 'Deployment')).serviceAccountName).toBe(sa.metadata.name);
    expect(binding(objects)).toEqual({kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'default'});
  });

  it("refuses to replace the app's own ServiceAccount with a dedicated one", async () => {
    await expect(helm.template('charts/demo', {serviceAccountName: 'app-irsa', lameduck: {serviceAccount: {create: true, name: 'lameduck'}}})).rejects.toThrow(
      /would replace the pod's ServiceAccount "app-irsa" with "lameduck"/,
    );
  });
});

describe('automountServiceAccountToken: false', () => {
  it('projects an API token into the sidecar alone', async () => {
    const objects = await helm.template('charts/demo', {automountServiceAccountToken: false});
    const pod = podSpecOf(findObject(objects, 'Deployment'));
    expect(pod.automountServiceAccountToken).toBe(false);
    const volume = pod.volumes!.find((v) => v.name === 'lameduck-kube-api-access')!;
    const sources = (volume.projected as {sources: Record<string, unknown>[]}).sources;
    expect(sources).toEqual([
      {serviceAccountToken: {path: 'token', expirationSeconds: 3607}},
      {configMap: {name: 'kube-root-ca.crt', items: [{key: 'ca.crt', path: 'ca.crt'}]}},
      {downwardAPI: {items: [{path: 'namespace', fieldRef: {apiVersion: 'v1', fieldPath: 'metadata.namespace'}}]}},
    ]);
    const mounts = [...(pod.initContainers ?? []), ...pod.containers].map((c) => [c.name, c.volumeMounts ?? []] as const);
    expect(mounts).toEqual([
      ['lameduck', [{name: 'lameduck-kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true}]],
      ['app', []],
    ]);
  });

  it('projects nothing when the pod keeps the automounted token: set in the spec, or automountForApp', async () => {
    for (const values of [{automountServiceAccountToken: true}, {lameduck: {serviceAccount: {automountForApp: true}}}]) {
      const pod = podSpecOf(findObject(await helm.template('charts/demo', values), 'Deployment'));
      expect(pod.automountServiceAccountToken ?? true).toBe(true);
      expect(pod.volumes ?? []).toEqual([]);
      expect(pod.initContainers!.find((c) => c.name === 'lameduck')!.volumeMounts).toBeUndefined();
    }
  });
});

describe('by default (the pod spec does not say)', () => {
  it('turns the automounted token off and gives the API token to the sidecar alone', async () => {
    const objects = await helm.template('charts/demo', {});
    for (const o of objects) await validateObject(o);
    const pod = podSpecOf(findObject(objects, 'Deployment'));
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.volumes!.map((v) => v.name)).toEqual(['lameduck-kube-api-access']);
    const mounts = [...(pod.initContainers ?? []), ...pod.containers].map((c) => [c.name, (c.volumeMounts ?? []).map((m) => m.mountPath)] as const);
    // Where lameduck reads its credentials (kube/kubeconfig.ts, DEFAULT_SERVICE_ACCOUNT_DIR).
    expect(mounts).toEqual([
      ['lameduck', [DEFAULT_SERVICE_ACCOUNT_DIR]],
      ['app', []],
    ]);
  });
});
