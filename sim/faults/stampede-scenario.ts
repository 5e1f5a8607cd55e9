/**
 * Fault 17 end to end: `pods` real lameduck processes (a rollout's old pods) drain at once against one API server
 * that answers 429 with Retry-After to its first 2 × pods requests. Every drain must still end `deregistered` within its deadline, and the
 * API requests are counted from the server's own log. One shared app behind them (the data plane is not the point).
 */
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {startApiServer} from '../kube/apiserver.js';
import {makePod, makeService} from '../kube/fixtures.js';
import {startDemoApp, startLameduck, type Child, type Lameduck} from '../processes.js';
import {judge, type Verdict} from './verdict.js';
import {within} from '../cluster/wait.js';

const NS = 'fleet';

async function kill(c: Child): Promise<void> {
  if (c.child.exitCode === null && c.child.signalCode === null) c.kill('SIGKILL');
  await c.exited;
}

/** A start-up that times out on a saturated machine is retried once: the stampede is about the drains, not start-up. */
async function startWithRetry(env: Record<string, string>): Promise<Lameduck> {
  try {
    return await startLameduck(env);
  } catch {
    return startLameduck(env);
  }
}

export async function stampede(pods = 50, deadlineMs = 20_000): Promise<Verdict> {
  const api = await startApiServer();
  const dir = mkdtempSync(join(tmpdir(), 'lameduck-stampede-'));
  const app = await startDemoApp();
  const lds: Lameduck[] = [];
  try {
    api.store.createService(makeService({name: 'fleet', namespace: NS, selector: {app: 'fleet'}}));
    const uids: string[] = [];
    for (let i = 0; i < pods; i++) {
      const p = api.store.createPod(makePod({name: `old-${i}`, namespace: NS, ip: `127.0.${1 + Math.floor(i / 200)}.${(i % 200) + 20}`, ready: true, labels: {app: 'fleet'}}));
      uids.push(p.metadata.uid!);
    }
    for (let i = 0; i < 5; i++) api.store.createPod(makePod({name: `new-${i}`, namespace: NS, ip: `127.0.9.${i + 20}`, ready: true, labels: {app: 'fleet'}}));
    await api.whenControllersIdle();
    const kubeconfig = api.writeKubeconfig(dir, {namespace: NS});
    // Start in small batches: 2 shared cores, and a start-up is mostly CPU.
    for (let i = 0; i < pods; i += 3) {
      const batch = await Promise.all(
        Array.from({length: Math.min(3, pods - i)}, (_, k) =>
          startWithRetry({
            LAMEDUCK_UPSTREAM: `http://127.0.0.1:${app.port}`,
            LAMEDUCK_DRAIN_TIMEOUT: `${deadlineMs}ms`,
            LAMEDUCK_SETTLE: '300ms',
            LAMEDUCK_QUIET: '300ms',
            POD_NAME: `old-${i + k}`,
            POD_NAMESPACE: NS,
            POD_UID: uids[i + k]!,
            POD_IPS: `127.0.${1 + Math.floor((i + k) / 200)}.${((i + k) % 200) + 20}`,
            KUBECONFIG: kubeconfig,
          }),
        ),
      );
      lds.push(...batch);
    }
    const since = Date.now();
    // "For a while" by count: on 2 shared cores, 50 drains take seconds just to reach the API, so a 3 s window could
    // pass before most of them asked; the first 2 × pods requests get 429 + Retry-After: 1 whenever they come.
    api.faults.throttle({count: 2 * pods, retryAfterSeconds: 1});
    for (let i = 0; i < pods; i++) api.store.deletePod(NS, `old-${i}`, {gracePeriodSeconds: 30});
    const triggerAt = Date.now();
    for (const ld of lds) ld.kill('SIGTERM');
    const exits = await Promise.all(lds.map((ld) => within(ld.exited, deadlineMs + 10_000, undefined)));
    const failures: string[] = [];
    const kinds = new Map<string, number>();
    for (const [i, ld] of lds.entries()) {
      const s = ld.logs.find((l) => l.msg === 'drain summary') as {deregistration?: string} | undefined;
      const kind = s?.deregistration ?? 'no summary';
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      if (exits[i]?.code !== 0) failures.push(`old-${i}: exit ${exits[i]?.code ?? 'none'}`);
    }
    if ((kinds.get('deregistered') ?? 0) !== pods) failures.push(`outcomes ${JSON.stringify(Object.fromEntries(kinds))}`);
    const overrunMs = Math.max(...exits.map((e) => (e ? e.at - triggerAt - deadlineMs : Infinity)));
    const reqs = api.requests.filter({since});
    const throttled = reqs.filter((r) => r.status === 429).length;
    const lastExit = Math.max(...exits.map((e) => e?.at ?? NaN)) - triggerAt;
    const byVerb = new Map<string, number>();
    for (const r of reqs) byVerb.set(`${r.verb} ${r.resource}`, (byVerb.get(`${r.verb} ${r.resource}`) ?? 0) + 1);
    return judge(
      {
        id: '17',
        name: `${pods} pods draining at once, API answering 429 to the first ${2 * pods} requests`,
        lost: 0,
        total: 0,
        allowedLost: 0,
        deadlineMs,
        overrunMs,
        log: {want: `drain summary deregistered in every pod (${kinds.get('deregistered') ?? 0}/${pods})`, seen: (kinds.get('deregistered') ?? 0) === pods},
        metric: {want: `API answered 429 (server request log) ≥ ${pods}`, value: throttled, ok: throttled >= pods},
        notes: [`last exit ${lastExit} ms after the trigger; ${reqs.length} API requests (${(reqs.length / pods).toFixed(1)}/pod): ${JSON.stringify(Object.fromEntries(byVerb))}; no load (API side only)`],
      },
      failures,
    );
  } finally {
    await Promise.all([...lds.map(kill), kill(app)]);
    await api.stop();
    rmSync(dir, {recursive: true, force: true});
  }
}
