/**
 * Shared pieces of the forwarder tests: an in-test upstream (node:http, optional WebSocket echo via ws) that counts
 * what reaches it, a forwarder on port 0 in front of it with a controllable drain phase, and small clients (a
 * buffered HTTP request, a raw socket exchange) bounded in time. Every start has a matching close.
 */
import {afterAll} from '@jest/globals';
import {createHash} from 'node:crypto';
import {
  createServer,
  request,
  type Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import {connect, type AddressInfo, type Socket} from 'node:net';
import type {Readable} from 'node:stream';
import {WebSocketServer} from 'ws';
import {parseConfig} from '../../proxy/src/config.js';
import {createForwarder, type Forwarder} from '../../proxy/src/forwarder/index.js';
import {createLogger} from '../../proxy/src/log.js';
import {createMetrics, type Metrics} from '../../proxy/src/metrics.js';
import type {Phase} from '../../proxy/src/phase.js';

export const HOST = '127.0.0.1';

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it is true or `timeoutMs` passed; returns its last value. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, stepMs = 10): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > until) return false;
    await sleep(stepMs);
  }
  return true;
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
}

export interface Upstream {
  readonly port: number;
  readonly url: string;
  readonly server: Server;
  /** Requests whose head arrived. */
  readonly seen: SeenRequest[];
  /** Requests whose body arrived completely (the handler must read the body). */
  completed(): number;
  /** Requests whose connection closed before their response ended. */
  aborted(): number;
  /** TCP connections accepted. */
  connections(): number;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export async function startUpstream(
  handler: Handler,
  opts: {keepAliveTimeoutMs?: number; webSocketEcho?: boolean} = {},
): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  let completed = 0;
  let aborted = 0;
  let connections = 0;
  const server = createServer((req, res) => {
    seen.push({method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders});
    req.on('end', () => completed++);
    res.on('close', () => {
      if (!res.writableFinished) aborted++;
    });
    handler(req, res);
  });
  server.on('connection', () => connections++);
  if (opts.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = opts.keepAliveTimeoutMs;
  let wss: WebSocketServer | undefined;
  if (opts.webSocketEcho) {
    wss = new WebSocketServer({noServer: true});
    server.on('upgrade', (req, socket, head) => {
      seen.push({method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders});
      if (req.url === '/not-ws') {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot here\n');
        return;
      }
      wss!.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data, isBinary) => ws.send(data, {binary: isBinary}));
      });
    });
  }
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${HOST}:${port}`,
    server,
    seen,
    completed: () => completed,
    aborted: () => aborted,
    connections: () => connections,
    async close() {
      for (const client of wss?.clients ?? []) client.terminate();
      wss?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export interface Proxy {
  readonly forwarder: Forwarder;
  readonly port: number;
  readonly metrics: Metrics;
  readonly logs: LogLine[];
  setPhase(phase: Phase): void;
  /** Value of a counter or gauge series (0 if absent). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export async function startProxy(upstreamUrl: string, env: Record<string, string> = {}): Promise<Proxy> {
  const config = parseConfig({
    LAMEDUCK_LISTEN: `${HOST}:0`,
    LAMEDUCK_ADMIN_LISTEN: `${HOST}:0`,
    LAMEDUCK_UPSTREAM: upstreamUrl,
    ...env,
  });
  const metrics = createMetrics({defaultMetrics: false});
  const logs: LogLine[] = [];
  const log = createLogger({level: 'info', write: (line) => logs.push(JSON.parse(line) as LogLine)});
  let phase: Phase = 'serving';
  const forwarder = createForwarder({config, metrics, log, phase: () => phase});
  const {port} = await forwarder.listen();
  return {
    forwarder,
    port,
    metrics,
    logs,
    setPhase: (p) => (phase = p),
    async metric(name, labels = {}) {
      const m = metrics.registry.getSingleMetric(name);
      if (!m) throw new Error(`no metric ${name}`);
      const data = await m.get();
      const v = data.values.find((x) => Object.entries(labels).every(([k, want]) => (x.labels as Record<string, unknown>)[k] === want));
      return v?.value ?? 0;
    },
    async close() {
      forwarder.destroy();
      await forwarder.close();
    },
  };
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  trailers: NodeJS.Dict<string>;
}

/** One request, the whole response body buffered; rejects on error or after `timeoutMs`. */
export function fetchBuffer(
  port: number,
  opts: {
    method?: string;
    path?: string;
    headers?: Record<string, string | string[]>;
    body?: Buffer | string | Readable;
    agent?: Agent | false;
    timeoutMs?: number;
  } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(
      {host: HOST, port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: opts.agent ?? false},
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks), trailers: res.trailers}),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    const body = opts.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

export interface RawResult {
  /** Everything the server sent, as latin1 text. */
  text: string;
  /** The server closed the connection within the wait. */
  closed: boolean;
}

/**
 * Writes `data` on a fresh TCP connection and collects what comes back until the server closes the connection or
 * `waitMs` passed (then the client closes it).
 */
export function rawExchange(port: number, data: string | Buffer, waitMs = 1500): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, HOST);
    const chunks: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => (closed = true));
    socket.on('error', () => (closed = true));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({text: Buffer.concat(chunks).toString('latin1'), closed});
    });
  });
}

/** Status codes of every HTTP response head in a raw byte stream. */
export function statusCodes(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}

/**
 * Closes what a test file started, newest first, after all its tests: `track()` registers a close, `proxyTo()` starts
 * a forwarder in front of `url` and registers it. Call at module level (it registers an afterAll hook).
 */
export function useCleanups(): {track(close: () => Promise<void>): void; proxyTo(url: string, env?: Record<string, string>): Promise<Proxy>} {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  return {
    track: (close) => void cleanups.push(close),
    async proxyTo(url, env = {}) {
      const proxy = await startProxy(url, env);
      cleanups.push(() => proxy.close());
      return proxy;
    },
  };
}
