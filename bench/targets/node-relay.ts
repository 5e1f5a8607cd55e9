import {connect, createServer, type AddressInfo, type Socket} from 'node:net';
import {pathToFileURL} from 'node:url';

/**
 * The floor under any proxy written in Node, for bench/perf.ts: each client connection gets its own upstream
 * connection and bytes are relayed both ways with no HTTP at all — no parsing, no headers, no pooling, no timeouts.
 * Not a proxy anyone should run (it cannot route, retry, drain or count a request); it is in the table to show what
 * a Node process pays per request for the event loop, the sockets and the kernel's wake-ups alone, so that the CPU
 * an HTTP proxy spends at a low request rate can be split into what Node's runtime costs and what HTTP costs.
 *
 * Run: node dist/bench/targets/node-relay.js <upstream-url> [host:port]; logs {"msg":"listening","port":N}.
 */
export function createNodeRelay(upstream: URL) {
  const pair = (a: Socket, b: Socket): void => {
    a.on('data', (d) => b.write(d));
    a.on('end', () => b.end());
    a.on('close', () => b.destroy());
    a.on('error', () => b.destroy());
  };
  const server = createServer({noDelay: true}, (client) => {
    const up = connect({host: upstream.hostname, port: Number(upstream.port), noDelay: true});
    pair(client, up);
    pair(up, client);
  });
  return {
    listen(port: number, host: string): Promise<number> {
      return new Promise((resolve) => server.listen(port, host, 1024, () => resolve((server.address() as AddressInfo).port)));
    },
    close(): void {
      server.close();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [upstream, listen = '127.0.0.1:0'] = process.argv.slice(2);
  if (!upstream) {
    process.stderr.write('usage: node-relay <upstream-url> [host:port]\n');
    process.exit(2);
  }
  const i = listen.lastIndexOf(':');
  const port = await createNodeRelay(new URL(upstream)).listen(Number(listen.slice(i + 1)), listen.slice(0, i));
  process.stdout.write(JSON.stringify({msg: 'listening', port}) + '\n');
}
