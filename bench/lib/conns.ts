/**
 * Holds N client connections open on a target, each having completed one keep-alive request — what a sidecar
 * carries for a busy pod behind many clients or an L4 balancer. Opened in batches (a burst of 1 000 SYNs would only
 * measure the listen backlog), each request bounded by a timer; `close()` destroys every socket.
 */
import {createConnection, type Socket} from 'node:net';

export interface HeldConnections {
  /** Connections whose request got a `200` status line. */
  ok: number;
  failed: number;
  close(): void;
}

function oneRequest(host: string, port: number, timeoutMs: number): Promise<{socket: Socket; ok: boolean}> {
  return new Promise((resolve) => {
    const socket = createConnection({host, port});
    let head = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (!ok) socket.destroy();
      resolve({socket, ok});
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: lameduck-perf-conns\r\n\r\n`));
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      // The 100-byte body arrives with the head; the status line is what matters here.
      if (head.includes('\r\n\r\n')) done(head.startsWith('HTTP/1.1 200'));
    });
  });
}

export async function holdConnections(opts: {host: string; port: number; count: number; batch?: number; timeoutMs?: number}): Promise<HeldConnections> {
  const batch = opts.batch ?? 100;
  const sockets: Socket[] = [];
  let ok = 0;
  for (let i = 0; i < opts.count; i += batch) {
    const n = Math.min(batch, opts.count - i);
    const results = await Promise.all(Array.from({length: n}, () => oneRequest(opts.host, opts.port, opts.timeoutMs ?? 5000)));
    for (const r of results) {
      sockets.push(r.socket);
      if (r.ok) ok++;
    }
  }
  for (const s of sockets) s.on('error', () => {}); // a server closing idle ones later is fine
  return {
    ok,
    failed: opts.count - ok,
    close() {
      for (const s of sockets) s.destroy();
    },
  };
}
