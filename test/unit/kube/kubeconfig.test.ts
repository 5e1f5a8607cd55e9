/**
 * The API credentials (proxy/src/kube/kubeconfig.ts): lameduck reads the service account and plain kubeconfigs
 * itself — token, token file, client certificate, basic auth; CA from data or a file relative to the kubeconfig —
 * re-reads token files on every request (kubelet rotates them), and hands a kubeconfig that needs an auth plugin
 * (`exec` here) to client-node's KubeConfig. Bad files fail with an error that names the file and what is missing.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import type {RequestOptions} from 'node:https';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {createKubeConfigLoader, type ApiCredentials} from '../../../proxy/src/kube/kubeconfig.js';

const root = mkdtempSync(join(tmpdir(), 'lameduck-kubeconfig-'));
afterAll(() => rmSync(root, {recursive: true, force: true}));
let n = 0;

/** A kubeconfig with one context, `cluster` and `user` given as YAML lines (indented by the helper). */
function kubeconfig(cluster: string[], user: string[], extra: {dir?: string; context?: string} = {}): string {
  const dir = extra.dir ?? join(root, `kc-${n++}`);
  mkdirSync(dir, {recursive: true});
  const file = join(dir, 'config');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: c1',
      '  cluster:',
      ...cluster.map((l) => `    ${l}`),
      'contexts:',
      '- name: ctx',
      '  context: {cluster: c1, user: u1, namespace: web}',
      `current-context: ${extra.context ?? 'ctx'}`,
      'users:',
      '- name: u1',
      '  user:',
      ...user.map((l) => `    ${l}`),
      '',
    ].join('\n'),
  );
  return file;
}

async function applied(creds: ApiCredentials): Promise<RequestOptions & {headers: Record<string, string>}> {
  const options: RequestOptions = {method: 'GET', headers: {Accept: 'application/json'}};
  await creds.apply(options);
  return options as RequestOptions & {headers: Record<string, string>};
}

describe('API credentials from a kubeconfig', () => {
  it('a token user: server, Bearer token, CA from certificate-authority-data; other headers kept', async () => {
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const file = kubeconfig(['server: https://10.0.0.1:6443', `certificate-authority-data: ${Buffer.from(ca).toString('base64')}`], ['token: abc.def']);
    const creds = await createKubeConfigLoader({kubeconfig: file}).load();
    expect(creds.server).toBe('https://10.0.0.1:6443');
    const o = await applied(creds);
    expect(o.headers).toEqual({Accept: 'application/json', Authorization: 'Bearer abc.def'});
    expect(String(o.ca)).toBe(ca);
    expect(o.rejectUnauthorized).toBeUndefined();
  });

  it('a YAML error names the file and the line, never the text around it (a token could be there)', async () => {
    const dir = join(root, `leak-${n++}`);
    mkdirSync(dir, {recursive: true});
    const file = join(dir, 'config');
    writeFileSync(file, 'users:\n- name: u\n  user:\n    token: s3cr3t-token-value\n  : [broken\n');
    const error = await createKubeConfigLoader({kubeconfig: file}).load().then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).toContain(file);
    expect(JSON.stringify({message: error?.message, cause: String((error as {cause?: unknown}).cause)})).not.toContain('s3cr3t');
  });

  it('a CA together with insecure-skip-tls-verify is refused, as kubectl does', async () => {
    const file = kubeconfig(['server: https://10.0.0.1', `certificate-authority-data: ${Buffer.from('CA').toString('base64')}`, 'insecure-skip-tls-verify: true'], ['token: t']);
    await expect(createKubeConfigLoader({kubeconfig: file}).load()).rejects.toThrow(/both a certificate authority and insecure-skip-tls-verify/);
  });

  it('client certificate and key, and the CA, as files relative to the kubeconfig; TLS options as written', async () => {
    const dir = join(root, `rel-${n++}`);
    mkdirSync(join(dir, 'pki'), {recursive: true});
    writeFileSync(join(dir, 'pki', 'ca.crt'), 'CA');
    writeFileSync(join(dir, 'pki', 'client.crt'), 'CERT');
    writeFileSync(join(dir, 'pki', 'client.key'), 'KEY');
    const file = kubeconfig(
      ['server: https://api.example:443', 'certificate-authority: pki/ca.crt', 'tls-server-name: kubernetes'],
      ['client-certificate: pki/client.crt', `client-key: ${join(dir, 'pki', 'client.key')}`],
      {dir},
    );
    const o = await applied(await createKubeConfigLoader({kubeconfig: file}).load());
    expect([String(o.ca), String(o.cert), String(o.key)]).toEqual(['CA', 'CERT', 'KEY']);
    expect(o.servername).toBe('kubernetes');
    expect(o.rejectUnauthorized).toBeUndefined();
    expect(o.headers.Authorization).toBeUndefined();
  });

  it('a tokenFile is read on every request, so a rotated token is used at once', async () => {
    const dir = join(root, `tf-${n++}`);
    mkdirSync(dir, {recursive: true});
    writeFileSync(join(dir, 'token'), 'first\n');
    const creds = await createKubeConfigLoader({kubeconfig: kubeconfig(['server: https://10.0.0.1'], ['tokenFile: token'], {dir})}).load();
    expect((await applied(creds)).headers.Authorization).toBe('Bearer first');
    writeFileSync(join(dir, 'token'), 'second\n');
    expect((await applied(creds)).headers.Authorization).toBe('Bearer second');
  });

  it('username and password: Basic auth; insecure-skip-tls-verify without a CA turns verification off', async () => {
    const creds = await createKubeConfigLoader({kubeconfig: kubeconfig(['server: https://127.0.0.1:8443', 'insecure-skip-tls-verify: true'], ['username: admin', 'password: s3cret'])}).load();
    const o = await applied(creds);
    expect(o.headers.Authorization).toBe(`Basic ${Buffer.from('admin:s3cret').toString('base64')}`);
    expect(o.rejectUnauthorized).toBe(false);
  });

  it('load() keeps the credentials; load({fresh: true}) re-reads the kubeconfig (after a 401)', async () => {
    const dir = join(root, `fresh-${n++}`);
    const file = kubeconfig(['server: https://10.0.0.1'], ['token: old'], {dir});
    const loader = createKubeConfigLoader({kubeconfig: file});
    const first = await loader.load();
    kubeconfig(['server: https://10.0.0.2'], ['token: new'], {dir});
    expect(await loader.load()).toBe(first);
    const fresh = await loader.load({fresh: true});
    expect(fresh.server).toBe('https://10.0.0.2');
    expect((await applied(fresh)).headers.Authorization).toBe('Bearer new');
  });

  it.each([
    ['no current-context', (f: string) => writeFileSync(f, 'apiVersion: v1\nkind: Config\nclusters: []\n'), /has no current-context/],
    ['a current-context that is not there', (f: string) => writeFileSync(f, 'current-context: gone\ncontexts: []\n'), /current-context "gone" is not among its contexts/],
    ['no server', (f: string) => writeFileSync(f, 'current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {}}]\n'), /cluster "c" has no server/],
    ['not YAML', (f: string) => writeFileSync(f, 'a: [unclosed\n'), /cannot parse KUBECONFIG .*: .* at line \d+/],
    ['a missing CA file', (f: string) => writeFileSync(f, 'current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: "https://h", certificate-authority: nope.crt}}]\n'), /cannot read certificate-authority nope\.crt/],
  ])('a kubeconfig with %s fails with an error naming the file and the problem', async (_name, write, message) => {
    const dir = join(root, `bad-${n++}`);
    mkdirSync(dir, {recursive: true});
    const file = join(dir, 'config');
    write(file);
    const loader = createKubeConfigLoader({kubeconfig: file});
    const error = await loader.load().then(() => undefined, (e: unknown) => e as Error & {code?: string});
    expect(error?.message).toMatch(message);
    if (!/certificate-authority/.test(String(message))) expect(error?.message).toContain(file);
    // whenReady never rejects (the start-up wait must not throw).
    await expect(loader.whenReady()).resolves.toBeUndefined();
  });

  it('a user with an exec plugin goes through client-node: its ExecCredential token is sent', async () => {
    const script = JSON.stringify(JSON.stringify({apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: {token: 'from-exec'}}));
    const file = kubeconfig(
      ['server: https://10.0.0.9:6443'],
      ['exec:', '  apiVersion: client.authentication.k8s.io/v1', `  command: ${JSON.stringify(process.execPath)}`, '  args: ["-e", ' + JSON.stringify(`process.stdout.write(${script})`) + ']', '  interactiveMode: Never'],
    );
    const creds = await createKubeConfigLoader({kubeconfig: file}).load();
    expect(creds.server).toBe('https://10.0.0.9:6443');
    expect((await applied(creds)).headers.Authorization).toBe('Bearer from-exec');
  }, 30_000);
});

describe('API credentials in the cluster (service account)', () => {
  it('server from KUBERNETES_SERVICE_HOST/PORT (IPv6 in brackets), CA and token from the directory, token re-read', async () => {
    const dir = join(root, `sa-${n++}`);
    mkdirSync(dir, {recursive: true});
    writeFileSync(join(dir, 'token'), 'sa-token-1');
    writeFileSync(join(dir, 'ca.crt'), 'CLUSTER-CA');
    const creds = await createKubeConfigLoader({serviceAccountDir: dir, env: {KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443'}}).load();
    expect(creds.server).toBe('https://[fd00::1]:443');
    const o = await applied(creds);
    expect(String(o.ca)).toBe('CLUSTER-CA');
    expect(o.headers.Authorization).toBe('Bearer sa-token-1');
    writeFileSync(join(dir, 'token'), 'sa-token-2');
    expect((await applied(creds)).headers.Authorization).toBe('Bearer sa-token-2');
  });

  it('without the variables: the Service DNS name; without a token: an error naming the path', async () => {
    const dir = join(root, `sa-${n++}`);
    mkdirSync(dir, {recursive: true});
    writeFileSync(join(dir, 'token'), 't');
    expect((await createKubeConfigLoader({serviceAccountDir: dir, env: {}}).load()).server).toBe('https://kubernetes.default.svc');
    const empty = join(root, `sa-empty-${n++}`);
    mkdirSync(empty);
    await expect(createKubeConfigLoader({serviceAccountDir: empty, env: {}}).load()).rejects.toThrow(`no KUBECONFIG and no service-account token at ${join(empty, 'token')}`);
  });
});
