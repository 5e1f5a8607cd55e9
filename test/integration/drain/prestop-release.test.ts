import {afterAll, describe, expect, it} from '@jest/globals';
import {spawn} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import {Agent, createServer} from 'node:http';
import type {AddressInfo} from 'node:net';
import {startLameduck, startDemoApp, killAll} from '../../../sim/processes.js';
import {httpGet} from '../../../sim/http.js';

afterAll(killAll);

const QUICK = {LAMEDUCK_FALLBACK_DELAY: '300ms', LAMEDUCK_SETTLE: '100ms', LAMEDUCK_QUIET: '100ms', LAMEDUCK_DRAIN_TIMEOUT: '10s'};
const TOKEN = 'test-token-0123456789';

describe('/prestop and the release of the app', () => {
  it('without token or drain: answers within about 2 s, starts nothing, the pod keeps serving and stays ready', async () => {
    const app = await startDemoApp();
    const ld = await startLameduck({...QUICK, LAMEDUCK_UPSTREAM: `http://127.0.0.1:${app.port}`, LAMEDUCK_PRESTOP_TOKEN: TOKEN});
    const res = await httpGet({host: '127.0.0.1', port: ld.adminPort, path: '/prestop', headers: {'x-lameduck-token': 'wrong-token-xxxx'}});
    expect(res.status).toBe(200);
    expect(res.tookMs).toBeGreaterThanOrEqual(1900);
    expect(res.tookMs).toBeLessThan(4000);
    const status = JSON.parse((await httpGet({host: '127.0.0.1', port: ld.adminPort, path: '/status'})).body);
    expect(status.state).toBe('serving');
    expect((await httpGet({host: '127.0.0.1', port: ld.adminPort, path: '/readyz'})).status).toBe(200);
    const agent = new Agent({keepAlive: true});
    const through = await httpGet({host: '127.0.0.1', port: ld.trafficPort, path: '/', agent});
    agent.destroy();
    expect(through.status).toBe(200);
    expect(through.headers.connection).toBe('keep-alive'); // no drain: keep-alive clients are not told to re-dial
    expect(ld.logs.some((l) => l.msg === 'prestop token rejected')).toBe(true);
  });

  it('POST with the token (a forced drain): drains, /readyz turns 503 at once, and answers only after closing ended; a token drain exits at done', async () => {
    const app = await startDemoApp();
    const ld = await startLameduck({...QUICK, LAMEDUCK_UPSTREAM: `http://127.0.0.1:${app.port}`, LAMEDUCK_PRESTOP_TOKEN: TOKEN});
    // A slow request keeps `closing` busy for a while.
    const slow = httpGet({host: '127.0.0.1', port: ld.trafficPort, path: '/slow?ms=1500'});
    await new Promise((r) => setTimeout(r, 100));
    const prestop = httpGet({host: '127.0.0.1', port: ld.adminPort, path: '/prestop', method: 'POST', headers: {'x-lameduck-token': TOKEN}, timeoutMs: 15_000});
    await ld.waitForLog((l) => l.msg === 'phase' && l.to === 'deregistering');
    expect((await httpGet({host: '127.0.0.1', port: ld.adminPort, path: '/readyz'})).status).toBe(503);
    const answered = await prestop;
    const answeredAt = Date.now();
    expect(answered.status).toBe(200);
    expect((await slow).status).toBe(200);
    const releasing = ld.logs.find((l) => l.msg === 'phase' && l.to === 'releasing')!;
    const closing = ld.logs.find((l) => l.msg === 'phase' && l.to === 'closing')!;
    expect(Date.parse(releasing.time as string)).toBeLessThanOrEqual(answeredAt);
    expect(releasing.tookMs).toBeGreaterThan(800); // closing waited for the in-flight /slow
    expect(Date.parse(closing.time as string)).toBeLessThan(Date.parse(releasing.time as string));
    const exit = await ld.exited;
    expect(exit.code).toBe(0);
  });

  it('signal:SIGTERM signals only the processes matching the pattern', async () => {
    const marker = `lameduck-test-app-${randomUUID()}`;
    const spawnMarked = (m: string) => spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', m], {stdio: 'ignore'});
    const target = spawnMarked(marker);
    const bystander = spawnMarked(`${marker}-other`.replace('app', 'bystander'));
    const targetExit = new Promise<NodeJS.Signals | null>((r) => target.once('exit', (_c, s) => r(s)));
    try {
      const app = await startDemoApp();
      const ld = await startLameduck({
        ...QUICK,
        LAMEDUCK_UPSTREAM: `http://127.0.0.1:${app.port}`,
        LAMEDUCK_APP_EXIT: 'signal:SIGTERM',
        LAMEDUCK_APP_PROCESS: `${marker}$`,
      });
      ld.kill('SIGTERM');
      expect(await targetExit).toBe('SIGTERM');
      const exit = await ld.exited;
      expect(exit.code).toBe(0); // lameduck did not signal itself
      expect(bystander.exitCode).toBeNull();
      expect(bystander.signalCode).toBeNull();
      expect(ld.logs.some((l) => l.msg === 'signalled app' && l.pid === target.pid)).toBe(true);
    } finally {
      target.kill('SIGKILL');
      bystander.kill('SIGKILL');
    }
  });

  it('http:POST calls the URL exactly once', async () => {
    let calls = 0;
    const hook = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/shutdown') calls++;
      res.end('bye');
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const port = (hook.address() as AddressInfo).port;
    try {
      const app = await startDemoApp();
      const ld = await startLameduck({...QUICK, LAMEDUCK_UPSTREAM: `http://127.0.0.1:${app.port}`, LAMEDUCK_APP_EXIT: `http:POST http://127.0.0.1:${port}/shutdown`});
      ld.kill('SIGTERM');
      ld.kill('SIGINT'); // a second trigger is a no-op
      const exit = await ld.exited;
      expect(exit.code).toBe(0);
      expect(calls).toBe(1);
    } finally {
      hook.close();
    }
  });
});
