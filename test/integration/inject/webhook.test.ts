/**
 * `lameduck webhook` as the API server calls it: AdmissionReview v1 over real HTTPS (a CA the client verifies, port 0
 * on loopback). Pods that opted in get a JSONPatch that, applied, yields the engine's injected pod; others get none;
 * a bad body is a 400 with a message, and the server keeps serving; a renewed certificate is picked up.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {writeFile} from 'node:fs/promises';
import {request} from 'node:https';
import {join} from 'node:path';
import {createServingCerts, type ServingCerts} from '../../../sim/kube/certs.js';
import type {WebhookServer} from '../../../proxy/src/inject/webhook-server.js';
import {LAMEDUCK_VERSION} from '../../../proxy/src/inject/version.js';
import {validateObject, type KubeObject, type PodSpec} from '../../support/helm.js';
import {startTestWebhook} from '../../support/webhook-fixture.js';

let dir: string;
let certs: ServingCerts;
let server: WebhookServer;
let close: () => Promise<void>;
const logs: {level: string; message: string}[] = [];

beforeAll(async () => {
  ({server, certs, dir, close} = await startTestWebhook((level, message) => logs.push({level, message})));
}, 60_000);

afterAll(async () => {
  await close?.();
});

function post(path: string, body: string, ca = certs.caPem): Promise<{status: number; json: any}> {
  return new Promise((resolve, reject) => {
    const req = request(
      {host: '127.0.0.1', port: server.address().port, path, method: 'POST', ca, agent: false, servername: 'localhost', headers: {'content-type': 'application/json'}, timeout: 10_000},
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString('utf8'))}));
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function review(object: object, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {uid: 'uid-1', kind: {group: '', version: 'v1', kind: 'Pod'}, resource: {group: '', version: 'v1', resource: 'pods'}, namespace: 'shop', operation: 'CREATE', object, ...overrides},
  });
}

/** RFC 6902 add/replace/remove on a plain object, as the API server applies the webhook's patch. */
function applyPatch(doc: any, ops: {op: string; path: string; value?: unknown}[]): any {
  const out = structuredClone(doc);
  for (const op of ops) {
    const keys = op.path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let parent = out;
    for (const k of keys) parent = parent[Array.isArray(parent) ? Number(k) : k];
    if (op.op === 'remove') Array.isArray(parent) ? parent.splice(Number(last), 1) : delete parent[last];
    else if (op.op === 'add' && Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
    else if (op.op === 'add' || op.op === 'replace') parent[last] = op.value;
    else throw new Error(`unexpected op ${op.op}`);
  }
  return out;
}

function pod(annotations: Record<string, string> = {}, extra: object = {}): any {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {generateName: 'web-7d9f-', namespace: 'shop', labels: {app: 'web'}, annotations, ownerReferences: [{apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'u', controller: true}]},
    spec: {containers: [{name: 'app', image: 'web:1', ports: [{name: 'http', containerPort: 3000}], readinessProbe: {httpGet: {path: '/ready', port: 'http'}}}], ...extra},
  };
}

describe('AdmissionReview answers', () => {
  let injected: any;

  it('a Pod from a Deployment in an opted-in namespace: a JSONPatch that adds the sidecar, valid for the API', async () => {
    const input = pod();
    const r = await post('/inject', review(input));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: {uid: 'uid-1', allowed: true, patchType: 'JSONPatch'}});
    const ops = JSON.parse(Buffer.from(r.json.response.patch, 'base64').toString('utf8'));
    injected = applyPatch(input, ops);
    const spec = injected.spec as PodSpec;
    expect(spec.initContainers?.map((c) => c.name)).toEqual(['lameduck']);
    expect(spec.containers[0]!.lifecycle?.preStop?.httpGet).toEqual({path: '/prestop', port: 9901, scheme: 'HTTP'});
    expect(spec.containers[0]!.readinessProbe?.httpGet).toEqual({path: '/ready', port: 3000});
    expect(injected.metadata.annotations['lameduck.io/injected']).toBe(LAMEDUCK_VERSION);
    await validateObject({...injected, metadata: {...injected.metadata, name: 'web-7d9f-abcde'}} as KubeObject);
    // The numeric targetPort case, which the webhook cannot see: a warning that names the pod, the port and the fix.
    expect(r.json.response.warnings).toEqual([expect.stringMatching(/Pod shop\/web-7d9f-\* of ReplicaSet web-7d9f: .*targetPort is the number 3000 reaches the app directly.*targetPort: http/)]);
  });

  it('an already-injected Pod: allowed, no patch (reinvocation changes nothing)', async () => {
    const r = await post('/inject', review(injected));
    expect(r.json.response).toEqual({uid: 'uid-1', allowed: true});
  });

  it('a bare Pod and a Job\'s Pod that opted in by annotation get the sidecar on the opt-in path', async () => {
    const bare = {apiVersion: 'v1', kind: 'Pod', metadata: {name: 'debug', annotations: {'lameduck.io/inject': 'true', 'lameduck.io/mode': 'classic'}}, spec: {containers: [{name: 'app', image: 'a', ports: [{containerPort: 8080}]}]}};
    const r1 = await post('/inject-opted-in', review(bare, {name: 'debug'}));
    const p1 = applyPatch(bare, JSON.parse(Buffer.from(r1.json.response.patch, 'base64').toString()));
    expect(p1.spec.containers.map((c: {name: string}) => c.name)).toEqual(['app', 'lameduck']);
    expect(p1.spec.containers[1].ports[0]).toEqual({name: 'traffic', containerPort: 8081, protocol: 'TCP'});
    const job = {apiVersion: 'v1', kind: 'Pod', metadata: {generateName: 'batch-', labels: {'lameduck.io/inject': 'true'}, ownerReferences: [{kind: 'Job', name: 'batch', apiVersion: 'batch/v1', uid: 'j'}]}, spec: {restartPolicy: 'Never', containers: [{name: 'app', image: 'a', ports: [{containerPort: 3000}]}]}};
    const r2 = await post('/inject-opted-in', review(job));
    const p2 = applyPatch(job, JSON.parse(Buffer.from(r2.json.response.patch, 'base64').toString()));
    expect(p2.spec.initContainers[0].restartPolicy).toBe('Always');
  });

  it('a Pod in a namespace without the label (the opt-in path) that did not opt in: no patch', async () => {
    const r = await post('/inject-opted-in', review(pod()));
    expect(r.json.response).toEqual({uid: 'uid-1', allowed: true});
  });

  it('a Pod that opted out in an opted-in namespace: no patch', async () => {
    const r = await post('/inject', review(pod({'lameduck.io/inject': 'false'})));
    expect(r.json.response).toEqual({uid: 'uid-1', allowed: true});
  });

  it('a Pod the engine cannot protect is denied with a message naming it and what to do', async () => {
    const r = await post('/inject', review(pod({}, {}), {object: {...pod(), spec: {containers: [{name: 'app', image: 'a', lifecycle: {preStop: {exec: {command: ['sleep', '5']}}}, ports: [{containerPort: 3000}]}]}}}));
    expect(r.json.response.allowed).toBe(false);
    expect(r.json.response.status.code).toBe(403);
    expect(r.json.response.status.message).toMatch(/^lameduck: Pod shop\/web-7d9f-\* of ReplicaSet web-7d9f: container "app" already has a lifecycle.preStop hook.*lameduck.io\/app-prestop/);
  });

  it('an UPDATE, another kind: allowed untouched', async () => {
    expect((await post('/inject', review(pod(), {operation: 'UPDATE'}))).json.response).toEqual({uid: 'uid-1', allowed: true});
    expect((await post('/inject', review({kind: 'Service', metadata: {name: 's'}, spec: {}}, {kind: {group: '', version: 'v1', kind: 'Service'}}))).json.response).toEqual({uid: 'uid-1', allowed: true});
  });

  it.each([
    ['not JSON', '{"apiVersion": ', /not JSON/],
    ['not an AdmissionReview', JSON.stringify({kind: 'Pod'}), /expected kind AdmissionReview/],
    ['no request uid', JSON.stringify({apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {}}), /no request.uid/],
    ['a JSON string', '"hello"', /not a JSON object/],
  ])('a malformed body (%s) is a 400 with a message, and the server keeps serving', async (_name, body, message) => {
    const r = await post('/inject', body);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(message);
    expect((await post('/inject', review(pod({'lameduck.io/inject': 'false'})))).status).toBe(200);
  });

  it('a body over the limit is a 413, and the server keeps serving', async () => {
    const r = await post('/inject', review(pod({'x': 'y'.repeat(9 * 1024 * 1024)})));
    expect(r.status).toBe(413);
    expect((await post('/inject', review(pod({'lameduck.io/inject': 'false'})))).status).toBe(200);
  });

  it('an unknown path is a 404', async () => {
    expect((await post('/mutate', review(pod()))).status).toBe(404);
  });
});

describe('certificates', () => {
  it('a renewed certificate in the files is served after a reload; the old CA no longer verifies', async () => {
    const renewed = await createServingCerts();
    await writeFile(join(dir, 'tls.key'), renewed.keyPem);
    await writeFile(join(dir, 'tls.crt'), renewed.certPem);
    expect(await server.reload()).toBe(true);
    expect((await post('/inject', review(pod({'lameduck.io/inject': 'false'})), renewed.caPem)).status).toBe(200);
    await expect(post('/inject', review(pod()), certs.caPem)).rejects.toThrow();
    expect(await server.reload()).toBe(false);
    expect(logs.some((l) => l.message === 'certificate reloaded')).toBe(true);
  }, 60_000);
});
