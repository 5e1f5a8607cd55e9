/**
 * The fuzz campaign's app: a plain TCP server that records every byte lameduck sends it, parses each connection's
 * stream with the strict parser (strict-http1.ts), and answers each complete request with a fixed, well-formed
 * response that names the request: `X-Fuzz-Seq: <n>` (and the same in the body). The client side of the campaign
 * then knows, for every response it got, which upstream request it answers. Nothing here is lenient: a byte stream
 * the strict parser refuses is recorded as an error and the connection closed.
 */
import {createServer, type AddressInfo, type Server, type Socket} from 'node:net';
import {parseRequest, type ParsedRequest} from './strict-http1.js';

export interface UpstreamRequest {
  readonly seq: number;
  readonly conn: number;
  readonly request: ParsedRequest;
  /** The request's bytes as received. */
  readonly raw: Buffer;
  /** performance.now() when its last byte arrived. */
  readonly at: number;
}

export interface UpstreamError {
  readonly conn: number;
  readonly reason: string;
  /** The connection's unparsed bytes, from the start of the message that failed. */
  readonly bytes: Buffer;
}

export interface RawUpstream {
  readonly port: number;
  /** Requests and errors recorded since the last take(). */
  take(): {requests: UpstreamRequest[]; errors: UpstreamError[]};
  /**
   * Resolves once no connection holds part of a request and no byte arrived for `quietMs`, or at `deadlineMs`;
   * returns the connections still holding a partial request then (lameduck left them mid-request).
   */
  settle(quietMs: number, deadlineMs: number): Promise<{conn: number; pending: Buffer}[]>;
  close(): Promise<void>;
}

export const SEQ_HEADER = 'X-Fuzz-Seq';

interface Conn {
  readonly id: number;
  readonly socket: Socket;
  buf: Buffer;
  open: boolean;
}

export async function startRawUpstream(): Promise<RawUpstream> {
  let seq = 0;
  let connIds = 0;
  let lastByteAt = performance.now();
  let requests: UpstreamRequest[] = [];
  let errors: UpstreamError[] = [];
  const conns = new Set<Conn>();

  const respond = (c: Conn, r: ParsedRequest, n: number): void => {
    const body = `seq ${n}\n`;
    const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${SEQ_HEADER}: ${n}\r\n${r.persistent ? '' : 'Connection: close\r\n'}\r\n`;
    c.socket.write(r.method === 'HEAD' ? head : head + body);
    if (!r.persistent) c.socket.end();
  };

  const onData = (c: Conn, chunk: Buffer): void => {
    lastByteAt = performance.now();
    c.buf = c.buf.length === 0 ? chunk : Buffer.concat([c.buf, chunk]);
    for (;;) {
      if (c.buf.length === 0) return;
      const r = parseRequest(c.buf);
      if (r.kind === 'incomplete') return;
      if (r.kind === 'error') {
        errors.push({conn: c.id, reason: r.reason, bytes: c.buf});
        c.buf = Buffer.alloc(0);
        c.socket.destroy();
        return;
      }
      const n = ++seq;
      requests.push({seq: n, conn: c.id, request: r.value, raw: c.buf.subarray(0, r.next), at: performance.now()});
      c.buf = c.buf.subarray(r.next);
      respond(c, r.value, n);
      if (!r.value.persistent) {
        c.buf = Buffer.alloc(0);
        return;
      }
    }
  };

  const server: Server = createServer((socket) => {
    const c: Conn = {id: ++connIds, socket, buf: Buffer.alloc(0), open: true};
    conns.add(c);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => onData(c, chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      c.open = false;
      conns.delete(c);
      lastByteAt = performance.now();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    take() {
      const out = {requests, errors};
      requests = [];
      errors = [];
      return out;
    },
    async settle(quietMs, deadlineMs) {
      const until = performance.now() + deadlineMs;
      for (;;) {
        const pending = [...conns].filter((c) => c.buf.length > 0);
        const now = performance.now();
        if ((pending.length === 0 && now - lastByteAt >= quietMs) || now >= until) {
          // A timer can fire before the poll phase reads bytes already waiting: let one poll run, then decide.
          const seen = lastByteAt;
          await new Promise((r) => setImmediate(r));
          if (lastByteAt === seen || performance.now() >= until) return [...conns].filter((c) => c.buf.length > 0).map((c) => ({conn: c.id, pending: c.buf}));
          continue;
        }
        await new Promise((r) => setTimeout(r, Math.max(1, Math.min(quietMs, 10))));
      }
    },
    async close() {
      for (const c of conns) c.socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
