/**
 * Hostile input the forwarder tests do not already cover (docs/reliability.md): slowloris against normal clients, an HTTP/2
 * preface on the HTTP/1 port, and the admin port (no stack traces or paths in error bodies, nothing reaches the app).
 * The upstream is a counting node:http server, so "nothing reached the app" is a number, not a hope.
 */
import {createServer, type Server} from 'node:http';
import {connect, type AddressInfo, type Socket} from 'node:net';
import {httpGet} from '../http.js';
import {startLoad, type LoadReport} from '../load.js';
import {startLameduck, type Lameduck} from '../processes.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Target {
  ld: Lameduck;
  /** Requests the upstream (the app) has seen, by path. */
  seen: string[];
  close(): Promise<void>;
}

export async function startTarget(env: Record<string, string> = {}): Promise<Target> {
  const seen: string[] = [];
  const app: Server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('ok\n');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const ld = await startLameduck({LAMEDUCK_UPSTREAM: `http://127.0.0.1:${(app.address() as AddressInfo).port}`, ...env});
  return {
    ld,
    seen,
    async close() {
      if (ld.child.exitCode === null && ld.child.signalCode === null) ld.kill('SIGKILL');
      await ld.exited;
      app.closeAllConnections();
      await new Promise((r) => app.close(r));
    },
  };
}

export interface SlowlorisResult {
  attackers: number;
  /** Attacker connections still open at the end (the proxy kept them, within its headers timeout). */
  attackersOpen: number;
  normal: LoadReport;
}

/**
 * `attackers` connections each send a request's headers one byte every `byteEveryMs`, never finishing, while an
 * open-loop load of normal clients runs for `durationMs`.
 */
export async function slowloris(t: Target, o: {attackers: number; durationMs: number; rps: number; byteEveryMs?: number}): Promise<SlowlorisResult> {
  const header = Buffer.from('GET / HTTP/1.1\r\nHost: lameduck\r\nUser-Agent: slowloris\r\nX-Padding: ' + 'a'.repeat(4000));
  const sockets: {s: Socket; i: number; open: boolean}[] = [];
  for (let k = 0; k < o.attackers; k++) {
    const entry = {s: connect({host: '127.0.0.1', port: t.ld.trafficPort}), i: 0, open: true};
    entry.s.on('error', () => undefined);
    entry.s.on('close', () => (entry.open = false));
    sockets.push(entry);
    if (k % 100 === 99) await sleep(10);
  }
  const every = o.byteEveryMs ?? 500;
  // One timer drips a byte into each socket in turn, spread over the period.
  const drip = setInterval(() => {
    for (const e of sockets) {
      if (e.open && e.i < header.length) e.s.write(header.subarray(e.i, ++e.i));
    }
  }, every);
  try {
    const load = startLoad({host: '127.0.0.1', port: t.ld.trafficPort, rps: o.rps, durationMs: o.durationMs, timeoutMs: 5_000, keepAliveFraction: 0.5});
    const normal = await load.finished;
    return {attackers: o.attackers, attackersOpen: sockets.filter((e) => e.open).length, normal};
  } finally {
    clearInterval(drip);
    for (const e of sockets) e.s.destroy();
  }
}

/** Sends raw bytes on a fresh connection; resolves with what came back and whether the server closed. */
export function rawExchange(port: number, bytes: Buffer | string, waitMs = 3_000): Promise<{response: string; closed: boolean}> {
  return new Promise((resolve) => {
    const s = connect({host: '127.0.0.1', port});
    let response = '';
    let closed = false;
    const timer = setTimeout(() => finish(), waitMs);
    const finish = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({response, closed});
    };
    s.on('data', (c: Buffer) => (response += c.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      finish();
    });
    s.write(bytes);
  });
}

/** The client connection preface of HTTP/2 (RFC 9113 §3.4) followed by an empty SETTINGS frame. */
export const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

/** What an error body must never carry: a stack frame, a file path, a module name. */
export function leaksInternals(body: string): string | undefined {
  const m = /\n\s+at |\/(?:work|home|usr|tmp|app)\/|node_modules|\.(?:js|ts):\d+|Error: /.exec(body);
  return m?.[0];
}

/** Requests that make the admin port answer an error; each must answer cleanly, leak nothing, reach no app. */
export const ADMIN_PROBES: {name: string; raw: string}[] = [
  {name: 'unknown path', raw: 'GET /does-not-exist HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'},
  {name: 'path traversal', raw: 'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'},
  {name: 'app path on admin', raw: 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'},
  {name: 'absolute-form to the app', raw: 'GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'},
  {name: 'DELETE /metrics', raw: 'DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'},
  {name: 'PUT /prestop', raw: 'PUT /prestop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'},
  {name: 'wrong prestop token', raw: 'GET /prestop HTTP/1.1\r\nHost: x\r\nX-Lameduck-Token: nope\r\nConnection: close\r\n\r\n'},
  {name: 'garbage request line', raw: 'NOT HTTP\r\n\r\n'},
  {name: 'invalid header byte', raw: 'GET /status HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n'},
  {name: 'oversized header', raw: `GET /status HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(40_000)}\r\n\r\n`},
  {name: 'HTTP/2 preface', raw: H2_PREFACE.toString('latin1')},
  {name: 'upgrade to websocket', raw: 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'},
];

export {httpGet};
