/**
 * Binding the traffic listener: the empty host listens on every IPv4 and IPv6 address (dual-stack `::`, or
 * `0.0.0.0` where IPv6 is unavailable); a port in use is a LameduckError('LISTEN_FAILED') naming the address.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {request} from 'node:http';
import {createServer, type AddressInfo, type Server} from 'node:net';
import {parseConfig} from '../../../proxy/src/config.js';
import {LameduckError} from '../../../proxy/src/errors.js';
import {createForwarder} from '../../../proxy/src/forwarder/index.js';
import {silentLogger} from '../../../proxy/src/log.js';
import {createMetrics} from '../../../proxy/src/metrics.js';
import {HOST, startUpstream, type Upstream} from '../../support/forwarder-harness.js';

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream((req, res) => res.end(req.url === '/xff' ? String(req.headers['x-forwarded-for']) : 'hi'));
});
afterAll(async () => {
  await upstream.close();
});

function forwarderOn(listen: string) {
  const config = parseConfig({LAMEDUCK_LISTEN: listen, LAMEDUCK_ADMIN_LISTEN: `${HOST}:0`, LAMEDUCK_UPSTREAM: upstream.url});
  return createForwarder({config, metrics: createMetrics({defaultMetrics: false}), log: silentLogger, phase: () => 'serving'});
}

function getVia(host: string, port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    request({host, port, path, agent: false}, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

describe('forwarder listen', () => {
  it('an empty host listens on all addresses: dual-stack :: (or 0.0.0.0 without IPv6), reachable over IPv4 loopback', async () => {
    const f = forwarderOn(':0');
    expect(f.address()).toBeNull();
    try {
      const addr = await f.listen();
      expect(f.address()).toEqual(addr);
      expect(['::', '0.0.0.0']).toContain(addr.address);
      expect(await getVia('127.0.0.1', addr.port)).toBe('hi');
      // An IPv4 client of the dual-stack socket appears as ::ffff:127.0.0.1; X-Forwarded-For says 127.0.0.1.
      expect(await getVia('127.0.0.1', addr.port, '/xff')).toBe('127.0.0.1');
      if (addr.address === '::') {
        expect(await getVia('::1', addr.port)).toBe('hi');
        expect(await getVia('::1', addr.port, '/xff')).toBe('::1');
      }
    } finally {
      f.destroy();
      await f.close();
    }
  });

  it('a port in use rejects with LISTEN_FAILED naming the address', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, HOST, resolve));
    const port = (blocker.address() as AddressInfo).port;
    const f = forwarderOn(`${HOST}:${port}`);
    try {
      const err = await f.listen().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LameduckError);
      expect((err as LameduckError).code).toBe('LISTEN_FAILED');
      expect((err as LameduckError).message).toContain(`${HOST}:${port}`);
      expect(((err as LameduckError).cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    } finally {
      f.destroy();
      await f.close();
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
