/**
 * The upstream every target of bench/perf.ts forwards to: a static 100-byte body over node:http keep-alive, the
 * cheapest app node can serve, so that what the proxies add dominates the difference (the targets are stated for
 * 100-byte bodies). Its keep-alive timeout (65 s) stays above every proxy's upstream idle timeout (lameduck 4 s, nginx 60 s,
 * HAProxy's pool), so no proxy meets the keep-alive race during a run.
 *
 * Run: node dist/bench/targets/upstream.js [host:port]; logs {"msg":"listening","port":N}.
 */
import {createServer} from 'node:http';
import type {AddressInfo} from 'node:net';
import {pathToFileURL} from 'node:url';

export const BODY = Buffer.from(`${'lameduck perf upstream '.repeat(5).slice(0, 99)}\n`);

export function createPerfUpstream() {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, {'content-type': 'text/plain', 'content-length': BODY.length});
    res.end(BODY);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return {
    listen(port: number, host: string): Promise<number> {
      return new Promise((resolve) => server.listen(port, host, 1024, () => resolve((server.address() as AddressInfo).port)));
    },
    close(): void {
      server.close();
      server.closeAllConnections();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const listen = process.argv[2] ?? '127.0.0.1:0';
  const i = listen.lastIndexOf(':');
  const port = await createPerfUpstream().listen(Number(listen.slice(i + 1)), listen.slice(0, i));
  process.stdout.write(JSON.stringify({msg: 'listening', port}) + '\n');
}
