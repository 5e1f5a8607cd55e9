// Client credentials for the simulated cluster in the two forms a pod meets: a kubeconfig file (KUBECONFIG, kubectl)
// and the in-cluster service-account directory (token, ca.crt, namespace) that kubelet projects into every pod.
import {writeFileSync, mkdirSync, renameSync} from 'node:fs';
import {join} from 'node:path';

export interface KubeconfigParams {
  server: string;
  token: string;
  caPem?: string;
  namespace?: string;
  user?: string;
}

/** A kubeconfig with one cluster, user and context, all named `lameduck-sim`. YAML, as kubectl writes it. */
export function renderKubeconfig(p: KubeconfigParams): string {
  const q = (s: string): string => JSON.stringify(s); // a JSON string is a valid YAML scalar
  const cluster = p.caPem
    ? `    certificate-authority-data: ${Buffer.from(p.caPem).toString('base64')}\n    server: ${q(p.server)}\n`
    : `    server: ${q(p.server)}\n`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    cluster.trimEnd(),
    '  name: lameduck-sim',
    'contexts:',
    '- context:',
    '    cluster: lameduck-sim',
    `    namespace: ${q(p.namespace ?? 'default')}`,
    `    user: ${q(p.user ?? 'lameduck-sim')}`,
    '  name: lameduck-sim',
    'current-context: lameduck-sim',
    'preferences: {}',
    'users:',
    `- name: ${q(p.user ?? 'lameduck-sim')}`,
    '  user:',
    `    token: ${q(p.token)}`,
    '',
  ].join('\n');
}

/** Writes atomically (rename), so a reader polling the file never sees half of it. */
export function writeFileAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, content, {mode: 0o600});
  renameSync(tmp, path);
}

export interface ServiceAccountFiles {
  dir: string;
  tokenPath: string;
  caPath: string;
  namespacePath: string;
}

/** The files of /var/run/secrets/kubernetes.io/serviceaccount, in `dir`. */
export function writeServiceAccountFiles(dir: string, p: {token: string; caPem?: string; namespace?: string}): ServiceAccountFiles {
  mkdirSync(dir, {recursive: true});
  const files: ServiceAccountFiles = {
    dir,
    tokenPath: join(dir, 'token'),
    caPath: join(dir, 'ca.crt'),
    namespacePath: join(dir, 'namespace'),
  };
  writeFileAtomic(files.tokenPath, p.token);
  writeFileAtomic(files.caPath, p.caPem ?? '');
  writeFileAtomic(files.namespacePath, p.namespace ?? 'default');
  return files;
}
