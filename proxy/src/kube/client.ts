/**
 * lameduck's Kubernetes API client: JSON requests and NDJSON watch streams over node:http(s), with the TLS and
 * credentials of kubeconfig.ts (the in-cluster service account or a kubeconfig file; client-node's KubeConfig for the
 * auth plugins only it knows). Its own transport rather than client-node's generated APIs, because every request must be:
 * - counted in `lameduck_kube_api_requests_total{resource,verb,code}` (the API cost of a drain is a product promise),
 * - bounded by a timeout and the caller's AbortSignal (nothing waits unbounded in a pod's last seconds),
 * - classified once into a FallbackReason (403 forbidden, 401 unauthorized, everything else unreachable),
 * - retried once after a 401 with freshly read credentials (rotated service-account tokens),
 * - able to see a 429's Retry-After header (the generated APIs hide response headers on errors).
 * Objects stay plain wire JSON (no Date conversion), which is what the routing rule reads.
 */
import http from 'node:http';
import https from 'node:https';
import type {Logger} from '../log.js';
import type {Metrics} from '../metrics.js';
import {sleep} from '../wait.js';
import {throttleDelay} from './backoff.js';
import {KubeApiError, parseRetryAfter} from './kube-api-error.js';
import type {ApiCredentials, KubeConfigLoader} from './kubeconfig.js';
import type {WireStatus, WireWatchEvent} from './wire.js';

export type KubeResource = 'pods' | 'endpointslices' | 'services' | 'events';
export type KubeVerb = 'get' | 'list' | 'watch' | 'create';

export interface KubeCall {
  readonly resource: KubeResource;
  readonly verb: KubeVerb;
  /** Path below the server URL, e.g. /api/v1/namespaces/ns/pods/name. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  /** Sent as JSON with POST. */
  readonly body?: unknown;
  readonly signal: AbortSignal;
  /** Per attempt; for watches, until the response headers. */
  readonly timeoutMs?: number;
  /** How many 429s to wait out (Retry-After) before giving up; default 0: the caller handles throttling. */
  readonly throttleRetries?: number;
}

export interface KubeClient {
  /** One request (plus a retry after a 401, plus `throttleRetries`). Resolves with the parsed body; throws KubeApiError. */
  call<T>(call: KubeCall): Promise<T>;
  /**
   * Opens a watch (`watch=true` is added) and yields its events until the server closes the stream (normal end) or
   * the signal aborts (ends quietly). Throws KubeApiError when it cannot be opened or the stream breaks.
   */
  watch<T>(call: Omit<KubeCall, 'verb' | 'body' | 'throttleRetries'>): AsyncGenerator<WireWatchEvent<T>, void, undefined>;
}

export interface KubeClientDeps {
  readonly loader: KubeConfigLoader;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Default per-attempt timeout. */
  readonly requestTimeoutMs?: number;
  readonly userAgent?: string;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** EndpointSlice lists of big namespaces run to megabytes; anything past this is not an answer we can use. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** An AbortController that follows `parent` and fires after `ms` (if given). `dispose()` unhooks both. */
function linkedAbort(parent: AbortSignal, ms: number | undefined): {signal: AbortSignal; clearTimer: () => void; dispose: () => void} {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, {once: true});
  let timer: NodeJS.Timeout | undefined;
  if (ms !== undefined && !controller.signal.aborted) {
    timer = setTimeout(() => controller.abort(new TimeoutError(ms)), ms);
    timer.unref();
  }
  const clearTimer = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  return {
    signal: controller.signal,
    clearTimer,
    dispose() {
      clearTimer();
      parent.removeEventListener('abort', onAbort);
    },
  };
}

function readBody(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res.destroy(new Error(`response larger than ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('response aborted')));
  });
}

function parseStatus(body: string): WireStatus | undefined {
  try {
    const parsed = JSON.parse(body) as WireStatus;
    return parsed && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** One HTTP exchange up to the response headers. */
async function send(creds: ApiCredentials, call: KubeCall, method: string, signal: AbortSignal, userAgent: string): Promise<http.IncomingMessage> {
  const url = new URL(creds.server.replace(/\/+$/, '') + call.path);
  for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
  const headers: Record<string, string> = {Accept: 'application/json', 'User-Agent': userAgent};
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(body));
  }
  const options: https.RequestOptions = {method, headers};
  // Sets the CA, client certificates, Authorization (token, token file, exec plugin...).
  await creds.apply(options);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, {...options, signal}, resolve);
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits for the credentials (files read; client-node imported only for its auth plugins), bounded by the signal only: not network time. */
function loadConfig(loader: KubeClientDeps['loader'], signal: AbortSignal): Promise<ApiCredentials> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new KubeApiError('aborted while loading the kubeconfig', {cause: signal.reason}));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, {once: true});
    loader.load().then(
      (creds) => {
        signal.removeEventListener('abort', onAbort);
        resolve(creds);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export function createKubeClient(deps: KubeClientDeps): KubeClient {
  const {loader, metrics, log} = deps;
  const defaultTimeoutMs = deps.requestTimeoutMs ?? 5_000;
  const userAgent = deps.userAgent ?? 'lameduck';
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;

  const count = (call: {resource: KubeResource}, verb: KubeVerb, code: string): void => {
    metrics.kubeRequests.inc({resource: call.resource, verb, code});
  };

  /**
   * Runs the call up to a 2xx response (headers only when `stream`); retries after a 401 once, after a 429 as
   * allowed. Each attempt is bounded by `timeoutMs` up to its response (its body too, unless streaming); the returned
   * `dispose` unhooks the attempt from the caller's signal once the caller is done with the response.
   */
  const exchange = async (
    call: KubeCall,
    stream: boolean,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<{res: http.IncomingMessage; body?: string; dispose: () => void}> => {
    const method = call.body === undefined ? 'GET' : 'POST';
    let throttlesLeft = call.throttleRetries ?? 0;
    let reauthenticated = false;
    for (;;) {
      const creds = await loadConfig(loader, signal);
      const attempt = linkedAbort(signal, timeoutMs);
      const started = now();
      let res: http.IncomingMessage;
      let body: string | undefined;
      try {
        res = await send(creds, call, method, attempt.signal, userAgent);
        if (!stream || res.statusCode !== 200) body = await readBody(res);
      } catch (cause) {
        attempt.dispose();
        count(call, call.verb, 'error');
        const why = attempt.signal.aborted && attempt.signal.reason instanceof Error ? attempt.signal.reason.message : (cause as Error).message;
        throw new KubeApiError(`${call.verb} ${call.resource}: ${why}`, {cause});
      }
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      count(call, call.verb, ok ? 'ok' : String(status));
      log.debug('kube api', {resource: call.resource, verb: call.verb, status, ms: Math.round(now() - started)});
      if (ok && stream) {
        // From here the stream lives as long as the caller wants it: no timer, but still the caller's signal.
        attempt.clearTimer();
        return {res, body, dispose: attempt.dispose};
      }
      attempt.dispose();
      if (ok) return {res, body, dispose: () => {}};
      const s = body ? parseStatus(body) : undefined;
      const retryAfterMs = status === 429 ? parseRetryAfter(res.headers['retry-after'] as string | undefined, now()) ?? 1_000 : undefined;
      const error = new KubeApiError(
        `${call.verb} ${call.resource}: ${status} ${s?.reason ?? res.statusMessage ?? ''}${s?.message ? `: ${s.message}` : ''}`,
        {status, statusReason: s?.reason, retryAfterMs},
      );
      if (status === 401 && !reauthenticated) {
        // client-node would keep sending the cached token for up to 60 s; a rotated token must be read now.
        reauthenticated = true;
        log.info('kubernetes api answered 401: re-reading credentials', {resource: call.resource, verb: call.verb});
        try {
          await loader.load({fresh: true});
        } catch (cause) {
          throw new KubeApiError(`${call.verb} ${call.resource}: 401 and credentials cannot be re-read`, {status, cause});
        }
        continue;
      }
      if (status === 429 && throttlesLeft > 0 && !signal.aborted) {
        throttlesLeft--;
        await sleep(throttleDelay(retryAfterMs ?? 1_000, random), signal);
        if (!signal.aborted) continue;
      }
      throw error;
    }
  };

  return {
    async call<T>(call: KubeCall): Promise<T> {
      const {body} = await exchange(call, false, call.signal, call.timeoutMs ?? defaultTimeoutMs);
      if (!body) return undefined as T;
      try {
        return JSON.parse(body) as T;
      } catch (cause) {
        throw new KubeApiError(`${call.verb} ${call.resource}: invalid JSON in the answer`, {cause});
      }
    },

    async *watch<T>(call: Omit<KubeCall, 'verb' | 'body' | 'throttleRetries'>): AsyncGenerator<WireWatchEvent<T>, void, undefined> {
      const full: KubeCall = {...call, verb: 'watch', query: {...call.query, watch: 'true'}};
      let res: http.IncomingMessage | undefined;
      let dispose = (): void => {};
      try {
        ({res, dispose} = await exchange(full, true, call.signal, call.timeoutMs ?? defaultTimeoutMs));
        res.setEncoding('utf8');
        let buffered = '';
        const parse = (line: string): WireWatchEvent<T> => {
          try {
            return JSON.parse(line) as WireWatchEvent<T>;
          } catch (cause) {
            throw new KubeApiError(`watch ${call.resource}: malformed event`, {cause});
          }
        };
        try {
          for await (const chunk of res as AsyncIterable<string>) {
            buffered += chunk;
            for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (line) yield parse(line);
            }
          }
        } catch (cause) {
          if (call.signal.aborted) return;
          if (cause instanceof KubeApiError) throw cause;
          throw new KubeApiError(`watch ${call.resource}: stream broke: ${(cause as Error).message}`, {cause});
        }
        if (buffered.trim()) yield parse(buffered.trim());
      } catch (error) {
        if (call.signal.aborted) return;
        throw error;
      } finally {
        res?.destroy();
        dispose();
      }
    },
  };
}
