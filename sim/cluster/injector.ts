/**
 * lameduck's admission webhook in the simulated cluster: the built `lameduck webhook` process (HTTPS with a throwaway
 * CA), registered with the API server as charts/lameduck-injector registers it (a pod opt-in webhook,
 * reinvocationPolicy IfNeeded). Like every lameduck the simulation runs, it is the built program, known only by its
 * command line and JSON log lines. failurePolicy Fail here: a showdown pod that missed its sidecar must fail loudly,
 * not run unprotected and blur the figures.
 */
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {ApiServer} from '../kube/apiserver.js';
import {createServingCerts} from '../kube/certs.js';
import {resourceInfo} from '../kube/resources.js';
import type {Pod} from '../kube/types.js';
import {LAMEDUCK_MAIN, startChild} from '../processes.js';

export interface Injector {
  /** A pod as the API server's admission leaves it (what the Deployment controller then stores). */
  admit(pod: Pod): Promise<Pod>;
  close(): Promise<void>;
}

export const INJECTOR_CONFIGURATION = 'lameduck-injector';
/** Start-up of the webhook process on a busy machine. */
const START_TIMEOUT_MS = 30_000;

export async function startInjector(api: ApiServer, dir: string, sidecarImage = 'lameduck:dev'): Promise<Injector> {
  const certs = await createServingCerts();
  const certFile = join(dir, 'injector-tls.crt');
  const keyFile = join(dir, 'injector-tls.key');
  writeFileSync(certFile, certs.certPem);
  writeFileSync(keyFile, certs.keyPem);
  const child = startChild([LAMEDUCK_MAIN, 'webhook', `--cert-file=${certFile}`, `--key-file=${keyFile}`, '--listen=127.0.0.1:0', `--image=${sidecarImage}`], {});
  let port: number;
  try {
    const listening = await child.waitForLog((l) => l.msg === 'listening', START_TIMEOUT_MS);
    port = Number(listening.port);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`lameduck webhook did not start: ${child.stderr() || (err as Error).message}`, {cause: err});
  }
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
        clientConfig: {url: `https://localhost:${port}/inject-opted-in`, caBundle: Buffer.from(certs.caPem).toString('base64')},
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
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([child.exited, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
      clearTimeout(timer);
      child.kill('SIGKILL');
    },
  };
}
