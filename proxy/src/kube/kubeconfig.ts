/**
 * Where lameduck's API credentials come from: `KUBECONFIG` if set, else the in-cluster service account (token and CA
 * under /var/run/secrets/kubernetes.io/serviceaccount, server from KUBERNETES_SERVICE_HOST/PORT).
 *
 * client-node's `FileAuth` caches the token file for 60 s per KubeConfig instance, but kubelet rotates projected
 * service-account tokens on disk (https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken):
 * after a 401 the client asks for `load({fresh: true})`, which builds a new KubeConfig and so re-reads the token.
 *
 * @kubernetes/client-node costs ~1 s of start-up to import; it is loaded on first use (and can be preloaded in the
 * background), so a sidecar that never drains never pays for it on its start-up path.
 */
import {access} from 'node:fs/promises';
import {isIPv6} from 'node:net';
import {join} from 'node:path';
import type {KubeConfig} from '@kubernetes/client-node';
import {KubeApiError} from './kube-api-error.js';

export const DEFAULT_SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConfigLoaderOptions {
  /** Path from KUBECONFIG; wins over the service account. */
  readonly kubeconfig?: string;
  /** Directory with `token` and `ca.crt` (injectable for tests). */
  readonly serviceAccountDir?: string;
  /** KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, as set by kubelet in every container. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface KubeConfigLoader {
  /** The current KubeConfig; `fresh` rebuilds it (re-reading kubeconfig and token files). Throws KubeApiError. */
  load(options?: {fresh?: boolean}): Promise<KubeConfig>;
  /** Starts importing client-node in the background; failures surface on the first load. */
  preload(): void;
  /** Resolves once the import of client-node has settled (loaded or failed); starts it if needed. Never rejects. */
  whenImported(): Promise<void>;
}

type ClientNode = typeof import('@kubernetes/client-node');

export function createKubeConfigLoader(options: KubeConfigLoaderOptions): KubeConfigLoader {
  let module: Promise<ClientNode> | undefined;
  let current: KubeConfig | undefined;
  const importClientNode = (): Promise<ClientNode> => (module ??= import('@kubernetes/client-node'));

  const build = async (): Promise<KubeConfig> => {
    let mod: ClientNode;
    try {
      mod = await importClientNode();
    } catch (cause) {
      module = undefined;
      throw new KubeApiError('cannot load @kubernetes/client-node', {cause});
    }
    const kc = new mod.KubeConfig();
    if (options.kubeconfig) {
      try {
        kc.loadFromFile(options.kubeconfig);
      } catch (cause) {
        throw new KubeApiError(`cannot read KUBECONFIG ${options.kubeconfig}`, {cause});
      }
      if (!kc.getCurrentCluster()) throw new KubeApiError(`KUBECONFIG ${options.kubeconfig} has no current cluster`);
      return kc;
    }
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
    let caFile: string | undefined = join(dir, 'ca.crt');
    try {
      await access(caFile);
    } catch {
      caFile = undefined;
    }
    kc.loadFromClusterAndUser(
      {name: 'inCluster', server, skipTLSVerify: scheme === 'http', ...(caFile ? {caFile} : {})},
      {name: 'inClusterUser', authProvider: {name: 'tokenFile', config: {tokenFile}}},
    );
    return kc;
  };

  return {
    async load({fresh = false} = {}) {
      if (current && !fresh) return current;
      current = await build();
      return current;
    },
    preload() {
      importClientNode().catch(() => {
        module = undefined;
      });
    },
    whenImported() {
      return importClientNode().then(
        () => undefined,
        () => {
          module = undefined;
        },
      );
    },
  };
}
