// A local Kubernetes API server for tests, the demo and the e2e cluster simulation: real HTTPS with a throwaway CA and
// bearer tokens, the real REST and watch protocol, and in-process EndpointSlice and Endpoints controllers, so that
// @kubernetes/client-node and kubectl talk to it as to a cluster. What it does and does not simulate:
// docs/simulation.md.
import {createMutatingAdmission, type MutatingAdmission} from './admission.js';
import {createServer as createHttpServer, type Server} from 'node:http';
import {createServer as createHttpsServer} from 'node:https';
import type {AddressInfo} from 'node:net';
import {join} from 'node:path';
import {mkdirSync} from 'node:fs';
import {randomBytes} from 'node:crypto';
import {createApiHandler} from './api-handler.js';
import {createServingCerts} from './certs.js';
import {createEndpointSliceController, type EndpointSliceController} from './endpointslice-controller.js';
import {createEndpointsController, type EndpointsController} from './endpoints-controller.js';
import {createFaults, type Faults} from './faults.js';
import {renderKubeconfig, writeFileAtomic, writeServiceAccountFiles} from './kubeconfig.js';
import type {Lag} from './reconcile-queue.js';
import {createRequestLog, type RequestLog} from './request-log.js';
import {createStore, type Store} from './store.js';
import {createWatchHub} from './watch-hub.js';

export type {Store} from './store.js';
export type {MutatingAdmission, MutatingWebhookConfiguration} from './admission.js';
export type {Faults} from './faults.js';
export type {RequestLog, RequestRecord} from './request-log.js';
export type {Lag} from './reconcile-queue.js';

export interface ApiServerOptions {
  /** HTTPS with a generated CA (default true); false serves plain HTTP. */
  tls?: boolean;
  /** Bearer token clients must send. Default: random. */
  token?: string;
  /** EndpointSlice (and Endpoints) controller reaction lag: fixed ms or uniform in [minMs, maxMs]. Default 0. */
  endpointSliceLag?: Lag;
  /** Default 100. */
  maxEndpointsPerSlice?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port; the same port is reused by start() after stop()). */
  port?: number;
  /** Who the token belongs to, as named in 403 messages. Default system:serviceaccount:default:lameduck. */
  user?: string;
  /** BOOKMARK period for watches with allowWatchBookmarks. Default 5000 ms. */
  bookmarkIntervalMs?: number;
  /** Run the EndpointSlice and Endpoints controllers. Default true. */
  controllers?: boolean;
  /** Node pods are bound to when they name none. Default sim-node. */
  nodeName?: string;
  /** Answer aggregated discovery (kubectl 1.30+ asks for it first). Default true. */
  aggregatedDiscovery?: boolean;
  /** Where a webhook's clientConfig.service is reachable (host:port); the simulation has no cluster DNS. */
  resolveService?: (namespace: string, name: string, port: number) => string | undefined;
}

export interface ApiServer {
  /** e.g. https://127.0.0.1:PORT */
  readonly url: string;
  /** The currently valid bearer token (changes with faults.rotateToken). */
  readonly token: string;
  /** CA certificate (PEM) that signed the serving certificate; '' without TLS. */
  readonly caPem: string;
  /** Writes a kubeconfig for this server into `dir` and returns its path (a fresh file name per call). */
  writeKubeconfig(dir: string, opts?: {token?: string; namespace?: string; fileName?: string}): string;
  /** In-cluster style files in `dir` (token, ca.crt, namespace), as kubelet projects them. */
  writeServiceAccount(dir: string, opts?: {namespace?: string}): {tokenPath: string; caPath: string; namespacePath: string};
  store: Store;
  /** Registered MutatingWebhookConfigurations, called on every create. */
  admission: MutatingAdmission;
  faults: Faults;
  requests: RequestLog;
  endpointSlices: EndpointSliceController;
  endpoints: EndpointsController;
  /** Resolves once both controllers have reflected every change so far. */
  whenControllersIdle(): Promise<void>;
  /** Open watch streams. */
  openWatches(): number;
  /** Closes the listener, every open watch and every connection. State and controllers live on. */
  stop(): Promise<void>;
  /** Listens again on the same port after stop(), with the same state (an API server restart). */
  start(): Promise<void>;
  /** The end of a simulated cluster: both controllers stop, then the server (stop()); not to be started again. */
  shutdown(): Promise<void>;
}

export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const tls = opts.tls ?? true;
  const host = opts.host ?? '127.0.0.1';
  let token = opts.token ?? randomBytes(24).toString('base64url');
  const user = opts.user ?? 'system:serviceaccount:default:lameduck';
  const certs = tls ? await createServingCerts(host === '127.0.0.1' || host === '::1' || host === 'localhost' ? [] : [host]) : undefined;
  const caPem = certs?.caPem ?? '';

  const store = createStore({nodeName: opts.nodeName});
  const requests = createRequestLog();
  const watches = createWatchHub({store, bookmarkIntervalMs: opts.bookmarkIntervalMs});
  const serviceAccountDirs = new Set<string>();
  const faults = createFaults({
    compact() {
      store.compact();
      watches.expireAll();
    },
    dropWatches: () => watches.destroyAll(),
    stallWatches: (on) => watches.setStalled(on),
    revision: () => store.resourceVersion(),
    rotateToken(newToken, o) {
      token = newToken;
      if (o.rewriteServiceAccountFiles ?? true) {
        for (const dir of serviceAccountDirs) writeFileAtomic(join(dir, 'token'), newToken);
      }
    },
  });
  const controllersOn = opts.controllers ?? true;
  const endpointSlices = createEndpointSliceController({store, lag: opts.endpointSliceLag, maxEndpointsPerSlice: opts.maxEndpointsPerSlice});
  const endpoints = createEndpointsController({store, lag: opts.endpointSliceLag});
  if (!controllersOn) {
    endpointSlices.stop();
    endpoints.stop();
  }

  const admission = createMutatingAdmission({
    namespaceLabels: (ns) => store.get('namespaces', '', ns)?.metadata.labels as Record<string, string> | undefined,
    resolveService: opts.resolveService,
  });

  let port = opts.port ?? 0;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  const handler = createApiHandler({
    store,
    watches,
    faults,
    requests,
    token: () => token,
    user,
    serverAddress: () => `${hostForUrl}:${port}`,
    aggregatedDiscovery: opts.aggregatedDiscovery,
    admission,
  });

  let server: Server | undefined;
  async function listen(): Promise<void> {
    const s: Server = certs ? createHttpsServer({key: certs.keyPem, cert: certs.certPem}, handler) : createHttpServer(handler);
    // Watches are long-lived responses; only the request itself is subject to Node's request timeout.
    s.keepAliveTimeout = 30_000;
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(port, host, () => {
            s.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        // A restart may race the kernel releasing the port; give it a moment.
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    port = (s.address() as AddressInfo).port;
    server = s;
  }
  await listen();

  let kubeconfigCount = 0;
  const api: ApiServer = {
    get url() {
      return `${tls ? 'https' : 'http'}://${hostForUrl}:${port}`;
    },
    get token() {
      return token;
    },
    caPem,
    writeKubeconfig(dir, o = {}) {
      mkdirSync(dir, {recursive: true});
      kubeconfigCount++;
      const path = join(dir, o.fileName ?? (kubeconfigCount === 1 ? 'kubeconfig' : `kubeconfig-${kubeconfigCount}`));
      writeFileAtomic(path, renderKubeconfig({server: api.url, token: o.token ?? token, caPem: certs?.caPem, namespace: o.namespace}));
      return path;
    },
    writeServiceAccount(dir, o = {}) {
      const files = writeServiceAccountFiles(dir, {token, caPem: certs?.caPem, namespace: o.namespace});
      serviceAccountDirs.add(dir);
      return {tokenPath: files.tokenPath, caPath: files.caPath, namespacePath: files.namespacePath};
    },
    store,
    admission,
    faults,
    requests,
    endpointSlices,
    endpoints,
    async whenControllersIdle() {
      // A reconcile of one controller may queue work in the other's inputs only through pods and services, which
      // controllers do not write; two rounds cover a slice write echoing back as drift.
      for (let i = 0; i < 2; i++) await Promise.all([endpointSlices.whenIdle(), endpoints.whenIdle()]);
    },
    openWatches: () => watches.count(),
    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      watches.endAll();
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
    async start() {
      if (server) return;
      await listen();
    },
    async shutdown() {
      endpointSlices.stop();
      endpoints.stop();
      await api.stop();
    },
  };
  return api;
}
