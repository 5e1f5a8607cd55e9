/**
 * Runs one showdown scenario end to end on the local cluster simulation and measures it:
 * the API server (with its EndpointSlice controller and lag), the kubelet running real pods, the Deployment
 * controller, a kube-proxy-like L4 balancer on a virtual IP and an ingress-like L7 balancer (each with its own
 * propagation lag), and open-loop load through both while the Deployment rolls.
 *
 * Every part is torn down in `finally`, whatever happened: no process, port, timer or temp file outlives a run.
 */
import {startInjector, type Injector} from './injector.js';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {startApiServer, type ApiServer} from '../kube/apiserver.js';
import type {Lag} from '../kube/reconcile-queue.js';
import type {Pod} from '../kube/types.js';
import {summarize, type LoadReport, type Outcome, type RequestRecord} from '../load.js';
import {createDeploymentController, TEMPLATE_HASH_LABEL, type DeploymentController, type RolloutRecord} from './deployment-controller.js';
import {readChartPresets} from './chart-presets.js';
import {COREDNS_CACHE_MS, COREDNS_TTL_MS, type DnsStats} from './cluster-dns.js';
import {createEndpointView, type EndpointView} from './endpoint-view.js';
import {dataPlaneScript, startDataPlane, type DataPlane, type DataPlaneLoad, type DataPlaneRecord, type DataPlaneResult} from './data-plane.js';
import {seededRandom} from './propagation-lag.js';
import {createImageMap, findRepoRoot, type ImageMap} from './images.js';
import type {IngressStats} from './ingress.js';
import {createKubelet, type Kubelet} from './kubelet.js';
import type {L4Stats} from './l4-balancer.js';
import {createLoopbackIpPool} from './loopback-ips.js';
import {createPodRecorder, type PodRecorder} from './pod-recorder.js';
import {acquireRunLock} from './run-lock.js';
import {DEFAULT_LAGS, defineScenario, maxLag, type Lags, type ScenarioDefinition, type ScenarioName, type ScenarioParams} from './scenarios.js';
import {podSummaries, type PodSummary} from './pod-summary.js';
import {routableEndpoints} from './routing.js';
import {sleep, waitFor} from './wait.js';

export interface RunOptions {
  /** One of the showdown's scenarios, or `custom` with `definition` (e.g. a Deployment and Service rendered by helm). */
  scenario: ScenarioName | 'custom';
  /** The Deployment and Service to roll, instead of a named scenario's (scenario: 'custom'). */
  definition?: ScenarioDefinition;
  replicas?: number;
  /**
   * Simulated nodes. Each has its own kubelet (pods are spread over them in turn), its own kube-proxy with its own
   * lagged view of the slices, and its own share of the clients. Default 3.
   */
  nodes?: number;
  /** Seed of the propagation lag draws (each view gets its own stream from it). Default 1. */
  seed?: number;
  /** Total request rate (both load paths). Default 200. */
  rps?: number;
  /** Consecutive rolling updates. Default 1. */
  rollouts?: number;
  lags?: Partial<Lags>;
  /** Share of the rate sent through the ingress-like L7 balancer; the rest goes to the Service's virtual IP. Default 0.25. */
  ingressShare?: number;
  /** Scenario knobs; defaults below. */
  params?: Partial<ScenarioParams>;
  /** Share of requests that are `/slow?ms=slowMs` (default 0.05, 1000 ms) and `/stream` (default 0.03). */
  slowFraction?: number;
  slowMs?: number;
  streamFraction?: number;
  keepAliveFraction?: number;
  /** gRPC scenarios: long-lived channels per node (default 4) and server streams open per node (default 2). */
  grpcChannelsPerNode?: number;
  grpcStreamsPerNode?: number;
  /**
   * Headless scenarios: how long the cluster DNS's answers live (its TTL and its cache alike). Default CoreDNS's 30 s
   * (cluster-dns.ts). A test that only needs clients to hold a gone pod's address for a while may shorten it: the run
   * lasts at least this long after the rollout (see the cooldown below).
   */
  dnsTtlMs?: number;
  /** Load before the first rollout and after the last pod is gone. Default 1000 ms each. */
  warmupMs?: number;
  cooldownMs?: number;
  /** Bound on one rollout plus the old pods' termination. Default 120 s. */
  rolloutTimeoutMs?: number;
  /** HTTPS between lameduck and the API server. Default true (@kubernetes/client-node refuses plain HTTP unless TLS verification is skipped). */
  tls?: boolean;
  images?: ImageMap;
  /** Run the balancers and load in this process instead of a child (see data-plane.ts). Default false. */
  inlineDataPlane?: boolean;
  /** Wait for the machine-wide run lock first (see run-lock.ts). Default true. */
  exclusive?: boolean;
  onProgress?: (p: Progress) => void;
  /** Ends the run early (teardown still runs); the result then has `aborted: true`. */
  signal?: AbortSignal;
}

export interface Progress {
  scenario: string;
  stage: 'waiting' | 'starting' | 'warmup' | 'rollout' | 'draining' | 'cooldown' | 'done';
  rollout: number;
  rollouts: number;
  elapsedMs: number;
  requests: number;
  failed: number;
  pods: {name: string; state: string}[];
}

export interface SecondBucket {
  /** Seconds since the run's start. */
  t: number;
  ok: number;
  failed: number;
}

export interface ScenarioResult {
  scenario: string;
  description: string;
  params: ScenarioParams;
  lags: Lags;
  rps: number;
  startedAt: number;
  endedAt: number;
  aborted: boolean;
  /** Both load paths together. */
  requests: Omit<LoadReport, 'records'>;
  /** Failed requests by outcome (only non-ok outcomes). */
  failedByKind: Partial<Record<Outcome, number>>;
  byPath: {service: Omit<LoadReport, 'records'>; ingress: Omit<LoadReport, 'records'>; dns: Omit<LoadReport, 'records'>};
  /**
   * Each rolling update: `durationMs` until every new pod was Ready and every old one deleted (what `kubectl rollout
   * status` waits for), `untilOldPodsGoneMs` until the last old pod was gone too (its drain included).
   */
  rollouts: (RolloutRecord & {durationMs?: number; untilOldPodsGoneMs?: number})[];
  pods: PodSummary[];
  /** Longest deletion → all containers exited among the pods that terminated. */
  longestDrainMs: number;
  /** Longest in-flight request that completed (ok), ms: the floor's second term. */
  longestRequestMs: number;
  /**
   * Per terminated pod: how long after its deletion the last data plane still routed new requests to it, the longest
   * request it had in flight during that time, the drain's floor (their sum, docs/demo.md's definition) and the drain time
   * (deletion → every container exited) over that floor.
   */
  floors: {pod: string; routedForMs: number; longestRequestMs: number; floorMs: number; drainMs: number; ratio: number}[];
  timeline: SecondBucket[];
  /** Every node's kube-proxy together, and each one. */
  lb: L4Stats;
  lbByNode: L4Stats[];
  ingress: IngressStats;
  dns: DnsStats;
  nodes: number;
  /** The Service is headless: the load went through DNS-caching clients. */
  headless: boolean;
  /** gRPC scenarios: the calls, and the broken server streams (see grpcSummary). */
  grpc?: GrpcSummary;
  /** The longest propagation lag any node's kube-proxy drew in this run (ms), and how many draws exceeded settle. */
  proxyLag: {slowestMs: number; draws: number; overSettle: number};
  /** Every request (for the SVG timeline and tests); with `via` (and `node` for the Service's virtual IP). */
  records: DataPlaneRecord[];
  recorder: PodRecorder;
  /** lameduck's `drain summary` log lines, per pod. */
  drainSummaries: {pod: string; summary: Record<string, unknown>}[];
}

export const DEFAULT_PARAMS: ScenarioParams = {
  replicas: 3,
  gracePeriodSeconds: 30,
  sleepSeconds: 5,
  // lameduck's timing: the library chart's defaults (charts/lameduck/values.yaml) unless given.
  settleMs: 0,
  quietMs: 0,
  fallbackDelayMs: 0,
  maxSurge: 1,
  maxUnavailable: 0,
  probePeriodSeconds: 1,
};

/** The settle that covers a kube-proxy lag distribution's slowest sync, in whole seconds as a chart value would be. */
export function longLivedSettleMs(lag: Lags['loadBalancer']): number {
  return Math.ceil(maxLag(lag) / 1000) * 1000;
}

/** terminationGracePeriodSeconds of the kind (b) scenarios (unless given). */
export const LEGACY_GRACE_SECONDS = 15;

/**
 * terminationGracePeriodSeconds of the headless scenarios (unless given): a DNS-routed pod has to outlast the cached
 * answers (30 s TTL), so the 30 s default leaves no room for it.
 */
export const HEADLESS_GRACE_SECONDS = 60;

const strip = (r: LoadReport): Omit<LoadReport, 'records'> => {
  const {records: _r, ...rest} = r;
  return rest;
};

export async function runScenario(opts: RunOptions): Promise<ScenarioResult> {
  const lags: Lags = {...DEFAULT_LAGS, ...opts.lags};
  const rps = opts.rps ?? 200;
  const rolloutCount = opts.rollouts ?? 1;
  const nodeCount = opts.nodes ?? 3;
  if (!Number.isInteger(nodeCount) || nodeCount < 1) throw new RangeError(`nodes must be a whole number >= 1, got ${opts.nodes}`);
  const seed = opts.seed ?? 1;
  const params: ScenarioParams = {
    ...DEFAULT_PARAMS,
    // Kind (b) pods wait for SIGKILL at the end of the grace period: a shorter one keeps the demo short.
    ...(opts.scenario.startsWith('legacy-b') ? {gracePeriodSeconds: LEGACY_GRACE_SECONDS} : {}),
    ...(opts.scenario.startsWith('headless-') ? {gracePeriodSeconds: HEADLESS_GRACE_SECONDS} : {}),
    replicas: opts.replicas ?? DEFAULT_PARAMS.replicas,
    ...opts.params,
  };
  // lameduck runs as the chart configures it by default, not tuned to the simulated lags: a slow node's kube-proxy
  // can outlast settle, and then only the quiet detector stands between it and a dropped request.
  const repoRoot = findRepoRoot();
  if (!params.settleMs || !params.quietMs || !params.fallbackDelayMs) {
    const chart = readChartPresets(repoRoot);
    params.settleMs ||= chart.settleMs;
    params.quietMs ||= chart.quietMs;
    params.fallbackDelayMs ||= chart.fallbackDelayMs;
  }
  // gRPC clients hold their channels open, so a kube-proxy that still routes to the pod sends it no new connection
  // the quiet detector could see: settle alone must cover the slowest sync. The gRPC lameduck scenarios are set up
  // as docs/http2.md ("Settle for long-lived clients") tells gRPC deployments to be, unless a settle was given.
  if (opts.scenario.startsWith('grpc-lameduck') && !opts.params?.settleMs) {
    params.settleMs = Math.max(params.settleMs, longLivedSettleMs(lags.loadBalancer));
  }
  if (opts.scenario === 'custom' && !opts.definition) throw new RangeError("scenario 'custom' needs a definition");
  const def: ScenarioDefinition = opts.definition ?? defineScenario(opts.scenario as ScenarioName, params);
  const ns = def.deployment.namespace ?? 'default';
  const serviceName = def.service.metadata.name ?? '';
  // The data planes follow the Service's first port (by name, as EndpointSlices carry it).
  const portName = def.service.spec.ports?.[0]?.name ?? '';
  const replicas = def.deployment.replicas;
  const rolloutTimeoutMs = opts.rolloutTimeoutMs ?? 120_000;
  if (opts.dnsTtlMs !== undefined && !(Number.isFinite(opts.dnsTtlMs) && opts.dnsTtlMs > 0)) throw new RangeError(`dnsTtlMs must be a positive number of ms, got ${opts.dnsTtlMs}`);
  // How long a client may keep an answer: the shorter of the TTL and CoreDNS's cache.
  const dnsAnswerMs = opts.dnsTtlMs ?? Math.min(COREDNS_TTL_MS, COREDNS_CACHE_MS);
  const headless = def.headless === true;
  const grpc = def.grpc === true;
  // gRPC clients dial the ClusterIP Service; the L7 ingress (HTTP/1.1) carries none of it.
  const ingressShare = grpc ? 0 : (opts.ingressShare ?? 0.25);
  const images = opts.images ?? createImageMap({repoRoot});
  let startedAt = Date.now();
  let stage: Progress['stage'] = 'starting';
  let rolloutIndex = 0;

  const dir = mkdtempSync(join(tmpdir(), 'lameduck-sim-'));
  const ips = createLoopbackIpPool();
  const recorder = createPodRecorder();
  let api: ApiServer | undefined;
  const kubelets: Kubelet[] = [];
  let deployment: DeploymentController | undefined;
  let injector: Injector | undefined;
  const views: EndpointView[] = [];
  let dataPlane: DataPlane | undefined;
  let dataPlaneResult: DataPlaneResult | undefined;
  const oldPodsGoneAt: number[] = [];
  const lbViews: EndpointView[] = [];
  const viewHistory: Record<string, {at: number; routable: string[]}[]> = {};
  let progressTimer: NodeJS.Timeout | undefined;
  let aborted = false;

  const checkAbort = (): void => {
    if (opts.signal?.aborted) {
      aborted = true;
      throw new ScenarioAbortedError();
    }
  };

  const progress = (): void => {
    if (!opts.onProgress) return;
    const {requests, failed} = dataPlane?.counts() ?? {requests: 0, failed: 0};
    const pods = (api?.store.list<Pod>('pods', ns) ?? []).map((p) => ({
      name: p.metadata.name ?? '',
      state: p.metadata.deletionTimestamp ? 'terminating' : p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? 'ready' : 'starting',
    }));
    opts.onProgress({scenario: def.name, stage, rollout: rolloutIndex, rollouts: rolloutCount, elapsedMs: Date.now() - startedAt, requests, failed, pods});
  };
  const setStage = (s: Progress['stage']): void => {
    stage = s;
    progress();
  };

  let releaseLock: (() => void) | undefined;
  try {
    if (opts.exclusive ?? true) {
      releaseLock = await acquireRunLock({signal: opts.signal, onWait: () => setStage('waiting')});
      // The run starts once it has the machine to itself.
      startedAt = Date.now();
      setStage('starting');
    }
    api = await startApiServer({tls: opts.tls ?? true, endpointSliceLag: lags.controller});
    const kubeconfigPath = api.writeKubeconfig(dir, {namespace: ns});
    if (def.denyApi) api.faults.deny('*', '*');
    const nodeNames = Array.from({length: nodeCount}, (_, i) => `sim-node-${i + 1}`);
    for (const nodeName of nodeNames) kubelets.push(createKubelet({store: api.store, images, ips, kubeconfigPath, recorder, nodeName}));
    api.store.createService(def.service);
    progressTimer = setInterval(progress, 500);
    progressTimer.unref();

    if (def.injected) injector = await startInjector(api, dir);
    deployment = createDeploymentController({store: api.store, deployment: def.deployment, nodes: nodeNames, ...(injector ? {admit: injector.admit} : {})});
    await deployment.waitForRollout(rolloutTimeoutMs);
    checkAbort();

    // One kube-proxy per node, each following the slices with its own draws of the lag; the ingress; CoreDNS.
    let stream = 0;
    const viewOf = (lag: Lags['loadBalancer']): EndpointView =>
      createEndpointView({store: api!.store, namespace: ns, service: serviceName, portName, lag, random: seededRandom(seed * 7919 + ++stream)});
    for (let i = 0; i < nodeCount; i++) lbViews.push(viewOf(lags.loadBalancer));
    const ingressView = viewOf(lags.ingress);
    const dnsView = viewOf(lags.dns);
    views.push(...lbViews, ingressView, dnsView);
    // What each data plane routed to, when: the floor of a drain is when the last of them stopped routing to a pod.
    // Ready-only for the ingress and DNS (no terminating fallback there).
    const tracked: [string, EndpointView, 'kube-proxy' | 'ready-only'][] = headless
      ? [['dns', dnsView, 'ready-only']]
      : [...lbViews.map((v, i) => [`lb${i}`, v, 'kube-proxy'] as [string, EndpointView, 'kube-proxy']), ...(ingressShare > 0 ? [['ingress', ingressView, 'ready-only'] as [string, EndpointView, 'ready-only']] : [])];
    for (const [name, v, policy] of tracked) {
      viewHistory[name] = [{at: Date.now(), routable: routableEndpoints(v.endpoints(), policy).endpoints.map((e) => e.ip)}];
      v.onChange((eps) => viewHistory[name]!.push({at: Date.now(), routable: routableEndpoints(eps, policy).endpoints.map((e) => e.ip)}));
    }
    // The data planes start with the current slices; wait until those list every replica as ready.
    await waitFor('endpoints ready in the data planes', () =>
      views.every((v) => v.endpoints().filter((e) => e.ready).length >= replicas),
      maxLag(lags.controller) + Math.max(maxLag(lags.ingress), maxLag(lags.loadBalancer), maxLag(lags.dns)) + 30_000,
    );
    const nodeHosts = lbViews.map(() => ips.allocate());
    dataPlane = await startDataPlane({
      views: {lb: lbViews, ingress: ingressView, dns: dnsView},
      hosts: {lb: nodeHosts, ingress: ips.allocate()},
      inline: opts.inlineDataPlane,
      processScript: dataPlaneScript(repoRoot),
      dnsTtlMs: opts.dnsTtlMs,
    });

    const loadCommon = {
      keepAliveFraction: opts.keepAliveFraction ?? 0.5,
      slowFraction: opts.slowFraction ?? 0.05,
      slowMs: opts.slowMs ?? 1000,
      streamFraction: opts.streamFraction ?? 0.03,
      timeoutMs: 15_000,
      durationMs: 30 * 60_000,
    };
    const loads: DataPlaneLoad[] = [];
    if (headless) {
      // One client application per node, each with its own resolver cache.
      for (let node = 0; node < nodeCount; node++) loads.push({via: 'dns', node, options: {rps: rps / nodeCount, ...loadCommon}});
    } else {
      const serviceRps = rps * (1 - ingressShare);
      const ingressRps = rps * ingressShare;
      // The Service's clients are spread over the nodes: each goes through its own node's kube-proxy.
      // gRPC: each node's clients hold a few long-lived channels (one connection each) with unary calls and streams.
      const grpcLoad = grpc ? {grpc: {channels: opts.grpcChannelsPerNode ?? 4, streams: opts.grpcStreamsPerNode ?? 2}} : {};
      if (serviceRps > 0) for (let node = 0; node < nodeCount; node++) loads.push({via: 'service', node, options: {rps: serviceRps / nodeCount, ...loadCommon}, ...grpcLoad});
      if (ingressRps > 0) loads.push({via: 'ingress', options: {rps: ingressRps, ...loadCommon}});
    }
    await dataPlane.startLoads(loads);

    setStage('warmup');
    await sleep(opts.warmupMs ?? 1000);
    for (rolloutIndex = 1; rolloutIndex <= rolloutCount; rolloutIndex++) {
      checkAbort();
      setStage('rollout');
      const n = rolloutIndex;
      // `kubectl set env deployment/web ROLLOUT=n`: a new template revision.
      deployment.rollout((t) => {
        const app = t.spec.containers.find((c) => c.name === 'app') ?? t.spec.containers[0]!;
        const env = (app.env as {name: string; value?: string}[] | undefined) ?? [];
        app.env = [...env.filter((e) => e.name !== 'ROLLOUT'), {name: 'ROLLOUT', value: String(n)}];
      });
      await deployment.waitForRollout(rolloutTimeoutMs);
      setStage('draining');
      // The rollout is done when the new pods serve; the old ones are still draining. Wait until they are gone.
      await waitFor('old pods gone', () => {
        checkAbort();
        return api!.store.list<Pod>('pods', ns).every((p) => p.metadata.labels?.[TEMPLATE_HASH_LABEL] === deployment!.status().revision && !p.metadata.deletionTimestamp);
      }, rolloutTimeoutMs, 50);
      oldPodsGoneAt[n - 1] = Date.now();
    }
    rolloutIndex = rolloutCount;
    setStage('cooldown');
    // The data planes still route to the old pods until their lagged views catch up: failures of a bad shutdown
    // keep coming until then, so the run goes on until both views list exactly the current pods.
    await waitFor('data planes caught up', () => {
      checkAbort();
      const current = new Set(api!.store.list<Pod>('pods', ns).map((p) => p.status?.podIP));
      return views.every((v) => v.endpoints().length === replicas && v.endpoints().every((e) => current.has(e.ip) && e.ready));
    }, maxLag(lags.controller) + maxLag(lags.loadBalancer) + maxLag(lags.ingress) + maxLag(lags.dns) + 30_000, 50);
    // DNS-caching clients may hold an answer with a gone pod's IP for a whole TTL after CoreDNS caught up.
    if (headless) await sleep(dnsAnswerMs);
    await sleep(opts.cooldownMs ?? 1000);
  } catch (err) {
    if (!(err instanceof ScenarioAbortedError) && !opts.signal?.aborted) throw err;
    aborted = true;
  } finally {
    clearInterval(progressTimer);
    // Stopping the data plane first ends the load; whatever fails, the cluster is still torn down.
    try {
      dataPlaneResult = await dataPlane?.stop();
    } finally {
      for (const v of views) v.close();
      deployment?.stop();
      await injector?.close();
      await Promise.all(kubelets.map((k) => k.stop()));
      await api?.shutdown();
      rmSync(dir, {recursive: true, force: true});
      releaseLock?.();
    }
  }

  const endedAt = Date.now();
  const records = [...(dataPlaneResult?.records ?? [])];
  records.sort((a, b) => a.start - b.start);
  const all = summarize(records);
  const service = summarize(records.filter((r) => r.via === 'service'));
  const viaIngress = summarize(records.filter((r) => r.via === 'ingress'));
  const failedByKind: Partial<Record<Outcome, number>> = {};
  for (const [k, v] of Object.entries(all.byOutcome) as [Outcome, number][]) if (k !== 'ok' && v > 0) failedByKind[k] = v;

  const timeline: SecondBucket[] = [];
  const seconds = Math.ceil((endedAt - startedAt) / 1000);
  for (let t = 0; t < seconds; t++) timeline.push({t, ok: 0, failed: 0});
  for (const r of records) {
    const b = timeline[Math.min(seconds - 1, Math.max(0, Math.floor((r.end - startedAt) / 1000)))];
    if (!b) continue;
    if (r.outcome === 'ok') b.ok++;
    else b.failed++;
  }

  const pods = podSummaries(recorder, deployment?.events ?? []);
  const drains = pods.map((p) => p.terminationMs).filter((x): x is number => x !== undefined);
  const okDurations = records.filter((r) => r.outcome === 'ok').map((r) => r.end - r.start);
  const drainSummaries = pods.flatMap((p) => recorder.jsonLogs(p.name, 'lameduck').filter((l) => l.entry.msg === 'drain summary').map((l) => ({pod: p.name, summary: l.entry})));

  return {
    scenario: def.name,
    description: def.description,
    params,
    lags,
    rps,
    startedAt,
    endedAt,
    aborted,
    requests: strip(all),
    failedByKind,
    byPath: {service: strip(service), ingress: strip(viaIngress), dns: strip(summarize(records.filter((r) => r.via === 'dns')))},
    rollouts: (deployment?.rollouts ?? []).slice(1).map((r, i) => ({
      ...r,
      durationMs: r.completedAt === undefined ? undefined : r.completedAt - r.startedAt,
      untilOldPodsGoneMs: oldPodsGoneAt[i] === undefined ? undefined : oldPodsGoneAt[i]! - r.startedAt,
    })),
    pods,
    longestDrainMs: drains.length > 0 ? Math.max(...drains) : 0,
    longestRequestMs: okDurations.length > 0 ? Math.max(...okDurations) : 0,
    floors: computeFloors(pods, records, viewHistory, dnsAnswerMs),
    timeline,
    lb: dataPlaneResult?.lb ?? {connections: 0, byPod: {}, fallback: 0, noEndpoint: 0, refused: 0, resets: 0},
    lbByNode: dataPlaneResult?.lbByNode ?? [],
    ingress: dataPlaneResult?.ingress ?? {requests: 0, byPod: {}, badGateway: 0, noEndpoint: 0, cut: 0},
    dns: dataPlaneResult?.dns ?? {queries: 0, lookups: 0, empty: 0},
    nodes: nodeCount,
    headless,
    ...(grpc ? {grpc: grpcSummary(records)} : {}),
    proxyLag: (() => {
      const drawn = lbViews.flatMap((v) => v.lags());
      return {slowestMs: drawn.length > 0 ? Math.round(Math.max(...drawn)) : 0, draws: drawn.length, overSettle: drawn.filter((d) => d > params.settleMs).length};
    })(),
    records,
    recorder,
    drainSummaries,
  };
}

export interface GrpcSummary {
  /** Calls: unary ones, server streams; failed ones of each (any non-OK status). */
  unary: number;
  unaryFailed: number;
  streams: number;
  /** Server streams that ended with a non-OK status (or OK before their last message). */
  brokenStreams: number;
  /** Of those, the ones whose connection had received no GOAWAY before the break: nobody told the client to move. */
  brokenNotTold: number;
  /** Failed calls of any kind whose connection had received no GOAWAY before they failed. */
  failedNotTold: number;
}

/** What the gRPC load's records say (sim/grpc-load.ts). */
export function grpcSummary(records: readonly RequestRecord[]): GrpcSummary {
  const out: GrpcSummary = {unary: 0, unaryFailed: 0, streams: 0, brokenStreams: 0, brokenNotTold: 0, failedNotTold: 0};
  for (const r of records) {
    const failed = r.outcome !== 'ok';
    if (r.kind === 'grpc-unary') {
      out.unary++;
      if (failed) out.unaryFailed++;
    } else if (r.kind === 'grpc-stream') {
      out.streams++;
      if (failed) out.brokenStreams++;
      if (failed && !r.toldToReconnect) out.brokenNotTold++;
    } else continue;
    if (failed && !r.toldToReconnect) out.failedNotTold++;
  }
  return out;
}

export class ScenarioAbortedError extends Error {
  readonly code = 'SCENARIO_ABORTED';
  constructor() {
    super('scenario aborted');
    this.name = 'ScenarioAbortedError';
  }
}

export type {Lag};

/** See ScenarioResult.floors. */
function computeFloors(
  pods: PodSummary[],
  records: RequestRecord[],
  history: Record<string, {at: number; routable: string[]}[]>,
  dnsAnswerMs: number,
): ScenarioResult['floors'] {
  const out: ScenarioResult['floors'] = [];
  for (const p of pods) {
    if (p.terminatingAt === undefined || p.terminationMs === undefined || !p.ip) continue;
    let routedUntil = p.terminatingAt;
    for (const name of Object.keys(history)) {
      // The first snapshot after the deletion that no longer routes to the pod (later ones never route to it again).
      const stop = history[name]!.find((h) => h.at >= p.terminatingAt! && !h.routable.includes(p.ip!));
      // A DNS client may still hold an answer naming the pod for a whole TTL after CoreDNS dropped it.
      if (stop) routedUntil = Math.max(routedUntil, stop.at + (name === 'dns' ? dnsAnswerMs : 0));
    }
    // The longest request the pod had in flight during its drain: served by it, running at some point between the
    // deletion and the moment the last data plane stopped sending to it.
    const served = records
      .filter((r) => r.pod === p.name && r.outcome === 'ok' && r.end >= p.terminatingAt! && r.start <= routedUntil)
      .map((r) => r.end - r.start);
    const longestRequestMs = served.length > 0 ? Math.max(...served) : 0;
    const routedForMs = routedUntil - p.terminatingAt;
    const floorMs = routedForMs + longestRequestMs;
    out.push({pod: p.name, routedForMs, longestRequestMs, floorMs, drainMs: p.terminationMs, ratio: floorMs > 0 ? p.terminationMs / floorMs : NaN});
  }
  return out;
}
