/**
 * The HTTP/2 yardstick: the most naive h2c reverse proxy node:http2 allows — a server, one client session to the
 * upstream, and each stream piped to an upstream stream. Response headers copied minus what node refuses to send;
 * no trailers, no timeouts, no drain, no metrics, no error mapping. lameduck's HTTP/2 path is measured against it.
 *
 * Run: node dist/bench/targets/h2-pipe.js <upstream-url> [host:port]; logs {"msg":"listening","port":N}.
 */
import {connect, createServer, type ClientHttp2Session} from 'node:http2';
import type {AddressInfo} from 'node:net';
import {pathToFileURL} from 'node:url';

export function createH2Pipe(upstream: URL) {
  let session: ClientHttp2Session | undefined;
  const upstreamSession = (): ClientHttp2Session => {
    if (!session || session.closed || session.destroyed) {
      session = connect(`http://${upstream.host}`);
      session.on('error', () => (session = undefined));
    }
    return session;
  };
  const server = createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const up = upstreamSession().request(headers, {endStream: stream.endAfterHeaders});
    up.on('error', () => {
      if (!stream.headersSent && !stream.closed) stream.respond({':status': 502}, {endStream: true});
    });
    up.on('response', (h) => {
      if (stream.closed || stream.destroyed) return up.close();
      stream.respond(h);
      up.pipe(stream);
    });
    if (!stream.endAfterHeaders) stream.pipe(up);
  });
  return {
    listen(port: number, host: string): Promise<number> {
      return new Promise((resolve) => server.listen(port, host, () => resolve((server.address() as AddressInfo).port)));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [upstream, listen = '127.0.0.1:0'] = process.argv.slice(2);
  if (!upstream) {
    process.stderr.write('usage: h2-pipe <upstream-url> [host:port]\n');
    process.exit(2);
  }
  const i = listen.lastIndexOf(':');
  const port = await createH2Pipe(new URL(upstream)).listen(Number(listen.slice(i + 1)), listen.slice(0, i));
  process.stdout.write(JSON.stringify({msg: 'listening', port}) + '\n');
}
