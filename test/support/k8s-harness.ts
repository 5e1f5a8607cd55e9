// Shared set-up of the k8s-*.test.ts acceptance tests : the real lameduck process (dist/proxy/src/main.js)
// with the real client-node inside it, pointed at the local API server by KUBECONFIG, in front of a real demo-app.
// The test plays the parts a cluster would: kubelet (deletes, hooks, signals, readiness), the EndpointSlice
// controller (the simulation's, or the test flipping slices by hand), and kube-proxy (the load moving away).
import {httpGet} from '../../sim/http.js';
import {startLoad as startSupportLoad, type Load, type LoadOptions, type RequestRecord} from '../../sim/load.js';
import {killAll, startLameduck, type Lameduck} from '../../sim/processes.js';
import type {RequestRecord as ApiRequest} from '../../sim/kube/request-log.js';
import type {EndpointSlice, Pod} from '../../sim/kube/types.js';
import {NS, makePod, useFixture, type Fixture} from './kube-fixture.js';

export {NS} from './kube-fixture.js';

/** What the real client sends as User-Agent (kube/index.ts): tells lameduck's API requests from the test's own. */
export const LAMEDUCK_USER_AGENT = 'lameduck';

/** Loads and probers still running; stopHelpers() ends them. */
const stoppers = new Set<() => Promise<void>>();

/** Short drain timings so every scenario runs in a few seconds. */
export const QUICK = {
  LAMEDUCK_SETTLE: '300ms',
  LAMEDUCK_QUIET: '300ms',
  LAMEDUCK_FALLBACK_DELAY: '10s',
  LAMEDUCK_LOG_LEVEL: 'info',
};

/** A running, Ready pod in the store whose IP is the lameduck host (127.0.0.1), with a grace period. */
export function createSelfPod(fx: Fixture, name: string, labels: Record<string, string>, o: {terminationGracePeriodSeconds?: number} = {}): Pod {
  const base = makePod(name, '127.0.0.1', labels);
  return fx.api.store.createPod({
    ...base,
    spec: {...base.spec, terminationGracePeriodSeconds: o.terminationGracePeriodSeconds ?? 30},
  });
}

/** The Downward API identity of `pod` plus API access, as the chart gives the sidecar. */
export function identityEnv(fx: Fixture, pod: Pod): Record<string, string> {
  return {
    POD_NAME: pod.metadata.name!,
    POD_NAMESPACE: NS,
    POD_UID: pod.metadata.uid!,
    POD_IPS: (pod.status?.podIPs ?? [{ip: pod.status!.podIP!}]).map((p) => p.ip).join(','),
    KUBECONFIG: fx.kubeconfig,
  };
}

/** Starts lameduck as the sidecar of `pod`, in front of the app on `upstreamPort`. */
export function startSidecar(fx: Fixture, pod: Pod, upstreamPort: number, env: Record<string, string> = {}): Promise<Lameduck> {
  return startLameduck({
    ...QUICK,
    LAMEDUCK_UPSTREAM: `http://127.0.0.1:${upstreamPort}`,
    ...identityEnv(fx, pod),
    ...env,
  });
}

/** Epoch ms of the first `phase` line moving to `to` (undefined if there is none yet). */
export function phaseAt(ld: Lameduck, to: string): number | undefined {
  const line = ld.logs.find((l) => l.msg === 'phase' && l.to === to);
  return line ? Date.parse(line.time as string) : undefined;
}

/** Waits for the `phase` line moving to `to` and returns its time (epoch ms). */
export async function waitForPhase(ld: Lameduck, to: string, timeoutMs = 45_000): Promise<number> {
  const line = await ld.waitForLog((l) => l.msg === 'phase' && l.to === to, timeoutMs);
  return Date.parse(line.time as string);
}

export interface Summary {
  trigger: string;
  deadlineMs: number;
  deadlineSource: string;
  deregistration: string;
  fallbackReason?: string;
  dnsSettleMs?: number;
  podTerminating?: boolean;
  deletionConfirmed: boolean;
  timeToDeregistrationMs: number;
  drainMs: number;
  phasesMs: Record<string, number>;
  drainedRequests: number;
  cut: {requests: number; upgrades: number; connections: number};
}

/**
 * The generous default covers a drain that starts by importing client-node: 1.5 s of CPU that took up to 20 s on
 * the shared 2-core machines these tests run on.
 */
export async function waitForSummary(ld: Lameduck, timeoutMs = 45_000): Promise<Summary> {
  return (await ld.waitForLog((l) => l.msg === 'drain summary', timeoutMs)) as unknown as Summary;
}

/** The API requests lameduck made (by its User-Agent), optionally since an epoch ms. */
export function lameduckRequests(fx: Fixture, since?: number): ApiRequest[] {
  return fx.api.requests.filter({since}).filter((r) => r.userAgent.startsWith(LAMEDUCK_USER_AGENT));
}

/** Waits until lameduck has an EndpointSlice watch open (its 200 is in the request log) after `since`. */
export async function waitForSliceWatch(fx: Fixture, since: number, timeoutMs = 45_000): Promise<ApiRequest> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const w = lameduckRequests(fx, since).find((r) => r.resource === 'endpointslices' && r.verb === 'watch' && r.status === 200);
    if (w) return w;
    if (Date.now() > until) throw new Error('no endpointslice watch from lameduck');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One value of a metric from lameduck's /metrics (sum over series matching `labels`); NaN if absent. */
export async function scrapeMetric(ld: Lameduck, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await httpGet({host: ld.host, port: ld.adminPort, path: '/metrics'})).body;
  let found = false;
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (!Object.entries(labels).every(([k, v]) => got[k] === v)) continue;
    found = true;
    sum += Number(m[3]);
  }
  return found ? sum : NaN;
}

export async function readyz(ld: Lameduck): Promise<number> {
  return (await httpGet({host: ld.host, port: ld.adminPort, path: '/readyz', timeoutMs: 10_000})).status;
}

export interface ReadinessProbe {
  /** Each change the prober wrote into the pod's Ready condition, with its time (epoch ms). */
  readonly changes: {ready: boolean; at: number}[];
  /** /readyz status codes seen, with their times. */
  readonly seen: {status: number; at: number}[];
  stop(): Promise<void>;
}

/**
 * What kubelet's readiness prober does with lameduck's /readyz: probe it every `periodMs` and write the result into
 * the pod's Ready condition (which the EndpointSlice controller turns into `serving`): unready after
 * `failureThreshold` failures in a row, ready after one success. An unanswered probe (lameduck gone) is a failure.
 */
export function startReadinessProbe(
  fx: Fixture,
  ld: Lameduck,
  podName: string,
  o: {periodMs?: number; failureThreshold?: number} = {},
): ReadinessProbe {
  const periodMs = o.periodMs ?? 100;
  const failureThreshold = o.failureThreshold ?? 1;
  const changes: {ready: boolean; at: number}[] = [];
  const seen: {status: number; at: number}[] = [];
  let running = true;
  let failuresInRow = 0;
  const loop = (async () => {
    while (running) {
      let status = 0;
      try {
        status = await readyz(ld);
      } catch {
        status = 0;
      }
      if (!running) break;
      seen.push({status, at: Date.now()});
      failuresInRow = status === 200 ? 0 : failuresInRow + 1;
      const pod = fx.api.store.getPod(NS, podName);
      if (!pod) break;
      const current = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      const ready = current ? failuresInRow < failureThreshold : status === 200;
      if (current !== ready) {
        fx.api.store.setPodReady(NS, podName, ready);
        changes.push({ready, at: Date.now()});
      }
      await new Promise((r) => setTimeout(r, periodMs));
    }
  })();
  const probe: ReadinessProbe = {
    changes,
    seen,
    async stop() {
      running = false;
      await loop;
      stoppers.delete(probe.stop);
    },
  };
  stoppers.add(probe.stop);
  return probe;
}

/**
 * The failed requests of a load, one short line each (a readable diff when a test fails), each with where it went
 * relative to lameduck's phases.
 */
export function failures(records: readonly RequestRecord[], ld?: Lameduck): string[] {
  const phases = ld ? ld.logs.filter((l) => l.msg === 'phase').map((l) => ({to: l.to as string, at: Date.parse(l.time as string)})) : [];
  return records
    .filter((r) => r.outcome !== 'ok')
    .slice(0, 10)
    .map((r) => {
      const phase = phases.filter((p) => p.at <= r.start).at(-1)?.to ?? 'serving';
      return `${r.kind} ${r.path} -> ${r.target ?? '?'}: ${r.outcome} ${r.status ?? ''} ${r.error ?? ''} (started in ${phase})`;
    });
}

/**
 * startLoad, remembered so that stopHelpers() ends it even when a test fails half-way. Requests get 30 s rather than
 * 10 s: these tests look for dropped requests, and on a starved 2-core machine a request that waits behind the
 * sidecar's one-time client import (about 200 ms of event-loop blocking when idle, seconds when the machine is busy)
 * is slow, not dropped.
 */
export function startLoad(opts: LoadOptions): Load {
  const load = startSupportLoad({timeoutMs: 30_000, ...opts});
  const stop = async (): Promise<void> => void (await load.stop());
  stoppers.add(stop);
  void load.finished.then(() => stoppers.delete(stop));
  return load;
}

/** Stops every load and readiness prober started here that is still running (afterAll), so jest can exit. */
export async function stopHelpers(): Promise<void> {
  await Promise.all([...stoppers].map((stop) => stop()));
}

/**
 * The fixture of a k8s-*.test.ts file (useFixture): after the file's tests, the loads and probers started here are
 * stopped and the lameduck and demo-app processes killed before the API server goes.
 */
export function useK8sFixture(): Fixture {
  return useFixture({
    teardown: async () => {
      await stopHelpers();
      await killAll();
    },
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface PrestopAnswer {
  status: number;
  body: string;
  /** Epoch ms when the answer arrived. */
  answeredAt: number;
  tookMs: number;
}

/**
 * The app container's preStop hook: `GET /prestop` on the admin port, as kubelet's httpGet does (no own timeout).
 * `method: 'POST'` with the token is an operator's forced drain instead.
 */
export async function prestop(ld: Lameduck, o: {token?: string; timeoutMs?: number; method?: 'GET' | 'POST'} = {}): Promise<PrestopAnswer> {
  const res = await httpGet({
    host: ld.host,
    port: ld.adminPort,
    path: '/prestop',
    method: o.method ?? 'GET',
    headers: {'user-agent': 'kube-lifecycle/1.33', ...(o.token ? {'x-lameduck-token': o.token} : {})},
    timeoutMs: o.timeoutMs ?? 90_000,
  });
  return {status: res.status, body: res.body, answeredAt: Date.now(), tookMs: res.tookMs};
}

export interface EndpointChange {
  at: number;
  service: string;
  conditions: {ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null};
}

/**
 * Records every change of `podName`'s endpoint conditions in any EndpointSlice, with the time the store committed it
 * (the moment a watch could first deliver it). Returns the list and an unsubscribe function.
 */
export function recordEndpointChanges(fx: Fixture, podName: string): {changes: EndpointChange[]; stop(): void} {
  const changes: EndpointChange[] = [];
  const last = new Map<string, string>();
  const stop = fx.api.store.on<EndpointSlice>('endpointslices', (e) => {
    const slice = e.object;
    const service = slice.metadata.labels?.['kubernetes.io/service-name'] ?? '';
    const ep = e.type === 'DELETED' ? undefined : (slice.endpoints ?? []).find((x) => x.targetRef?.name === podName);
    const key = slice.metadata.name ?? '';
    const conditions = ep?.conditions ?? {};
    const described = ep ? JSON.stringify(conditions) : 'absent';
    if (last.get(key) === described) return;
    if (!last.has(key) && !ep) return;
    last.set(key, described);
    changes.push({at: Date.now(), service, conditions: ep ? {...conditions} : {ready: false, serving: false, terminating: true}});
  });
  return {changes, stop};
}

/** Parses the numbers of a LameduckDrained Event message (events in drain.ts). */
export function parseDrainedMessage(message: string): {drained: number; trigger: string; deregisteredMs: number; outcome: string; drainMs: number; cut: number} | undefined {
  const m =
    /^Drained: (\d+) requests served after the trigger \(([a-z_]+)\), deregistered after (\d+) ms \(([a-z]+)\), drain took (\d+) ms, (\d+) cut at the deadline$/.exec(
      message,
    );
  if (!m) return undefined;
  return {drained: Number(m[1]), trigger: m[2]!, deregisteredMs: Number(m[3]), outcome: m[4]!, drainMs: Number(m[5]), cut: Number(m[6])};
}
