/**
 * The h2c upstream of bench/perf.ts's HTTP/2 rows: the same static 100-byte body as targets/upstream.ts, over
 * node:http2 with prior knowledge (what a gRPC server speaks), so that the proxies' HTTP/2 work dominates.
 *
 * Run: node dist/bench/targets/h2-upstream.js [host:port]; logs {"msg":"listening","port":N}.
 */
import {createServer} from 'node:http2';
import type {AddressInfo} from 'node:net';
import {pathToFileURL} from 'node:url';
import {BODY} from './upstream.js';

export function createH2PerfUpstream() {
  const server = createServer({settings: {maxConcurrentStreams: 1000}});
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.resume();
    stream.respond({':status': 200, 'content-type': 'text/plain', 'content-length': BODY.length});
    stream.end(BODY);
  });
  server.on('sessionError', () => undefined);
  return {
    listen(port: number, host: string): Promise<number> {
      return new Promise((resolve) => server.listen(port, host, 1024, () => resolve((server.address() as AddressInfo).port)));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const listen = process.argv[2] ?? '127.0.0.1:0';
  const i = listen.lastIndexOf(':');
  const port = await createH2PerfUpstream().listen(Number(listen.slice(i + 1)), listen.slice(0, i));
  process.stdout.write(JSON.stringify({msg: 'listening', port}) + '\n');
}
