/**
 * Where lameduck's API credentials come from: `KUBECONFIG` if set, else the in-cluster service account (token and CA
 * under /var/run/secrets/kubernetes.io/serviceaccount, server from KUBERNETES_SERVICE_HOST/PORT).
 *
 * lameduck reads them itself for what a pod has — the service account — and for a kubeconfig whose user is a token,
 * a token file, a client certificate or a username and password. Only a kubeconfig that needs one of client-node's
 * auth plugins (`exec`, `auth-provider`, impersonation, a proxy) loads @kubernetes/client-node for its `KubeConfig`.
 * Why not always client-node: its import is ~77 MB of RSS and ~0.5 s of CPU (it loads every generated API model),
 * which doubled the sidecar's memory in every pod (docs/performance.md "Memory in a pod": ≤ 60 MB idle).
 *
 * Token files are read on every request: kubelet rotates projected service-account tokens on disk
 * (https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken), and API requests are few (a
 * handful per drain). After a 401 the client asks for `load({fresh: true})`, which re-reads the kubeconfig too (and,
 * for client-node's `KubeConfig`, rebuilds it: its `FileAuth` caches the token file for 60 s).
 */
import {access, readFile} from 'node:fs/promises';
import type {RequestOptions} from 'node:https';
import {isIPv6} from 'node:net';
import {dirname, isAbsolute, join} from 'node:path';
import type {KubeConfig} from '@kubernetes/client-node';
import {KubeApiError} from './kube-api-error.js';

export const DEFAULT_SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** What a request to the API server needs: where it is, and what to add to each request. */
export interface ApiCredentials {
  /** The API server's base URL (`https://10.96.0.1:443`). */
  readonly server: string;
  /** Adds the CA, a client certificate, `Authorization` (token files re-read) to the request options. */
  apply(options: RequestOptions): Promise<void>;
}

export interface KubeConfigLoaderOptions {
  /** Path from KUBECONFIG; wins over the service account. */
  readonly kubeconfig?: string;
  /** Directory with `token` and `ca.crt` (injectable for tests). */
  readonly serviceAccountDir?: string;
  /** KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, as set by kubelet in every container. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface KubeConfigLoader {
  /** The current credentials; `fresh` rebuilds them (re-reading the kubeconfig). Throws KubeApiError. */
  load(options?: {fresh?: boolean}): Promise<ApiCredentials>;
  /** Builds the credentials in the background (importing client-node if they need it); failures surface on load. */
  preload(): void;
  /** Resolves once a build has settled (built or failed); starts one if needed. Never rejects. */
  whenReady(): Promise<void>;
}

type ClientNode = typeof import('@kubernetes/client-node');

/** The kubeconfig user fields lameduck applies itself; any other (exec, auth-provider, as, ...) goes to client-node. */
const OWN_USER_FIELDS = new Set(['token', 'tokenFile', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'username', 'password']);
/** Cluster fields lameduck applies itself (`extensions` carry nothing for a client); any other goes to client-node. */
const OWN_CLUSTER_FIELDS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions']);

type Named<K extends string> = {name?: unknown} & {[key in K]?: Record<string, unknown>};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function find<K extends string>(list: unknown, key: K, name: string): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  const entry = (list as Named<K>[]).find((e) => isRecord(e) && e.name === name);
  const value = entry?.[key];
  return isRecord(value) ? value : undefined;
}

function str(record: Record<string, unknown>, key: string): string | undefined {
  const v = record[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The current context's cluster and user, or the reason there is none (naming what is missing). */
export function currentClusterAndUser(doc: unknown, file: string): {cluster: Record<string, unknown>; user: Record<string, unknown>} {
  if (!isRecord(doc)) throw new KubeApiError(`KUBECONFIG ${file} is not a kubeconfig (no YAML mapping)`);
  const contextName = typeof doc['current-context'] === 'string' ? doc['current-context'] : undefined;
  if (!contextName) throw new KubeApiError(`KUBECONFIG ${file} has no current-context`);
  const context = find(doc.contexts, 'context', contextName);
  if (!context) throw new KubeApiError(`KUBECONFIG ${file}: current-context "${contextName}" is not among its contexts`);
  const clusterName = str(context, 'cluster');
  const cluster = clusterName === undefined ? undefined : find(doc.clusters, 'cluster', clusterName);
  if (!cluster) throw new KubeApiError(`KUBECONFIG ${file} has no current cluster (context "${contextName}" names cluster "${clusterName ?? ''}")`);
  if (!str(cluster, 'server')) throw new KubeApiError(`KUBECONFIG ${file}: cluster "${clusterName}" has no server`);
  const userName = str(context, 'user');
  const user = (userName === undefined ? undefined : find(doc.users, 'user', userName)) ?? {};
  return {cluster, user};
}

/** Whether lameduck can apply this cluster and user itself (else client-node's KubeConfig does). */
export function appliesItself(cluster: Record<string, unknown>, user: Record<string, unknown>): boolean {
  return Object.keys(user).every((k) => OWN_USER_FIELDS.has(k)) && Object.keys(cluster).every((k) => OWN_CLUSTER_FIELDS.has(k));
}

/** Bytes from `<field>-data` (base64) or from `<field>` (a file, relative to the kubeconfig's directory). */
async function material(record: Record<string, unknown>, field: string, base: string): Promise<Buffer | undefined> {
  const data = str(record, `${field}-data`);
  if (data !== undefined) return Buffer.from(data, 'base64');
  const path = str(record, field);
  if (path === undefined) return undefined;
  try {
    return await readFile(isAbsolute(path) ? path : join(base, path));
  } catch (cause) {
    throw new KubeApiError(`cannot read ${field} ${path}`, {cause});
  }
}

async function readToken(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (cause) {
    throw new KubeApiError(`cannot read the token file ${path}`, {cause});
  }
}

function withHeader(options: RequestOptions, name: string, value: string): void {
  options.headers = {...(options.headers as Record<string, string> | undefined), [name]: value};
}

/** Credentials from a kubeconfig lameduck applies itself: token, token file, client certificate, basic auth. */
async function ownCredentials(cluster: Record<string, unknown>, user: Record<string, unknown>, base: string): Promise<ApiCredentials> {
  const ca = await material(cluster, 'certificate-authority', base);
  const cert = await material(user, 'client-certificate', base);
  const key = await material(user, 'client-key', base);
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  // As kubectl: a CA together with skipping verification is a contradiction, not a choice to guess at.
  if (insecure && ca) throw new KubeApiError('kubeconfig cluster sets both a certificate authority and insecure-skip-tls-verify');
  const serverName = str(cluster, 'tls-server-name');
  const token = str(user, 'token');
  const tokenFileName = str(user, 'tokenFile');
  const tokenFile = tokenFileName === undefined || isAbsolute(tokenFileName) ? tokenFileName : join(base, tokenFileName);
  const username = str(user, 'username');
  const password = str(user, 'password');
  return {
    server: str(cluster, 'server')!,
    async apply(options) {
      if (ca) options.ca = ca;
      if (cert) options.cert = cert;
      if (key) options.key = key;
      if (insecure) options.rejectUnauthorized = false;
      if (serverName) options.servername = serverName;
      if (token !== undefined) withHeader(options, 'Authorization', `Bearer ${token}`);
      else if (tokenFile !== undefined) withHeader(options, 'Authorization', `Bearer ${await readToken(tokenFile)}`);
      else if (username !== undefined) withHeader(options, 'Authorization', `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`);
    },
  };
}

export function createKubeConfigLoader(options: KubeConfigLoaderOptions): KubeConfigLoader {
  let clientNode: Promise<ClientNode> | undefined;
  /** The credentials, built or being built; reset when a build fails so that the next load tries again. */
  let building: Promise<ApiCredentials> | undefined;
  const importClientNode = (): Promise<ClientNode> => (clientNode ??= import('@kubernetes/client-node'));

  /** A kubeconfig only client-node can apply (auth plugins, impersonation, proxies). */
  const viaClientNode = async (file: string): Promise<ApiCredentials> => {
    let mod: ClientNode;
    try {
      mod = await importClientNode();
    } catch (cause) {
      clientNode = undefined;
      throw new KubeApiError('cannot load @kubernetes/client-node', {cause});
    }
    const kc: KubeConfig = new mod.KubeConfig();
    try {
      kc.loadFromFile(file);
    } catch (cause) {
      throw new KubeApiError(`cannot read KUBECONFIG ${file}`, {cause});
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new KubeApiError(`KUBECONFIG ${file} has no current cluster`);
    return {server: cluster.server, apply: (o) => kc.applyToHTTPSOptions(o)};
  };

  const fromKubeconfig = async (file: string): Promise<ApiCredentials> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      throw new KubeApiError(`cannot read KUBECONFIG ${file}`, {cause});
    }
    let doc: unknown;
    try {
      doc = (await import('js-yaml')).load(text);
    } catch (err) {
      // Only the reason and the line: js-yaml's message quotes the surrounding lines, which may hold a token or a key.
      const e = err as {reason?: unknown; mark?: {line?: number}};
      const where = typeof e.mark?.line === 'number' ? ` at line ${e.mark.line + 1}` : '';
      throw new KubeApiError(`cannot parse KUBECONFIG ${file}: ${typeof e.reason === 'string' ? e.reason : 'not YAML'}${where}`);
    }
    const {cluster, user} = currentClusterAndUser(doc, file);
    if (!appliesItself(cluster, user)) return viaClientNode(file);
    return ownCredentials(cluster, user, dirname(file));
  };

  const inCluster = async (): Promise<ApiCredentials> => {
    const dir = options.serviceAccountDir ?? DEFAULT_SERVICE_ACCOUNT_DIR;
    const tokenFile = join(dir, 'token');
    try {
      await access(tokenFile);
    } catch (cause) {
      throw new KubeApiError(`no KUBECONFIG and no service-account token at ${tokenFile}`, {cause});
    }
    const env = options.env ?? {};
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT;
    // Same scheme rule as client-node's loadFromCluster; without the variables, the Service DNS name every cluster has.
    const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
    const server = host ? `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port ?? 443}` : 'https://kubernetes.default.svc';
    // The service account is a kubeconfig user with a token file; without ca.crt, the system's CAs.
    const hasCa = await access(join(dir, 'ca.crt')).then(
      () => true,
      () => false,
    );
    return ownCredentials({server, ...(hasCa ? {'certificate-authority': 'ca.crt'} : {})}, {tokenFile: 'token'}, dir);
  };

  const build = (): Promise<ApiCredentials> => {
    const p = (options.kubeconfig ? fromKubeconfig(options.kubeconfig) : inCluster()).catch((err: unknown) => {
      if (building === p) building = undefined;
      throw err;
    });
    building = p;
    return p;
  };

  return {
    load({fresh = false} = {}) {
      return !fresh && building ? building : build();
    },
    preload() {
      if (!building) build().catch(() => {});
    },
    whenReady() {
      return (building ?? build()).then(
        () => undefined,
        () => undefined,
      );
    },
  };
}
