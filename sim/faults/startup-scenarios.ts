/**
 * Fault matrix, start-up and upstream protocol (docs/reliability.md, faults 8, 14, 15): the app not up when lameduck starts,
 * SIGTERM during start-up, an upstream that answers with a malformed response.
 */
import {createServer as createNetServer, type AddressInfo} from 'node:net';
import {httpGet} from '../http.js';
import {startLoad} from '../load.js';
import {startChild, startDemoApp, startLameduck, LAMEDUCK_MAIN, type Child} from '../processes.js';
import {sampleSum} from './prom-text.js';
import {judge, type Verdict} from './verdict.js';
import {within} from '../cluster/wait.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const {port} = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function kill(c: Child | undefined): Promise<void> {
  if (!c) return;
  if (c.child.exitCode === null && c.child.signalCode === null) c.kill('SIGKILL');
  await c.exited;
}

const STANDALONE = {LAMEDUCK_FALLBACK_DELAY: '500ms', LAMEDUCK_SETTLE: '200ms', LAMEDUCK_QUIET: '200ms'};

/** 8. App not up at start: 502 with a clear body and /readyz 503; then the app comes up and everything is served. */
export async function appNotUpAtStart(): Promise<Verdict> {
  const port = await freePort();
  const ld = await startLameduck({...STANDALONE, LAMEDUCK_UPSTREAM: `http://127.0.0.1:${port}`, LAMEDUCK_DRAIN_TIMEOUT: '3s'});
  let app: Child | undefined;
  const failures: string[] = [];
  try {
    const admin = (path: string) => httpGet({host: '127.0.0.1', port: ld.adminPort, path});
    const early = await httpGet({host: '127.0.0.1', port: ld.trafficPort, path: '/'});
    if (early.status !== 502 || !/refused/i.test(early.body)) failures.push(`before the app: ${early.status} ${JSON.stringify(early.body)}`);
    const readyBefore = await admin('/readyz');
    if (readyBefore.status !== 503) failures.push(`/readyz before the app: ${readyBefore.status}`);
    const metricsBefore = (await admin('/metrics')).body;
    app = await startDemoApp({PORT: String(port)});
    const until = Date.now() + 10_000;
    let ready = 0;
    while (Date.now() < until && (ready = (await admin('/readyz')).status) !== 200) await sleep(50);
    if (ready !== 200) failures.push(`/readyz never 200 after the app came up (${ready})`);
    const load = startLoad({host: '127.0.0.1', port: ld.trafficPort, rps: 50, durationMs: 1_500, timeoutMs: 5_000});
    const report = await load.finished;
    const triggerAt = Date.now();
    ld.kill('SIGTERM');
    const exit = await ld.exited;
    return judge(
      {
        id: '8',
        name: 'app not up at start, then up',
        lost: report.failed,
        total: report.total,
        allowedLost: 0,
        deadlineMs: 3_000,
        overrunMs: exit.at - triggerAt - 3_000,
        log: {want: 'upstream request failed (warn, reason refused)', seen: ld.logs.some((l) => l.msg === 'upstream request failed' && l.reason === 'refused')},
        metric: {
          want: 'lameduck_upstream_errors_total{reason="refused"} ≥ 1 (before the app)',
          value: sampleSum(metricsBefore, 'lameduck_upstream_errors_total', {reason: 'refused'}),
          ok: (sampleSum(metricsBefore, 'lameduck_upstream_errors_total', {reason: 'refused'}) ?? 0) >= 1,
        },
        notes: [`before: ${early.status} ${JSON.stringify(early.body.trim())}, /readyz ${readyBefore.status}; then ${report.ok}/${report.total} ok`],
      },
      failures,
    );
  } finally {
    await Promise.all([kill(ld), kill(app)]);
  }
}

/** 14. SIGTERM during start-up, before ready: no hang, exit 0 well within the deadline; an ultra-early one too. */
export async function sigtermDuringStartup(): Promise<Verdict> {
  const port = await freePort(); // no app: lameduck is not ready
  const env = {
    ...STANDALONE,
    LAMEDUCK_UPSTREAM: `http://127.0.0.1:${port}`,
    LAMEDUCK_DRAIN_TIMEOUT: '3s',
    LAMEDUCK_LISTEN: '127.0.0.1:0',
    LAMEDUCK_ADMIN_LISTEN: '127.0.0.1:0',
  };
  const failures: string[] = [];
  // (a) SIGTERM the moment the process exists (before its handlers may be installed): it must simply go.
  const early = startChild([LAMEDUCK_MAIN], env);
  await sleep(30);
  const earlyAt = Date.now();
  early.kill('SIGTERM');
  const earlyExit = await within(early.exited, 5_000, undefined);
  if (!earlyExit) failures.push('SIGTERM at spawn: still running after 5 s');
  await kill(early);
  // (b) SIGTERM right at `listening`, app not up, /readyz 503: the drain runs over what is listening, then exits 0.
  const c = startChild([LAMEDUCK_MAIN], env);
  try {
    await c.waitForLog((l) => l.msg === 'listening', 15_000);
    const triggerAt = Date.now();
    c.kill('SIGTERM');
    const exit = await within(c.exited, 10_000, undefined);
    if (!exit) failures.push('SIGTERM at listening: no exit within 10 s');
    else if (exit.code !== 0) failures.push(`SIGTERM at listening: exit ${exit.code} ${exit.signal}`);
    return judge(
      {
        id: '14',
        name: 'SIGTERM during start-up, before ready',
        lost: 0,
        total: 0,
        allowedLost: 0,
        deadlineMs: 3_000,
        overrunMs: exit ? exit.at - triggerAt - 3_000 : undefined,
        log: {want: 'signal received, then drain summary', seen: c.logs.some((l) => l.msg === 'signal received') && c.logs.some((l) => l.msg === 'drain summary')},
        metric: {want: 'exit code 0 (the process is gone: no scrape)', value: exit?.code ?? undefined, ok: exit?.code === 0},
        notes: [
          `at spawn+30 ms: gone after ${earlyExit ? earlyExit.at - earlyAt : '>5000'} ms (${earlyExit?.signal ?? `code ${earlyExit?.code}`})`,
          `at listening: exit ${exit?.code} after ${exit ? exit.at - triggerAt : '?'} ms`,
        ],
      },
      failures,
    );
  } finally {
    await kill(c);
  }
}

/** 15. The upstream answers with a malformed response: 502 with a clear body, counted; lameduck keeps serving. */
export async function malformedUpstream(): Promise<Verdict> {
  const bad = createNetServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: twelve\r\nContent-Length: 3\r\n\r\nabc'));
  });
  await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
  const ld = await startLameduck({...STANDALONE, LAMEDUCK_UPSTREAM: `http://127.0.0.1:${(bad.address() as AddressInfo).port}`});
  const failures: string[] = [];
  try {
    const n = 20;
    const results = await Promise.all(
      Array.from({length: n}, () =>
        httpGet({host: '127.0.0.1', port: ld.trafficPort, path: '/'}).then(
          (r) => r,
          (err: Error) => ({status: 0, body: err.message}),
        ),
      ),
    );
    const clean = results.filter((r) => r.status === 502 && /malformed/i.test(r.body)).length;
    if (clean !== n) failures.push(`${n - clean} of ${n} not a 502 naming the malformed response: ${JSON.stringify(results.find((r) => r.status !== 502))}`);
    const health = await httpGet({host: '127.0.0.1', port: ld.adminPort, path: '/healthz'});
    if (health.status !== 200) failures.push(`/healthz ${health.status} afterwards`);
    const metrics = (await httpGet({host: '127.0.0.1', port: ld.adminPort, path: '/metrics'})).body;
    const value = sampleSum(metrics, 'lameduck_upstream_errors_total', {reason: 'bad_response'});
    return judge(
      {
        id: '15',
        name: 'malformed upstream response',
        lost: n - clean,
        total: n,
        allowedLost: 0,
        log: {want: 'upstream request failed (reason bad_response)', seen: ld.logs.some((l) => l.msg === 'upstream request failed' && l.reason === 'bad_response')},
        metric: {want: `lameduck_upstream_errors_total{reason="bad_response"} ≥ ${n}`, value, ok: (value ?? 0) >= n},
        notes: [`${clean}/${n} answered 502 "${results[0]?.body.trim()}"; lost = answers other than that 502`],
      },
      failures,
    );
  } finally {
    await kill(ld);
    await new Promise((r) => bad.close(r));
  }
}

export const STARTUP_SCENARIOS = [appNotUpAtStart, sigtermDuringStartup, malformedUpstream];
