/**
 * The admission webhook's HTTPS server. The certificate and key are read from files and re-read when they change
 * (cert-manager and kubelet's Secret volume update them in place, through a symlink swap that file watches miss, so
 * the files are compared on a timer). Bodies are bounded; anything but a well-formed AdmissionReview gets a 400 with
 * a JSON message; GET /healthz answers 200 for the probes.
 */
import {readFile} from 'node:fs/promises';
import {createServer, type Server} from 'node:https';
import type {AddressInfo} from 'node:net';
import {review, BadReviewError, type AdmissionOptions, type AdmissionPolicy} from './admission.js';

/** The API server sends at most ~3 MiB objects (etcd's request limit); a review of one fits well below this. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** The API server's own timeout is at most 30 s (timeoutSeconds); a client slower than this is gone anyway. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** URL path -> which webhook of the MutatingWebhookConfiguration called (charts/lameduck-injector). */
export const WEBHOOK_PATHS: Readonly<Record<string, AdmissionPolicy>> = Object.freeze({'/inject': 'namespace', '/inject-opted-in': 'pod-opt-in'});

export interface WebhookServerDeps {
  certFile: string;
  keyFile: string;
  /** Listen address; unset: every address. */
  host?: string;
  port: number;
  admission: Omit<AdmissionOptions, 'policy'>;
  /** How often the certificate files are compared with what is served. */
  reloadIntervalMs: number;
  log: (level: 'info' | 'warn' | 'error', message: string, context?: Record<string, unknown>) => void;
}

export interface WebhookServer {
  address(): AddressInfo;
  /** Re-reads the certificate files now (the timer does it too); resolves true when they changed. */
  reload(): Promise<boolean>;
  close(): Promise<void>;
}

export async function startWebhookServer(deps: WebhookServerDeps): Promise<WebhookServer> {
  const read = async () => ({cert: await readFile(deps.certFile, 'utf8'), key: await readFile(deps.keyFile, 'utf8')});
  let current = await read();
  let requests = 0;
  const server: Server = createServer({...current, requestTimeout: REQUEST_TIMEOUT_MS}, (req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)});
      res.end(text);
    };
    const url = new URL(req.url ?? '/', 'https://webhook');
    if (req.method === 'GET' && url.pathname === '/healthz') return send(200, {status: 'ok'});
    const policy = WEBHOOK_PATHS[url.pathname];
    if (!policy) return send(404, {error: `no webhook at ${url.pathname}; paths: ${Object.keys(WEBHOOK_PATHS).join(', ')}`});
    if (req.method !== 'POST') return send(405, {error: 'POST an AdmissionReview'});
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      const n = ++requests;
      if (tooLarge) {
        deps.log('warn', 'bad admission request', {request: n, error: `body over ${MAX_BODY_BYTES} bytes`});
        return send(413, {error: `the body is over ${MAX_BODY_BYTES} bytes`});
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        deps.log('warn', 'bad admission request', {request: n, error: (err as Error).message});
        return send(400, {error: `the body is not JSON: ${(err as Error).message}`});
      }
      try {
        const answer = review(body, {...deps.admission, policy});
        const r = answer.response;
        deps.log('info', r.allowed ? (r.patch ? 'injected' : 'unchanged') : 'refused', {request: n, uid: r.uid, ...(r.status ? {message: r.status.message} : {})});
        send(200, answer);
      } catch (err) {
        if (err instanceof BadReviewError) {
          deps.log('warn', 'bad admission request', {request: n, error: err.message});
          return send(400, {error: err.message});
        }
        deps.log('error', 'admission failed', {request: n, error: (err as Error).message});
        send(500, {error: 'internal error; see the webhook log'});
      }
    });
  });
  server.on('tlsClientError', (err) => deps.log('warn', 'tls handshake failed', {error: err.message}));

  const reload = async (): Promise<boolean> => {
    let next;
    try {
      next = await read();
    } catch (err) {
      deps.log('warn', 'certificate reload failed, serving the previous one', {error: (err as Error).message});
      return false;
    }
    if (next.cert === current.cert && next.key === current.key) return false;
    try {
      server.setSecureContext(next);
    } catch (err) {
      // A cert written before its key (or half-written) fails here; the next tick picks up the finished pair.
      deps.log('warn', 'certificate reload failed, serving the previous one', {error: (err as Error).message});
      return false;
    }
    current = next;
    deps.log('info', 'certificate reloaded', {certFile: deps.certFile});
    return true;
  };
  const timer = setInterval(() => void reload(), deps.reloadIntervalMs);
  timer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({port: deps.port, ...(deps.host ? {host: deps.host} : {})}, () => resolve());
  });
  return {
    address: () => server.address() as AddressInfo,
    reload,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
