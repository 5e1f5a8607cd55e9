/**
 * A real `lameduck webhook` for tests: serving certificates from a fresh CA written to a temp dir (the dir stays
 * reachable, so a test can renew them), HTTPS on 127.0.0.1 port 0, the default injection settings.
 */
import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {DEFAULT_SETTINGS} from '../../proxy/src/inject/settings.js';
import {LAMEDUCK_VERSION} from '../../proxy/src/inject/version.js';
import {startWebhookServer, type WebhookServer, type WebhookServerDeps} from '../../proxy/src/inject/webhook-server.js';
import {createServingCerts, type ServingCerts} from '../../sim/kube/certs.js';

export interface TestWebhook {
  server: WebhookServer;
  certs: ServingCerts;
  /** Holds tls.crt and tls.key. */
  dir: string;
  close(): Promise<void>;
}

export async function startTestWebhook(log: WebhookServerDeps['log']): Promise<TestWebhook> {
  const dir = await mkdtemp(join(tmpdir(), 'lameduck-webhook-'));
  const certs = await createServingCerts();
  await writeFile(join(dir, 'tls.crt'), certs.certPem);
  await writeFile(join(dir, 'tls.key'), certs.keyPem);
  const server = await startWebhookServer({
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    host: '127.0.0.1',
    port: 0,
    admission: {defaults: DEFAULT_SETTINGS, version: LAMEDUCK_VERSION},
    reloadIntervalMs: 3_600_000,
    log,
  });
  return {
    server,
    certs,
    dir,
    async close() {
      await server.close();
      await rm(dir, {recursive: true, force: true});
    },
  };
}
