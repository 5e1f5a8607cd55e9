import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import type {Duplex} from 'node:stream';
import {pipeline} from 'node:stream';
import {WebSocketServer} from 'ws';

/**
 * The demo-app's HTTP surface. Deliberately "legacy": no graceful shutdown, no draining, nothing a real app
 * would need to survive a rollout — that is lameduck's job, and this app is what it must cope with.
 */
export interface DemoApp {
  /** Binds and resolves with the bound port (port 0 allowed). */
  listen(port: number, host: string | undefined): Promise<number>;
}

export interface DemoAppDeps {
  podName: string;
  keepAliveTimeoutMs?: number;
  log: (line: Record<string, unknown>) => void;
  /** Called once the `POST /shutdown` response has been sent (the `http:` app-exit mode of lameduck). */
  onShutdownRequested: () => void;
}

const MAX_SLOW_MS = 10 * 60_000;
const MAX_CHUNKS = 100_000;
const MAX_INTERVAL_MS = 60_000;

function intParam(url: URL, name: string, fallback: number, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n <= max ? n : undefined;
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body)});
  res.end(body);
}

export function createDemoApp(deps: DemoAppDeps): DemoApp {
  const {podName, log} = deps;
  let shutdownRequested = false;

  function handle(req: IncomingMessage, res: ServerResponse): void {
    // Every response names the pod, so load generators can tell which pod served them.
    res.setHeader('x-pod-name', podName);
    const url = new URL(req.url ?? '/', 'http://demo-app');
    switch (url.pathname) {
      case '/':
        return text(res, 200, `hello from ${podName}\n`);
      case '/alive':
        return text(res, 200, 'ok\n');
      case '/slow': {
        const ms = intParam(url, 'ms', 1000, MAX_SLOW_MS);
        if (ms === undefined) return text(res, 400, `ms must be an integer in 0..${MAX_SLOW_MS}\n`);
        const timer = setTimeout(() => text(res, 200, `slept ${ms} ms\n`), ms);
        // A client that gives up must not leave a timer behind.
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case '/stream': {
        const chunks = intParam(url, 'chunks', 10, MAX_CHUNKS);
        const interval = intParam(url, 'interval', 100, MAX_INTERVAL_MS);
        if (chunks === undefined || interval === undefined) {
          return text(res, 400, `chunks must be in 0..${MAX_CHUNKS}, interval in 0..${MAX_INTERVAL_MS}\n`);
        }
        // No content-length: Node sends Transfer-Encoding: chunked and flushes each write.
        res.writeHead(200, {'content-type': 'text/plain; charset=utf-8'});
        res.flushHeaders();
        let sent = 0;
        let timer: NodeJS.Timeout | undefined;
        const next = (): void => {
          if (sent >= chunks) return void res.end();
          res.write(`chunk ${sent}\n`);
          sent++;
          timer = setTimeout(next, interval);
        };
        res.on('close', () => clearTimeout(timer));
        next();
        return;
      }
      case '/headers': {
        const body = JSON.stringify(req.headers);
        res.writeHead(200, {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)});
        res.end(body);
        return;
      }
      case '/echo': {
        if (req.method !== 'POST' && req.method !== 'PUT') {
          res.setHeader('allow', 'POST, PUT');
          return text(res, 405, 'use POST\n');
        }
        // Streamed back as it arrives (never buffered), so 10 MB bodies cost no memory.
        const headers: Record<string, string> = {'content-type': req.headers['content-type'] ?? 'application/octet-stream'};
        if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];
        res.writeHead(200, headers);
        pipeline(req, res, () => {
          /* a client abort or a reset: nothing to clean up beyond what pipeline destroyed */
        });
        return;
      }
      case '/shutdown': {
        if (req.method !== 'POST') {
          res.setHeader('allow', 'POST');
          return text(res, 405, 'use POST\n');
        }
        log({msg: 'shutdown requested', pod: podName});
        res.setHeader('connection', 'close');
        res.on('finish', () => {
          if (shutdownRequested) return;
          shutdownRequested = true;
          deps.onShutdownRequested();
        });
        return text(res, 200, 'shutting down\n');
      }
      default:
        return text(res, 404, 'not found\n');
    }
  }

  const server: Server = createServer(handle);
  if (deps.keepAliveTimeoutMs !== undefined) {
    server.keepAliveTimeout = deps.keepAliveTimeoutMs;
    // Node requires headersTimeout above keepAliveTimeout for the keep-alive timer to be the one that fires.
    if (server.headersTimeout <= deps.keepAliveTimeoutMs) server.headersTimeout = deps.keepAliveTimeoutMs + 1000;
  }

  const wss = new WebSocketServer({noServer: true});
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, {binary: isBinary}));
    ws.on('error', () => ws.terminate());
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = new URL(req.url ?? '/', 'http://demo-app').pathname;
    if (path !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({port, host}, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
  };
}
