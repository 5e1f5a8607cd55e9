/**
 * Who can drain the pod, and who reaches its admin port (docs/reliability.md, "Threat model"): the chart always
 * configures the /prestop token (a Secret it generates, read by the sidecar and sent by the app's preStop hook), and
 * can render a NetworkPolicy that leaves the traffic port open and the admin port to Prometheus (kubelet's probes and
 * hooks come from the node). Every object is validated against the Kubernetes schemas.
 */
import {describe, expect, it} from '@jest/globals';
import {findObject, podSpecOf, validateObject, type KubeObject} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();

function decoded(secret: KubeObject, key: string): string {
  return Buffer.from((secret.data as Record<string, string>)[key]!, 'base64').toString('utf8');
}

describe('the /prestop token', () => {
  it('is generated into a Secret the sidecar reads, and the same value rides on the app preStop hook', async () => {
    const objects = await helm.template('charts/demo', {lameduck: {prestopToken: {secretKey: 'prestop'}}}, {release: 'shop', namespace: 'web'});
    for (const o of objects) await validateObject(o);
    const secret = findObject(objects, 'Secret');
    expect(secret.metadata).toMatchObject({name: 'shop-demo-prestop-token', namespace: 'web'});
    expect(secret.type).toBe('Opaque');
    expect(Object.keys(secret.data as object)).toEqual(['prestop']);
    const token = decoded(secret, 'prestop');
    expect(token).toMatch(/^[A-Za-z0-9]{40}$/);

    const pod = podSpecOf(findObject(objects, 'Deployment'));
    const sidecar = pod.initContainers!.find((c) => c.name === 'lameduck')!;
    expect(sidecar.env!.find((e) => e.name === 'LAMEDUCK_PRESTOP_TOKEN')!.valueFrom).toEqual({
      secretKeyRef: {name: 'shop-demo-prestop-token', key: 'prestop'},
    });
    const hook = pod.containers.find((c) => c.name === 'app')!.lifecycle!.preStop!.httpGet as {httpHeaders?: {name: string; value: string}[]};
    expect(hook.httpHeaders).toEqual([{name: 'X-Lameduck-Token', value: token}]);
  });

  it('differs between installs (random, not derived from anything a caller could know)', async () => {
    const [a, b] = await Promise.all([helm.template('charts/demo', {}), helm.template('charts/demo', {})]);
    expect(decoded(findObject(a, 'Secret'), 'token')).not.toBe(decoded(findObject(b, 'Secret'), 'token'));
  });

  it('from an existing Secret: renders no Secret of its own, and stops with a message when it cannot read it', async () => {
    const err = await helm.template('charts/demo', {lameduck: {prestopToken: {secretName: 'ops-token'}}}).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toMatchObject({code: 'HELM_FAILED'});
    expect(err!.message).toContain('prestopToken.secretName "ops-token": no Secret with key "token" in namespace default');
    expect(err!.message).toContain('--dry-run=server');
  });
});

describe('the NetworkPolicy', () => {
  it('is not rendered by default', async () => {
    const objects = await helm.template('charts/demo', {});
    expect(objects.filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
  });

  it("selects the app's pods, leaves the traffic port open and the admin port to Prometheus and adminFrom only", async () => {
    const objects = await helm.template('charts/demo', {lameduck: {networkPolicy: {enabled: true, adminFrom: [{ipBlock: {cidr: '10.0.0.0/8'}}]}}});
    for (const o of objects) await validateObject(o);
    const policy = findObject(objects, 'NetworkPolicy');
    const deployment = findObject(objects, 'Deployment');
    const spec = policy.spec as {podSelector: {matchLabels: Record<string, string>}; policyTypes: string[]; ingress: unknown[]};
    expect(spec.podSelector.matchLabels).toEqual((deployment.spec as {selector: {matchLabels: Record<string, string>}}).selector.matchLabels);
    expect(spec.policyTypes).toEqual(['Ingress']);
    expect(spec.ingress).toEqual([
      {ports: [{port: 8080, protocol: 'TCP'}]},
      {
        ports: [{port: 9901, protocol: 'TCP'}],
        from: [
          {
            namespaceSelector: {matchLabels: {'kubernetes.io/metadata.name': 'monitoring'}},
            podSelector: {matchLabels: {'app.kubernetes.io/name': 'prometheus'}},
          },
          {ipBlock: {cidr: '10.0.0.0/8'}},
        ],
      },
    ]);
  });

  it('admits no one on the admin port but the node when no Prometheus and no adminFrom are given', async () => {
    const objects = await helm.template('charts/demo', {
      lameduck: {
        ports: {traffic: 18080, admin: 19901},
        networkPolicy: {enabled: true, prometheus: {namespaceSelector: null, podSelector: null}, trafficFrom: [{podSelector: {matchLabels: {role: 'frontend'}}}], extraPorts: [3001]},
      },
    });
    for (const o of objects) await validateObject(o);
    const spec = findObject(objects, 'NetworkPolicy').spec as {ingress: {ports: {port: number}[]; from?: unknown[]}[]};
    expect(spec.ingress).toEqual([
      {ports: [{port: 18080, protocol: 'TCP'}], from: [{podSelector: {matchLabels: {role: 'frontend'}}}]},
      {ports: [{port: 3001, protocol: 'TCP'}]},
    ]);
    expect(spec.ingress.some((rule) => rule.ports.some((p) => p.port === 19901))).toBe(false);
  });
});
