/**
 * The simulation's mutating admission, against the real `lameduck webhook`: a pod created through the API server in
 * an opted-in namespace is stored with the sidecar (patched before defaulting and storage), others are not; the
 * webhook's certificate is verified against the caBundle; failurePolicy, timeoutSeconds, denials and reinvocation
 * behave as kube-apiserver's.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {createServer as createHttpsServer, request, type Server} from 'node:https';
import type {AddressInfo} from 'node:net';
import {startApiServer, type ApiServer, type MutatingWebhookConfiguration} from '../../../sim/kube/apiserver.js';
import {createServingCerts, type ServingCerts} from '../../../sim/kube/certs.js';
import type {WebhookServer} from '../../../proxy/src/inject/webhook-server.js';
import {LAMEDUCK_VERSION} from '../../../proxy/src/inject/version.js';
import {startTestWebhook} from '../../support/webhook-fixture.js';

let api: ApiServer;
let certs: ServingCerts;
let webhook: WebhookServer;
let closeWebhook: () => Promise<void>;
const silent = () => undefined;

beforeAll(async () => {
  api = await startApiServer();
  ({server: webhook, certs, close: closeWebhook} = await startTestWebhook(silent));
  await send('POST', '/api/v1/namespaces', {metadata: {name: 'shop', labels: {'lameduck.io/inject': 'enabled'}}});
  await send('POST', '/api/v1/namespaces', {metadata: {name: 'plain'}});
}, 60_000);

afterAll(async () => {
  await closeWebhook?.();
  await api?.shutdown();
});

function send(method: string, path: string, body?: object): Promise<{status: number; json: any; warning?: string}> {
  const url = new URL(path, api.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {host: url.hostname, port: url.port, path: url.pathname, method, ca: api.caPem, agent: false, timeout: 30_000, headers: {authorization: `Bearer ${api.token}`, 'content-type': 'application/json'}},
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({status: res.statusCode!, json: JSON.parse(text), warning: res.headers.warning as string | undefined}));
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

function config(name: string, overrides: Record<string, unknown> = {}, url = `https://localhost:${webhook.address().port}/inject`, caPem = certs.caPem): MutatingWebhookConfiguration {
  return {
    metadata: {name},
    webhooks: [
      {
        name: `${name}.lameduck.io`,
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        reinvocationPolicy: 'IfNeeded',
        timeoutSeconds: 5,
        namespaceSelector: {matchLabels: {'lameduck.io/inject': 'enabled'}},
        objectSelector: {matchExpressions: [{key: 'lameduck.io/inject', operator: 'NotIn', values: ['false']}]},
        rules: [{operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced'}],
        clientConfig: {url, caBundle: Buffer.from(caPem).toString('base64')},
        ...overrides,
      },
    ],
  };
}

let seq = 0;
function pod(labels: Record<string, string> = {}): object {
  return {metadata: {name: `web-${++seq}`, labels}, spec: {containers: [{name: 'app', image: 'web:1', ports: [{name: 'http', containerPort: 3000}]}]}};
}

describe('mutating admission in the simulated API server', () => {
  afterAll(() => api.admission.unregister('lameduck'));

  it('a pod created in an opted-in namespace is stored with the sidecar, defaulted like any container', async () => {
    api.admission.register(config('lameduck'));
    const r = await send('POST', '/api/v1/namespaces/shop/pods', pod());
    expect(r.status).toBe(201);
    const stored = await send('GET', `/api/v1/namespaces/shop/pods/${r.json.metadata.name}`);
    const sidecar = stored.json.spec.initContainers?.[0];
    expect(sidecar?.name).toBe('lameduck');
    // The patch came before defaulting: the injected container got the server's defaults too.
    expect(sidecar?.terminationMessagePath).toBe('/dev/termination-log');
    expect(stored.json.metadata.annotations['lameduck.io/injected']).toBe(LAMEDUCK_VERSION);
    expect(stored.json.spec.containers[0].lifecycle.preStop.httpGet.path).toBe('/prestop');
    expect(r.warning).toContain('targetPort is the number 3000');
  });

  it('a namespace without the label, a pod that opts out: stored as sent', async () => {
    const plain = await send('POST', '/api/v1/namespaces/plain/pods', pod());
    expect(plain.status).toBe(201);
    expect(plain.json.spec.initContainers).toBeUndefined();
    const out = await send('POST', '/api/v1/namespaces/shop/pods', pod({'lameduck.io/inject': 'false'}));
    expect(out.json.spec.initContainers).toBeUndefined();
  });

  it('a denial from the webhook fails the create with its message', async () => {
    const bad = {metadata: {name: 'no-port'}, spec: {containers: [{name: 'app', image: 'a'}]}};
    const r = await send('POST', '/api/v1/namespaces/shop/pods', bad);
    expect(r.status).toBe(403);
    expect(r.json.message).toMatch(/admission webhook "lameduck.lameduck.io" denied the request: lameduck: Pod shop\/no-port: .*declares no TCP port/);
    expect((await send('GET', '/api/v1/namespaces/shop/pods/no-port')).status).toBe(404);
  });
});

describe('failures follow failurePolicy', () => {
  let silentServer: Server;
  beforeAll(async () => {
    // Accepts TLS and the request, never answers: a webhook that hangs.
    silentServer = createHttpsServer({key: certs.keyPem, cert: certs.certPem}, () => undefined);
    await new Promise<void>((resolve) => silentServer.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    api.admission.unregister('broken');
    silentServer.closeAllConnections();
    await new Promise<void>((resolve) => silentServer.close(() => resolve()));
  });

  it('a certificate the caBundle does not verify: Fail rejects the create, Ignore stores the pod unchanged', async () => {
    const other = await createServingCerts();
    api.admission.register(config('broken', {failurePolicy: 'Fail'}, undefined, other.caPem));
    const failed = await send('POST', '/api/v1/namespaces/shop/pods', pod());
    expect(failed.status).toBe(500);
    expect(failed.json.message).toMatch(/failed calling webhook "broken.lameduck.io".*certificate/);
    api.admission.register(config('broken', {failurePolicy: 'Ignore'}, undefined, other.caPem));
    const ignored = await send('POST', '/api/v1/namespaces/shop/pods', pod());
    expect(ignored.status).toBe(201);
    expect(ignored.json.spec.initContainers).toBeUndefined();
  });

  it('a webhook that does not answer within timeoutSeconds: Fail rejects, Ignore lets the pod through', async () => {
    const url = `https://localhost:${(silentServer.address() as AddressInfo).port}/inject`;
    api.admission.register(config('broken', {failurePolicy: 'Fail', timeoutSeconds: 1}, url));
    const failed = await send('POST', '/api/v1/namespaces/shop/pods', pod());
    expect(failed.status).toBe(500);
    expect(failed.json.message).toContain('timeout 1s');
    api.admission.register(config('broken', {failurePolicy: 'Ignore', timeoutSeconds: 1}, url));
    expect((await send('POST', '/api/v1/namespaces/shop/pods', pod())).status).toBe(201);
  });
});

describe('reinvocation', () => {
  let other: Server;
  beforeAll(async () => {
    // A second webhook, called after lameduck's (name order), that adds a label to every pod.
    other = createHttpsServer({key: certs.keyPem, cert: certs.certPem}, (req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const review = JSON.parse(text) as {request: {uid: string; object: {metadata: {labels?: object}}}};
        const patch = review.request.object.metadata.labels
          ? [{op: 'add', path: '/metadata/labels/team', value: 'payments'}]
          : [{op: 'add', path: '/metadata/labels', value: {team: 'payments'}}];
        res.writeHead(200, {'content-type': 'application/json'});
        res.end(JSON.stringify({apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: {uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64')}}));
      });
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    api.admission.unregister('lameduck');
    api.admission.unregister('zz-labels');
    other.closeAllConnections();
    await new Promise<void>((resolve) => other.close(() => resolve()));
  });

  it('lameduck (IfNeeded) is called again after a later webhook changed the pod, and its second answer changes nothing', async () => {
    api.admission.register(config('lameduck'));
    api.admission.register(config('zz-labels', {reinvocationPolicy: 'Never'}, `https://localhost:${(other.address() as AddressInfo).port}/`));
    const before = api.admission.calls('lameduck.lameduck.io');
    const r = await send('POST', '/api/v1/namespaces/shop/pods', pod());
    expect(r.status).toBe(201);
    expect(api.admission.calls('lameduck.lameduck.io') - before).toBe(2);
    expect(r.json.metadata.labels.team).toBe('payments');
    expect(r.json.spec.initContainers.map((c: {name: string}) => c.name)).toEqual(['lameduck']);
  });
});
