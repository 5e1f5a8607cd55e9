/**
 * A client's own view of its HTTP/2 connections: a pass-through TCP hop in the client's process that forwards bytes
 * unchanged both ways and reads the frame headers the server sends, to note when a connection received a GOAWAY
 * (RFC 9113 §6.8). @grpc/grpc-js reacts to a GOAWAY (the channel leaves READY and re-dials for new calls) but does not
 * tell its caller, and a connection that merely drops looks the same from the channel's state; the frames tell the
 * two apart: a stream that breaks on a connection that had received a GOAWAY had been told to reconnect.
 *
 * Each connection to the tap dials `target` anew, so the balancer behind still sees one TCP connection per client
 * connection; FIN and RST are passed on as the L4 balancer does.
 */
import {createConnection, createServer, type AddressInfo, type Server, type Socket} from 'node:net';

export interface TappedConnection {
  readonly id: number;
  readonly openedAt: number;
  /** When the first GOAWAY frame from the server arrived. */
  goawayAt?: number;
  closedAt?: number;
}

export interface GoawayTap {
  /** Where the client dials (127.0.0.1:port). */
  readonly address: string;
  readonly connections: readonly TappedConnection[];
  /** The connection new calls go on now: the newest one still open that has not received a GOAWAY. */
  current(): TappedConnection | undefined;
  close(): Promise<void>;
}

const FRAME_HEADER = 9;
const GOAWAY = 0x7;

/** Reads HTTP/2 frame headers from a server→client byte stream (no preface in that direction). */
export function createFrameScanner(onFrame: (type: number, length: number) => void): (chunk: Buffer) => void {
  let skip = 0;
  let header = Buffer.alloc(0);
  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const need = FRAME_HEADER - header.length;
      const take = chunk.subarray(i, i + need);
      header = header.length === 0 ? Buffer.from(take) : Buffer.concat([header, take]);
      i += take.length;
      if (header.length < FRAME_HEADER) return;
      const length = header.readUIntBE(0, 3);
      onFrame(header[3]!, length);
      skip = length;
      header = Buffer.alloc(0);
    }
  };
}

export async function startGoawayTap(target: {host: string; port: number}, now: () => number = Date.now): Promise<GoawayTap> {
  const connections: TappedConnection[] = [];
  const sockets = new Set<Socket>();
  let nextId = 0;
  const server: Server = createServer((client) => {
    const conn: TappedConnection = {id: nextId++, openedAt: now()};
    connections.push(conn);
    const upstream = createConnection({host: target.host, port: target.port});
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    const scan = createFrameScanner((type) => {
      if (type === GOAWAY) conn.goawayAt ??= now();
    });
    upstream.on('data', (d: Buffer) => {
      scan(d);
      if (!client.write(d)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    client.pipe(upstream);
    upstream.on('end', () => client.end());
    const close = (s: Socket, err?: Error): void => {
      conn.closedAt ??= now();
      sockets.delete(s);
      // A reset on one side is a reset on the other, as through kube-proxy.
      const other = s === client ? upstream : client;
      if (err && typeof other.resetAndDestroy === 'function' && other.readyState !== 'opening') other.resetAndDestroy();
      else if (err) other.destroy();
    };
    client.on('error', (err) => close(client, err)).on('close', () => close(client));
    upstream.on('error', (err) => close(upstream, err)).on('close', () => close(upstream));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections,
    current() {
      for (let i = connections.length - 1; i >= 0; i--) {
        const c = connections[i]!;
        if (c.closedAt === undefined && c.goawayAt === undefined) return c;
      }
      return undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
