// Kubernetes API cost of lameduck, measured on the real process against the local API server:
//
// 1. API requests per pod lifetime — a steady state of KUBE_BENCH_STEADY_SECONDS under light traffic, then the
//    termination (pod deleted, SIGTERM) — with and without LAMEDUCK_WATCH_POD, counted from the API server's request
//    log (every request lameduck's client sends carries User-Agent `lameduck`).
// 2. Time from the last EndpointSlice flip to lameduck's `settling` phase line, over KUBE_BENCH_DRAINS drains whose
//    flip is delivered by the open EndpointSlice watch (target: median <= 100 ms), and, for contrast, over
//    KUBE_BENCH_STALLED drains whose watch is stalled, so that only the periodic re-list (every 3 s) can see it.
//
//   npm run build && node dist/bench/kube-api-cost.js
//   (KUBE_BENCH_STEADY_SECONDS=10, KUBE_BENCH_DRAINS=10, KUBE_BENCH_STALLED=3 by default)
//
// Everything is bounded: each wait has a timeout, every child process is killed at the end or on failure.
import {mkdtempSync, rmSync} from 'node:fs';
import {cpus, loadavg, tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {envInt} from './lib/report.js';
import {startApiServer, type ApiServer} from '../sim/kube/apiserver.js';
import type {EndpointSlice, Pod} from '../sim/kube/types.js';
import {startLoad} from '../sim/load.js';
import {killAll, startChild, type Child} from '../sim/processes.js';

// From dist/bench/: the built entry points (processes.ts's own constants assume it runs from the sources).
const LAMEDUCK_MAIN = fileURLToPath(new URL('../proxy/src/main.js', import.meta.url));
const DEMO_APP_MAIN = fileURLToPath(new URL('../demo-app/src/main.js', import.meta.url));
const NS = 'bench';

interface Options {
  steadySeconds: number;
  drains: number;
  stalled: number;
}

function readOptions(env: NodeJS.ProcessEnv): Options {
  const int = (name: string, dflt: number, min: number): number => envInt(env, name, dflt, min);
  return {
    steadySeconds: int('KUBE_BENCH_STEADY_SECONDS', 10, 1),
    drains: int('KUBE_BENCH_DRAINS', 10, 1),
    stalled: int('KUBE_BENCH_STALLED', 3, 0),
  };
}

interface Lameduck extends Child {
  trafficPort: number;
}

async function startLameduck(env: Record<string, string>): Promise<Lameduck> {
  const c = startChild([LAMEDUCK_MAIN], {LAMEDUCK_LISTEN: '127.0.0.1:0', LAMEDUCK_ADMIN_LISTEN: '127.0.0.1:0', ...env});
  const line = (await c.waitForLog((l) => l.msg === 'listening', 30_000)) as {traffic: {port: number}};
  return {...c, trafficPort: line.traffic.port};
}

async function startDemoApp(podName: string): Promise<Child & {port: number}> {
  const c = startChild([DEMO_APP_MAIN], {PORT: '0', HOST: '127.0.0.1', POD_NAME: podName});
  const line = (await c.waitForLog((l) => l.msg === 'listening', 30_000)) as {port: number};
  return {...c, port: line.port};
}

function pod(name: string, ip: string, labels: Record<string, string>): Pod {
  return {
    metadata: {name, namespace: NS, labels},
    spec: {containers: [{name: 'app', ports: [{containerPort: 8080, name: 'http'}]}], terminationGracePeriodSeconds: 30},
    status: {phase: 'Running', podIP: ip, conditions: [{type: 'Ready', status: 'True'}, {type: 'ContainersReady', status: 'True'}]},
  };
}

function identity(kubeconfig: string, p: Pod): Record<string, string> {
  return {POD_NAME: p.metadata.name!, POD_NAMESPACE: NS, POD_UID: p.metadata.uid!, POD_IPS: p.status!.podIP!, KUBECONFIG: kubeconfig};
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** lameduck's requests (by User-Agent) in [from, to), as `verb resource` -> count. */
function requestsBetween(api: ApiServer, from: number, to: number): {total: number; byKind: Map<string, number>} {
  const byKind = new Map<string, number>();
  let total = 0;
  for (const r of api.requests.filter({since: from})) {
    if (r.time >= to || !r.userAgent.startsWith('lameduck')) continue;
    total++;
    const k = `${r.verb} ${r.resource}`;
    byKind.set(k, (byKind.get(k) ?? 0) + 1);
  }
  return {total, byKind};
}

const describeKinds = (m: Map<string, number>): string =>
  [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `${n}× ${k}`).join(', ') || '—';

interface LifetimeRow {
  watchPod: boolean;
  steady: {total: number; byKind: Map<string, number>};
  termination: {total: number; byKind: Map<string, number>};
  trigger: string;
  drainMs: number;
}

/** One pod lifetime: start, steady state under light traffic, deletion + SIGTERM, exit. */
async function lifetime(api: ApiServer, kubeconfig: string, appPort: number, watchPod: boolean, steadySeconds: number, n: number): Promise<LifetimeRow> {
  const name = `life-${n}`;
  const self = api.store.createPod(pod(name, '127.0.0.1', {app: 'life'}));
  const startedAt = Date.now();
  const ld = await startLameduck({
    LAMEDUCK_UPSTREAM: `http://127.0.0.1:${appPort}`,
    LAMEDUCK_SETTLE: '300ms',
    LAMEDUCK_QUIET: '300ms',
    LAMEDUCK_WATCH_POD: String(watchPod),
    ...identity(kubeconfig, self),
  });
  const load = startLoad({host: '127.0.0.1', port: ld.trafficPort, rps: 20, durationMs: steadySeconds * 1000});
  await load.finished;
  const triggerAt = Date.now();
  api.store.deletePod(NS, name, {gracePeriodSeconds: 30});
  ld.kill('SIGTERM'); // classic sidecar: kubelet signals it at once
  const summary = (await ld.waitForLog((l) => l.msg === 'drain summary', 60_000)) as {trigger: string; drainMs: number};
  await ld.exited;
  await sleep(100); // the last request's log record
  api.store.removePod(NS, name); // what kubelet does once every container exited
  return {
    watchPod,
    steady: requestsBetween(api, startedAt, triggerAt),
    termination: requestsBetween(api, triggerAt, Date.now()),
    trigger: summary.trigger,
    drainMs: summary.drainMs,
  };
}

interface FlipSample {
  latencyMs: number;
  requests: number;
}

/**
 * One drain of a pod behind two Services over three hand-managed slices (as in acceptance test 1): trigger, wait for
 * the EndpointSlice watch, flip the slices one by one, and measure the last flip to the `settling` phase line.
 */
async function flipDrain(api: ApiServer, kubeconfig: string, appPort: number, n: number, stalled: boolean): Promise<FlipSample> {
  const {store} = api;
  const name = `flip-${n}`;
  const labels = {app: name};
  const self = store.createPod(pod(name, '127.0.0.1', labels));
  const peer = store.createPod(pod(`${name}-peer`, `10.77.${Math.floor(n / 250)}.${(n % 250) + 2}`, labels));
  const manual = {'sim.lameduck.dev/manual-endpoints': 'true'};
  for (const svc of [`${name}-web`, `${name}-admin`]) {
    store.createService({metadata: {name: svc, namespace: NS, annotations: manual}, spec: {selector: labels, ports: [{port: 80, targetPort: 8080, name: 'http'}]}});
  }
  const ep = (p: Pod, c: {ready: boolean; serving: boolean; terminating: boolean}) => ({
    addresses: [p.status!.podIP!],
    conditions: c,
    targetRef: {kind: 'Pod', namespace: NS, name: p.metadata.name, uid: p.metadata.uid},
    nodeName: p.spec.nodeName,
  });
  const slice = (sliceName: string, service: string, endpoints: ReturnType<typeof ep>[]): EndpointSlice => ({
    metadata: {name: sliceName, namespace: NS, labels: {'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'bench'}},
    addressType: 'IPv4',
    endpoints,
    ports: [{name: 'http', port: 8080, protocol: 'TCP'}],
  });
  const READY = {ready: true, serving: true, terminating: false};
  const GOING = {ready: false, serving: true, terminating: true};
  store.putEndpointSlice(slice(`${name}-web-a`, `${name}-web`, [ep(self, READY), ep(peer, READY)]));
  store.putEndpointSlice(slice(`${name}-web-b`, `${name}-web`, [ep(self, READY)]));
  store.putEndpointSlice(slice(`${name}-admin-a`, `${name}-admin`, [ep(self, READY)]));

  const ld = await startLameduck({
    LAMEDUCK_UPSTREAM: `http://127.0.0.1:${appPort}`,
    LAMEDUCK_SETTLE: '100ms',
    LAMEDUCK_QUIET: '100ms',
    ...identity(kubeconfig, self),
  });
  const triggerAt = Date.now();
  store.deletePod(NS, name, {gracePeriodSeconds: 30});
  ld.kill('SIGTERM');
  // Until lameduck's EndpointSlice watch is open (its 200 is in the request log).
  const until = Date.now() + 60_000;
  while (!api.requests.filter({since: triggerAt, resource: 'endpointslices', verb: 'watch'}).some((r) => r.userAgent.startsWith('lameduck') && r.status === 200)) {
    if (Date.now() > until) throw new Error(`${name}: no endpointslice watch within 60 s`);
    await sleep(10);
  }
  await sleep(100);
  store.putEndpointSlice(slice(`${name}-web-a`, `${name}-web`, [ep(self, GOING), ep(peer, READY)]));
  await sleep(100);
  store.putEndpointSlice(slice(`${name}-admin-a`, `${name}-admin`, [ep(self, {ready: false, serving: false, terminating: true})]));
  await sleep(100);
  if (stalled) api.faults.stallWatches(true);
  const flipAt = Date.now();
  store.putEndpointSlice(slice(`${name}-web-b`, `${name}-web`, [ep(self, GOING)]));
  const settling = await ld.waitForLog((l) => l.msg === 'phase' && l.to === 'settling', 30_000);
  if (stalled) api.faults.stallWatches(false);
  await ld.exited;
  await sleep(100);
  return {latencyMs: Date.parse(settling.time as string) - flipAt, requests: requestsBetween(api, triggerAt, Date.now()).total};
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function latencyRow(label: string, samples: FlipSample[]): string {
  const ms = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  const req = samples.map((s) => s.requests).sort((a, b) => a - b);
  return `| ${label} | ${samples.length} | ${quantile(ms, 0.5)} | ${ms[0]} | ${quantile(ms, 0.9)} | ${ms[ms.length - 1]} | ${quantile(req, 0.5)} |`;
}

async function main(): Promise<void> {
  const opts = readOptions(process.env);
  const dir = mkdtempSync(join(tmpdir(), 'lameduck-kube-bench-'));
  // The EndpointSlice controller reacts after 300-1000 ms, as a busy real one does: the drain then needs its watch.
  const api = await startApiServer({endpointSliceLag: {minMs: 300, maxMs: 1_000}});
  try {
    const kubeconfig = api.writeKubeconfig(dir, {namespace: NS});
    const app = await startDemoApp('bench');

    // The lifetime pods sit behind one Service (real EndpointSlice controller) with a ready peer: a deletion turns
    // their endpoint terminating and the peer takes over, as in a rollout.
    api.store.createPod(pod('life-peer', '10.77.255.2', {app: 'life'}));
    api.store.createService({metadata: {name: 'life', namespace: NS}, spec: {selector: {app: 'life'}, ports: [{port: 80, targetPort: 8080, name: 'http'}]}});
    const lifetimes: LifetimeRow[] = [];
    for (const [i, watchPod] of [false, true].entries()) {
      process.stderr.write(`lifetime ${i + 1}/2 (LAMEDUCK_WATCH_POD=${watchPod}, ${opts.steadySeconds} s steady)\n`);
      lifetimes.push(await lifetime(api, kubeconfig, app.port, watchPod, opts.steadySeconds, i));
    }
    const watched: FlipSample[] = [];
    for (let i = 0; i < opts.drains; i++) {
      process.stderr.write(`flip drain ${i + 1}/${opts.drains}\n`);
      watched.push(await flipDrain(api, kubeconfig, app.port, i, false));
    }
    const stalled: FlipSample[] = [];
    for (let i = 0; i < opts.stalled; i++) {
      process.stderr.write(`stalled-watch drain ${i + 1}/${opts.stalled}\n`);
      stalled.push(await flipDrain(api, kubeconfig, app.port, opts.drains + i, true));
    }

    const out: string[] = [];
    out.push(`kube-api-cost: ${new Date().toISOString()}, node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    out.push('');
    out.push(
      `API requests per pod lifetime (${opts.steadySeconds} s serving at 20 req/s, then deleted + SIGTERM; one Service with a ready peer, ` +
        'EndpointSlice controller lag 300-1000 ms):',
    );
    out.push('');
    out.push('| LAMEDUCK_WATCH_POD | while serving | termination | termination requests | trigger | drain ms |');
    out.push('|---|---|---|---|---|---|');
    for (const r of lifetimes) {
      out.push(`| ${r.watchPod} | ${r.steady.total} (${describeKinds(r.steady.byKind)}) | ${r.termination.total} | ${describeKinds(r.termination.byKind)} | ${r.trigger} | ${r.drainMs} |`);
    }
    out.push('');
    out.push('Last EndpointSlice flip to `settling` (two Services, three slices flipping 100 ms apart; ms):');
    out.push('');
    out.push('| flip delivered by | drains | median | min | p90 | max | API requests per drain (median) |');
    out.push('|---|---|---|---|---|---|---|');
    out.push(latencyRow('the EndpointSlice watch', watched));
    if (stalled.length > 0) out.push(latencyRow('periodic re-list (watch stalled)', stalled));
    process.stdout.write(out.join('\n') + '\n');
    await sleep(0);
    app.kill('SIGTERM');
  } finally {
    await killAll();
    await api.stop();
    rmSync(dir, {recursive: true, force: true});
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`kube-api-cost: ${(err as Error).stack ?? String(err)}\n`);
    void killAll().finally(() => process.exit(1));
  },
);
