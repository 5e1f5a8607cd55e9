/**
 * The data plane of a scenario — the kube-proxy-like L4 balancer, the ingress-like L7 balancer and the load
 * generators in front of them — run in a child process of its own.
 *
 * Why a separate process: every request crosses the data plane several times (client → balancer → pod and back),
 * which costs far more CPU than the API server, the kubelet and the controllers. In one process with them it would
 * compete for one core's share of a busy machine, fall behind, overflow its accept queues and turn into spurious
 * multi-second timeouts that have nothing to do with how the pods shut down. A process of its own gets its own
 * share (and a core of its own on an idle two-core machine), as kube-proxy and the clients would on a real node.
 *
 * The lagged endpoint views stay in the parent (they follow the API store); each applied snapshot is sent to the
 * child, which routes with it from then on. `inline: true` runs the same parts in-process (no build needed).
 */
import {fork, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import {join} from 'node:path';
import {startLoad, type LoadOptions, type RequestRecord} from '../load.js';
import {startGrpcLoad, type GrpcLoadOptions} from '../grpc-load.js';
import type {EndpointView} from './endpoint-view.js';
import {startIngress, type Ingress, type IngressStats} from './ingress.js';
import {startL4Balancer, type L4Balancer, type L4Stats} from './l4-balancer.js';
import type {ViewEndpoint} from './routing.js';
import {createClusterDns, createDnsClient, type DnsStats} from './cluster-dns.js';

export type Via = 'service' | 'ingress' | 'dns';

export interface DataPlaneLoad {
  via: Via;
  /** For `service`: the node whose kube-proxy the clients go through (index into the per-node views). Default 0. */
  node?: number;
  options: Omit<LoadOptions, 'host' | 'port' | 'pickTarget'>;
  /**
   * A gRPC load (grpc-load.ts) instead of HTTP, through the Service's virtual IP only: long-lived channels with unary
   * calls at `options.rps` (with `options.timeoutMs` and `durationMs`) and a few long server streams.
   */
  grpc?: Omit<GrpcLoadOptions, 'host' | 'port' | 'rps' | 'timeoutMs' | 'durationMs'>;
}

/** What the data plane needs of a load, HTTP or gRPC. */
interface RunningLoad {
  records: RequestRecord[];
  stop(): Promise<unknown>;
}

export type DataPlaneRecord = RequestRecord & {via: Via; node?: number};

export interface DataPlaneResult {
  records: DataPlaneRecord[];
  /** Every node's kube-proxy together. */
  lb: L4Stats;
  lbByNode: L4Stats[];
  ingress: IngressStats;
  dns: DnsStats;
}

export interface DataPlane {
  /** One kube-proxy per node: each node's clients connect to the Service's virtual IP through their own node's. */
  readonly lbs: {host: string; port: number}[];
  readonly ingress: {host: string; port: number};
  startLoads(loads: DataPlaneLoad[]): Promise<void>;
  /** Requests completed so far and how many failed (for progress displays; refreshed about twice a second). */
  counts(): {requests: number; failed: number};
  /** Stops the loads (waiting for what is in flight), closes the balancers, returns every record. Idempotent. */
  stop(): Promise<DataPlaneResult>;
}

export interface DataPlaneViews {
  /** One view per node's kube-proxy, each with its own lag. */
  lb: EndpointView[];
  ingress: EndpointView;
  /** What CoreDNS's kubernetes plugin sees (headless Services). */
  dns: EndpointView;
}

export interface DataPlaneOptions {
  views: DataPlaneViews;
  hosts: {lb: string[]; ingress: string};
  /** Run in this process instead of a child. */
  inline?: boolean;
  /** The built data-plane-process.js (dist); required unless inline. */
  processScript?: string;
  /** Cluster DNS answers' lifetime, TTL and cache alike (cluster-dns.ts). Default CoreDNS's 30 s. */
  dnsTtlMs?: number;
}

export class DataPlaneError extends Error {
  constructor(readonly code: 'DATA_PLANE_MISSING' | 'DATA_PLANE_FAILED', message: string, options?: {cause?: unknown}) {
    super(message, options);
    this.name = 'DataPlaneError';
  }
}

export type ViewName = {kind: 'lb'; node: number} | {kind: 'ingress'} | {kind: 'dns'};

/** Messages parent → child. */
export type ToChild =
  | {type: 'start'; hosts: {lb: string[]; ingress: string}; endpoints: {lb: ViewEndpoint[][]; ingress: ViewEndpoint[]; dns: ViewEndpoint[]}; dnsTtlMs?: number}
  | {type: 'endpoints'; which: ViewName; endpoints: ViewEndpoint[]}
  | {type: 'load'; loads: DataPlaneLoad[]}
  | {type: 'stop'};

/** Messages child → parent. */
export type ToParent =
  | {type: 'ready'; lbs: {host: string; port: number}[]; ingress: {host: string; port: number}}
  | {type: 'loading'}
  | {type: 'counts'; requests: number; failed: number}
  | {type: 'result'; result: DataPlaneResult}
  | {type: 'error'; message: string};

/** An EndpointView whose endpoints are set from outside (the child's copy of the parent's lagged view). */
export function createStaticView(initial: ViewEndpoint[]): EndpointView & {set(endpoints: ViewEndpoint[]): void} {
  let current = initial;
  const listeners = new Set<(e: ViewEndpoint[]) => void>();
  return {
    endpoints: () => current,
    set(endpoints) {
      current = endpoints;
      for (const l of listeners) l(current);
    },
    setLag() {},
    lags: () => [],
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close() {
      listeners.clear();
    },
  };
}

function sumL4(all: L4Stats[]): L4Stats {
  const out: L4Stats = {connections: 0, byPod: {}, fallback: 0, noEndpoint: 0, refused: 0, resets: 0};
  for (const s of all) {
    out.connections += s.connections;
    out.fallback += s.fallback;
    out.noEndpoint += s.noEndpoint;
    out.refused += s.refused;
    out.resets += s.resets;
    for (const [pod, n] of Object.entries(s.byPod)) out.byPod[pod] = (out.byPod[pod] ?? 0) + n;
  }
  return out;
}

/** The parts themselves, wherever they run. */
export async function startDataPlaneParts(opts: {views: DataPlaneViews; hosts: {lb: string[]; ingress: string}; dnsTtlMs?: number}): Promise<{
  lbs: L4Balancer[];
  ingress: Ingress;
  startLoads(loads: DataPlaneLoad[]): Promise<void>;
  counts(): {requests: number; failed: number};
  stop(): Promise<DataPlaneResult>;
}> {
  const lbs: L4Balancer[] = [];
  let ingress: Ingress;
  try {
    for (let i = 0; i < opts.views.lb.length; i++) lbs.push(await startL4Balancer({view: opts.views.lb[i]!, host: opts.hosts.lb[i]!}));
    ingress = await startIngress({view: opts.views.ingress, host: opts.hosts.ingress});
  } catch (err) {
    await Promise.all(lbs.map((lb) => lb.close()));
    throw err;
  }
  const dns = createClusterDns({view: opts.views.dns, ttlMs: opts.dnsTtlMs, cacheMs: opts.dnsTtlMs});
  const loads: {load: RunningLoad; via: Via; node?: number}[] = [];
  let stopping: Promise<DataPlaneResult> | undefined;
  return {
    lbs,
    ingress,
    async startLoads(list) {
      for (const l of list) {
        if (l.grpc) {
          if (l.via !== 'service') throw new DataPlaneError('DATA_PLANE_FAILED', `a gRPC load goes through the Service's virtual IP, not ${l.via}`);
          const node = (l.node ?? 0) % lbs.length;
          const lb = lbs[node]!;
          const {rps, timeoutMs, durationMs} = l.options;
          loads.push({via: 'service', node, load: await startGrpcLoad({...l.grpc, rps, timeoutMs, durationMs, host: lb.host, port: lb.port})});
          continue;
        }
        if (l.via === 'dns') {
          // Each load is one client application with its own resolver cache, dialling pod IPs directly.
          const client = createDnsClient(dns);
          loads.push({via: 'dns', load: startLoad({...l.options, host: '127.0.0.1', port: 1, pickTarget: () => client.pick()})});
          continue;
        }
        const node = l.node ?? 0;
        const target = l.via === 'service' ? lbs[node % lbs.length]! : ingress;
        loads.push({via: l.via, node: l.via === 'service' ? node % lbs.length : undefined, load: startLoad({...l.options, host: target.host, port: target.port})});
      }
    },
    counts() {
      let requests = 0;
      let failed = 0;
      for (const {load} of loads) {
        requests += load.records.length;
        for (const r of load.records) if (r.outcome !== 'ok') failed++;
      }
      return {requests, failed};
    },
    stop() {
      stopping ??= (async () => {
        await Promise.all(loads.map(({load}) => load.stop()));
        await Promise.all(lbs.map((lb) => lb.close()));
        await ingress.close();
        return {
          records: loads.flatMap(({load, via, node}) => load.records.map((r) => (node === undefined ? {...r, via} : {...r, via, node}))),
          lb: sumL4(lbs.map((lb) => lb.stats)),
          lbByNode: lbs.map((lb) => lb.stats),
          ingress: ingress.stats,
          dns: dns.stats,
        };
      })();
      return stopping;
    },
  };
}

async function startInline(opts: DataPlaneOptions): Promise<DataPlane> {
  const parts = await startDataPlaneParts({views: opts.views, hosts: opts.hosts, dnsTtlMs: opts.dnsTtlMs});
  return {
    lbs: parts.lbs.map((lb) => ({host: lb.host, port: lb.port})),
    ingress: {host: parts.ingress.host, port: parts.ingress.port},
    startLoads: (loads) => parts.startLoads(loads),
    counts: () => parts.counts(),
    stop: () => parts.stop(),
  };
}

async function startChild(opts: DataPlaneOptions): Promise<DataPlane> {
  const script = opts.processScript!;
  if (!existsSync(script)) throw new DataPlaneError('DATA_PLANE_MISSING', `${script} is missing: run \`npm run build\` first`);
  // No inherited NODE_OPTIONS: jest's --experimental-vm-modules has no business in the data plane.
  const child: ChildProcess = fork(script, [], {serialization: 'advanced', env: {...process.env, NODE_OPTIONS: ''}, stdio: ['ignore', 'inherit', 'inherit', 'ipc']});
  const hardKill = (): void => {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone
    }
  };
  process.on('exit', hardKill);
  let counts = {requests: 0, failed: 0};
  let exited = false;
  const waiters = new Map<ToParent['type'], ((m: ToParent) => void)[]>();
  let failure: Error | undefined;
  const failAll = (err: Error): void => {
    failure ??= err;
    for (const list of waiters.values()) for (const w of list) w({type: 'error', message: err.message});
    waiters.clear();
  };
  child.on('message', (m: ToParent) => {
    if (m.type === 'counts') counts = {requests: m.requests, failed: m.failed};
    if (m.type === 'error') failAll(new DataPlaneError('DATA_PLANE_FAILED', `data plane: ${m.message}`));
    const list = waiters.get(m.type);
    if (list) {
      waiters.delete(m.type);
      for (const w of list) w(m);
    }
  });
  child.on('exit', (code, signal) => {
    exited = true;
    process.off('exit', hardKill);
    failAll(new DataPlaneError('DATA_PLANE_FAILED', `data plane process exited (${code ?? signal})`));
  });
  const next = <T extends ToParent['type']>(type: T, timeoutMs: number): Promise<Extract<ToParent, {type: T}>> =>
    new Promise((resolve, reject) => {
      if (failure) return reject(failure);
      const timer = setTimeout(() => reject(new DataPlaneError('DATA_PLANE_FAILED', `data plane: no ${type} within ${timeoutMs} ms`)), timeoutMs);
      const list = waiters.get(type) ?? [];
      list.push((m) => {
        clearTimeout(timer);
        if (m.type === 'error') reject(failure ?? new DataPlaneError('DATA_PLANE_FAILED', m.message));
        else resolve(m as Extract<ToParent, {type: T}>);
      });
      waiters.set(type, list);
    });
  const send = (m: ToChild): void => {
    if (!exited && child.connected) child.send(m);
  };

  const unsubscribe = [
    ...opts.views.lb.map((v, node) => v.onChange((endpoints) => send({type: 'endpoints', which: {kind: 'lb', node}, endpoints}))),
    opts.views.ingress.onChange((endpoints) => send({type: 'endpoints', which: {kind: 'ingress'}, endpoints})),
    opts.views.dns.onChange((endpoints) => send({type: 'endpoints', which: {kind: 'dns'}, endpoints})),
  ];
  const ready = next('ready', 20_000);
  send({
    type: 'start',
    hosts: opts.hosts,
    endpoints: {lb: opts.views.lb.map((v) => v.endpoints()), ingress: opts.views.ingress.endpoints(), dns: opts.views.dns.endpoints()},
    dnsTtlMs: opts.dnsTtlMs,
  });
  let started: Extract<ToParent, {type: 'ready'}>;
  try {
    started = await ready;
  } catch (err) {
    for (const u of unsubscribe) u();
    hardKill();
    throw err;
  }
  let stopping: Promise<DataPlaneResult> | undefined;
  return {
    lbs: started.lbs,
    ingress: started.ingress,
    async startLoads(loads) {
      const loading = next('loading', 10_000);
      send({type: 'load', loads});
      await loading;
    },
    counts: () => counts,
    stop() {
      stopping ??= (async () => {
        for (const u of unsubscribe) u();
        try {
          const result = next('result', 60_000);
          send({type: 'stop'});
          return (await result).result;
        } finally {
          // The child exits by itself after sending the result; make sure of it.
          setTimeout(hardKill, 2000).unref();
        }
      })();
      return stopping;
    },
  };
}

export function startDataPlane(opts: DataPlaneOptions): Promise<DataPlane> {
  return opts.inline ? startInline(opts) : startChild(opts);
}

/** Where the built child script lives, for a repository root. */
export function dataPlaneScript(repoRoot: string): string {
  return join(repoRoot, 'dist', 'sim', 'cluster', 'data-plane-process.js');
}
