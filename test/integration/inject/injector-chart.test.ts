/**
 * charts/lameduck-injector rendered by a real helm: a webhook that is always there (2 replicas, a
 * PodDisruptionBudget), that never blocks pod creation when down (failurePolicy Ignore), that is called again after
 * other webhooks (reinvocationPolicy IfNeeded), selected by namespace label or pod label; a certificate that needs
 * nothing from the internet and a caBundle that verifies it — checked by running the real `lameduck webhook` with the
 * rendered arguments and certificate and calling it as the API server would.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {spawn, type ChildProcess} from 'node:child_process';
import {X509Certificate} from 'node:crypto';
import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import {request} from 'node:https';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {LAMEDUCK_MAIN} from '../../../sim/processes.js';
import {WEBHOOK_PATHS} from '../../../proxy/src/inject/webhook-server.js';
import {findObject, podSpecOf, validateObject, type KubeObject} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();
const CHART = 'charts/lameduck-injector';

interface Webhook {
  name: string;
  failurePolicy: string;
  reinvocationPolicy: string;
  namespaceSelector: {matchLabels?: Record<string, string>; matchExpressions?: {key: string; operator: string; values: string[]}[]};
  objectSelector: {matchLabels?: Record<string, string>; matchExpressions?: {key: string; operator: string; values: string[]}[]};
  clientConfig: {service: {name: string; namespace: string; path: string; port: number}; caBundle?: string};
  rules: {operations: string[]; resources: string[]}[];
}

const render = (values?: object) => helm.template(CHART, values, {release: 'inj', namespace: 'lameduck'});
const webhooks = (objects: KubeObject[]) => findObject(objects, 'MutatingWebhookConfiguration').webhooks as Webhook[];

describe('charts/lameduck-injector', () => {
  it('passes helm lint --strict', async () => {
    const out = await helm.lint(CHART);
    expect(out).toContain('0 chart(s) failed');
    expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('every object is valid for the Kubernetes API; the webhook has no API access at all', async () => {
    const objects = await render({sidecarRbac: [{namespace: 'shop', serviceAccounts: ['default', 'web']}]});
    for (const o of objects) await validateObject(o);
    expect(objects.filter((o) => /Role/.test(o.kind) && o.metadata.namespace === 'lameduck')).toEqual([]);
    expect(objects.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).toBe(false);
    const spec = podSpecOf(findObject(objects, 'Deployment'));
    expect(spec.automountServiceAccountToken).toBe(false);
  });

  it('2 replicas and a PodDisruptionBudget that keeps one', async () => {
    const objects = await render();
    const deployment = findObject(objects, 'Deployment');
    expect((deployment.spec as {replicas: number}).replicas).toBe(2);
    const pdb = findObject(objects, 'PodDisruptionBudget').spec as {minAvailable: number; selector: {matchLabels: object}};
    expect(pdb.minAvailable).toBe(1);
    expect(pdb.selector.matchLabels).toEqual((deployment.spec as {selector: {matchLabels: object}}).selector.matchLabels);
  });

  it('two webhooks on pod CREATE: opted-in namespaces (pods opt out), and opted-in pods elsewhere', async () => {
    const [ns, pod] = webhooks(await render());
    for (const w of [ns!, pod!]) {
      expect(w).toMatchObject({failurePolicy: 'Ignore', reinvocationPolicy: 'IfNeeded'});
      expect(w.rules).toEqual([expect.objectContaining({operations: ['CREATE'], resources: ['pods']})]);
      expect(Object.keys(WEBHOOK_PATHS)).toContain(w.clientConfig.service.path);
    }
    expect(ns!.namespaceSelector.matchLabels).toEqual({'lameduck.io/inject': 'enabled'});
    expect(ns!.objectSelector.matchExpressions).toEqual([{key: 'lameduck.io/inject', operator: 'NotIn', values: ['false', 'disabled']}]);
    expect(WEBHOOK_PATHS[ns!.clientConfig.service.path]).toBe('namespace');
    expect(pod!.objectSelector.matchLabels).toEqual({'lameduck.io/inject': 'true'});
    expect(pod!.namespaceSelector.matchExpressions).toContainEqual({key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'lameduck']});
    expect(WEBHOOK_PATHS[pod!.clientConfig.service.path]).toBe('pod-opt-in');
    expect(webhooks(await render({failurePolicy: 'Fail'}))[0]!.failurePolicy).toBe('Fail');
  });

  it('the sidecars\' Role in each listed namespace has the library chart\'s rules', async () => {
    const objects = await render({sidecarRbac: [{namespace: 'shop', serviceAccounts: ['default', 'web']}, {namespace: 'billing'}]});
    const library = findObject(await helm.template('charts/demo'), 'Role');
    const roles = objects.filter((o) => o.kind === 'Role');
    expect(roles.map((r) => r.metadata.namespace)).toEqual(['shop', 'billing']);
    for (const r of roles) expect(r.rules).toEqual(library.rules);
    const bindings = objects.filter((o) => o.kind === 'RoleBinding');
    expect(bindings[0]!.subjects).toEqual([{kind: 'ServiceAccount', name: 'default', namespace: 'shop'}, {kind: 'ServiceAccount', name: 'web', namespace: 'shop'}]);
    expect(bindings[1]!.subjects).toEqual([{kind: 'ServiceAccount', name: 'default', namespace: 'billing'}]);
  });

  it('cert-manager: a Certificate for the Service names, the caBundle injected by cert-manager', async () => {
    const objects = await render({tls: {certManager: {enabled: true}}});
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
    const certificate = findObject(objects, 'Certificate').spec as {secretName: string; dnsNames: string[]; issuerRef: {name: string; kind: string}};
    expect(certificate.dnsNames).toContain('inj-lameduck-injector.lameduck.svc');
    expect(certificate.issuerRef).toEqual({name: 'inj-lameduck-injector-selfsigned', kind: 'Issuer'});
    expect((findObject(objects, 'Issuer').spec as object)).toEqual({selfSigned: {}});
    const volume = podSpecOf(findObject(objects, 'Deployment')).volumes!.find((v) => v.name === "tls") as unknown as {secret: {secretName: string}};
    expect(volume.secret.secretName).toBe(certificate.secretName);
    const config = findObject(objects, 'MutatingWebhookConfiguration');
    expect(config.metadata.annotations).toEqual({'cert-manager.io/inject-ca-from': 'lameduck/inj-lameduck-injector'});
    for (const w of webhooks(objects)) expect(w.clientConfig.caBundle).toBeUndefined();
  });

  describe('the generated certificate, served by the real lameduck webhook with the rendered arguments', () => {
    let child: ChildProcess | undefined;
    let dir: string | undefined;
    afterAll(async () => {
      child?.kill('SIGKILL');
      if (dir) await rm(dir, {recursive: true, force: true});
    });

    it('the caBundle verifies the served certificate for <service>.<namespace>.svc, and the webhook injects with the chart\'s settings', async () => {
      const objects = await render({sidecar: {image: 'registry.example.com/lameduck:0.1.0', mode: 'classic', environment: 'ingress'}});
      const secret = findObject(objects, 'Secret').data as Record<string, string>;
      const pem = (k: string) => Buffer.from(secret[k]!, 'base64').toString('utf8');
      const [ns] = webhooks(objects);
      const caBundle = Buffer.from(ns!.clientConfig.caBundle!, 'base64').toString('utf8');
      expect(caBundle).toBe(pem('ca.crt'));
      const cert = new X509Certificate(pem('tls.crt'));
      expect(cert.verify(new X509Certificate(caBundle).publicKey)).toBe(true);
      const host = `${ns!.clientConfig.service.name}.${ns!.clientConfig.service.namespace}.svc`;
      expect(cert.checkHost(host)).toBe(host);

      dir = await mkdtemp(join(tmpdir(), 'lameduck-injector-'));
      await writeFile(join(dir, 'tls.crt'), pem('tls.crt'));
      await writeFile(join(dir, 'tls.key'), pem('tls.key'));
      const container = podSpecOf(findObject(objects, 'Deployment')).containers[0]! as unknown as {args: string[]};
      const args = container.args.map((a) => a.replace('/tls/', `${dir}/`).replace(/^--listen=.*/, '--listen=127.0.0.1:0'));
      child = spawn(process.execPath, [LAMEDUCK_MAIN, ...args], {stdio: ['ignore', 'pipe', 'pipe']});
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('lameduck webhook did not log "listening" within 30 s')), 30_000);
        let out = '';
        child!.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const lines = out.split('\n').slice(0, -1).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as {msg: string; port?: number});
          const listening = lines.find((l) => l.msg === 'listening');
          if (listening) {
            clearTimeout(timer);
            resolve(listening.port!);
          }
        });
        child!.on('exit', (code) => reject(new Error(`lameduck webhook exited with ${code}`)));
      });
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {uid: 'u1', kind: {group: '', version: 'v1', kind: 'Pod'}, operation: 'CREATE', namespace: 'shop', object: {metadata: {name: 'web-0'}, spec: {containers: [{name: 'app', image: 'a', ports: [{name: 'http', containerPort: 3000}]}]}}},
      };
      const answer = await new Promise<any>((resolve, reject) => {
        const req = request({host: '127.0.0.1', port, path: ns!.clientConfig.service.path, method: 'POST', ca: caBundle, servername: host, agent: false, timeout: 10_000}, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(JSON.parse(body)));
        });
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
        req.end(JSON.stringify(review));
      });
      const ops = JSON.parse(Buffer.from(answer.response.patch, 'base64').toString()) as {path: string; value: any}[];
      const added = ops.find((o) => o.path === '/spec/containers/1')!.value;
      expect(added.image).toBe('registry.example.com/lameduck:0.1.0');
      expect(added.env).toContainEqual({name: 'LAMEDUCK_SETTLE', value: '5s'});
    }, 90_000);
  });
});
