import {Agent, createServer, request} from 'node:http';
import type {AddressInfo} from 'node:net';
import {pathToFileURL} from 'node:url';

/**
 * The benchmark's yardstick: the most naive keep-alive reverse proxy node:http allows — a server, a keep-alive
 * Agent to the upstream, and pipes both ways. No header rewriting, no timeouts, no metrics, no tuning, and wrong in
 * many ways a real proxy must not be (hop-by-hop headers pass through, errors are a bare 502). lameduck is measured
 * against it to show what its extra work costs over Node's own HTTP stack (docs/performance.md).
 *
 * Run: node dist/bench/targets/minimal-pipe.js <upstream-url> [host:port]; logs {"msg":"listening","port":N}.
 */
export function createMinimalPipe(upstream: URL) {
  const agent = new Agent({keepAlive: true});
  const server = createServer((req, res) => {
    const up = request(
      {host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent},
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  return {
    listen(port: number, host: string): Promise<number> {
      return new Promise((resolve) => server.listen(port, host, () => resolve((server.address() as AddressInfo).port)));
    },
    close(): void {
      server.close();
      server.closeAllConnections();
      agent.destroy();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [upstream, listen = '127.0.0.1:0'] = process.argv.slice(2);
  if (!upstream) {
    process.stderr.write('usage: minimal-pipe <upstream-url> [host:port]\n');
    process.exit(2);
  }
  const i = listen.lastIndexOf(':');
  const port = await createMinimalPipe(new URL(upstream)).listen(Number(listen.slice(i + 1)), listen.slice(0, i));
  process.stdout.write(JSON.stringify({msg: 'listening', port}) + '\n');
}
