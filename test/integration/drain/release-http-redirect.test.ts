/**
 * LAMEDUCK_APP_EXIT=http:METHOD URL calls the app's own shutdown endpoint and nothing else: a redirect is not followed
 * (it could send the call to another host or a login page), it is a failed release action, logged with the URL that
 * was configured and where the redirect pointed.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {parseConfig} from '../../../proxy/src/config.js';
import {createLogger} from '../../../proxy/src/log.js';
import {createMetrics} from '../../../proxy/src/metrics.js';
import {createRelease} from '../../../proxy/src/release.js';

let server: Server;
let port = 0;
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    if (req.url === '/shutdown-moved') {
      res.writeHead(302, {location: '/elsewhere'});
      res.end();
    } else res.end('bye');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function runRelease(path: string) {
  const config = parseConfig({LAMEDUCK_APP_EXIT: `http:POST http://127.0.0.1:${port}${path}`});
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({level: 'info', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>)});
  const metrics = createMetrics({defaultMetrics: false});
  const result = await createRelease({appExit: config.appExit, appProcess: undefined, metrics, log, protectedPids: [], kill: () => {}}).run();
  const failed = (await metrics.releaseActions.get()).values.find((v) => v.labels.action === 'http' && v.labels.result === 'error')?.value;
  return {result, lines, failed};
}

describe('the http: release action', () => {
  it('does not follow a 302: a failed action, logged with the configured URL and the redirect target', async () => {
    const {result, lines, failed} = await runRelease('/shutdown-moved');
    expect(result.ok).toBe(false);
    expect(result.detail).toBe('status 302');
    expect(hits).toEqual(['POST /shutdown-moved']);
    expect(failed).toBe(1);
    const line = lines.find((l) => l.msg === 'app exit call answered');
    expect(line).toMatchObject({level: 'warn', url: `http://127.0.0.1:${port}/shutdown-moved`, status: 302, location: '/elsewhere'});
  });

  it('a 200 is a successful action', async () => {
    const {result, failed} = await runRelease('/shutdown');
    expect(result.ok).toBe(true);
    expect(failed).toBe(0);
  });
});
