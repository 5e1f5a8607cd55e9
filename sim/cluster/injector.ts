/**
 * lameduck's admission webhook in the simulated cluster: the real `lameduck webhook` server (in process, HTTPS with a
 * throwaway CA) registered with the API server as charts/lameduck-injector registers it (a pod opt-in webhook,
 * reinvocationPolicy IfNeeded). failurePolicy Fail here: a showdown pod that missed its sidecar must fail loudly, not
 * run unprotected and blur the figures.
 */
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {startWebhookServer} from '../../proxy/src/inject/webhook-server.js';
import {DEFAULT_SETTINGS} from '../../proxy/src/inject/settings.js';
import {LAMEDUCK_VERSION} from '../../proxy/src/inject/version.js';
import type {ApiServer} from '../kube/apiserver.js';
import {createServingCerts} from '../kube/certs.js';
import {resourceInfo} from '../kube/resources.js';
import type {Pod} from '../kube/types.js';

export interface Injector {
  /** A pod as the API server's admission leaves it (what the Deployment controller then stores). */
  admit(pod: Pod): Promise<Pod>;
  close(): Promise<void>;
}

export const INJECTOR_CONFIGURATION = 'lameduck-injector';

export async function startInjector(api: ApiServer, dir: string): Promise<Injector> {
  const certs = await createServingCerts();
  const certFile = join(dir, 'injector-tls.crt');
  const keyFile = join(dir, 'injector-tls.key');
  writeFileSync(certFile, certs.certPem);
  writeFileSync(keyFile, certs.keyPem);
  const server = await startWebhookServer({
    certFile,
    keyFile,
    host: '127.0.0.1',
    port: 0,
    admission: {defaults: DEFAULT_SETTINGS, version: LAMEDUCK_VERSION},
    reloadIntervalMs: 3_600_000,
    log: () => undefined,
  });
  api.admission.register({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {name: INJECTOR_CONFIGURATION},
    webhooks: [
      {
        name: 'pods.inject.lameduck.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        reinvocationPolicy: 'IfNeeded',
        timeoutSeconds: 10,
        rules: [{operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced'}],
        clientConfig: {url: `https://localhost:${server.address().port}/inject-opted-in`, caBundle: Buffer.from(certs.caPem).toString('base64')},
      },
    ],
  });
  const pods = resourceInfo('pods');
  return {
    async admit(pod) {
      const r = await api.admission.admitCreate({info: pods, namespace: pod.metadata.namespace ?? 'default', object: pod, user: 'system:serviceaccount:kube-system:replicaset-controller', dryRun: false});
      return r.object as Pod;
    },
    async close() {
      api.admission.unregister(INJECTOR_CONFIGURATION);
      await server.close();
    },
  };
}
