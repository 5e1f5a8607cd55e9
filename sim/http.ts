/** A minimal HTTP client for tests: one request on a fresh connection, bounded in time. */
import {request, type Agent, type IncomingHttpHeaders} from 'node:http';

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Milliseconds from send to the end of the body. */
  tookMs: number;
}

export function httpGet(opts: {
  host: string;
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  /** Default: a fresh connection per request (agent: false). */
  agent?: Agent;
}): Promise<HttpResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {host: opts.host, port: opts.port, path: opts.path, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false},
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body, tookMs: performance.now() - started}));
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}
