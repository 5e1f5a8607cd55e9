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
import {startLoad, type Load, type LoadOptions, type RequestRecord} from '../load.js';
import type {EndpointView} from './endpoint-view.js';
import {startIngress, type Ingress, type IngressStats} from './ingress.js';
import {startL4Balancer, type L4Balancer, type L4Stats} from './l4-balancer.js';
import type {ViewEndpoint} from './routing.js';

export type Via = 'service' | 'ingress';

export interface DataPlaneLoad {
  via: Via;
  options: Omit<LoadOptions, 'host' | 'port'>;
}

export interface DataPlaneResult {
  records: (RequestRecord & {via: Via})[];
  lb: L4Stats;
  ingress: IngressStats;
}

export interface DataPlane {
  readonly lb: {host: string; port: number};
  readonly ingress: {host: string; port: number};
  startLoads(loads: DataPlaneLoad[]): Promise<void>;
  /** Requests completed so far and how many failed (for progress displays; refreshed about twice a second). */
  counts(): {requests: number; failed: number};
  /** Stops the loads (waiting for what is in flight), closes the balancers, returns every record. Idempotent. */
  stop(): Promise<DataPlaneResult>;
}

export interface DataPlaneOptions {
  views: {lb: EndpointView; ingress: EndpointView};
  hosts: {lb: string; ingress: string};
  /** Run in this process instead of a child. */
  inline?: boolean;
  /** The built data-plane-process.js (dist); required unless inline. */
  processScript?: string;
}

export class DataPlaneError extends Error {
  constructor(readonly code: 'DATA_PLANE_MISSING' | 'DATA_PLANE_FAILED', message: string, options?: {cause?: unknown}) {
    super(message, options);
    this.name = 'DataPlaneError';
  }
}

/** Messages parent → child. */
export type ToChild =
  | {type: 'start'; hosts: {lb: string; ingress: string}; endpoints: {lb: ViewEndpoint[]; ingress: ViewEndpoint[]}}
  | {type: 'endpoints'; which: 'lb' | 'ingress'; endpoints: ViewEndpoint[]}
  | {type: 'load'; loads: DataPlaneLoad[]}
  | {type: 'stop'};

/** Messages child → parent. */
export type ToParent =
  | {type: 'ready'; lb: {host: string; port: number}; ingress: {host: string; port: number}}
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
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close() {
      listeners.clear();
    },
  };
}

/** The parts themselves, wherever they run. */
export async function startDataPlaneParts(opts: {views: {lb: EndpointView; ingress: EndpointView}; hosts: {lb: string; ingress: string}}): Promise<{
  lb: L4Balancer;
  ingress: Ingress;
  startLoads(loads: DataPlaneLoad[]): void;
  counts(): {requests: number; failed: number};
  stop(): Promise<DataPlaneResult>;
}> {
  const lb = await startL4Balancer({view: opts.views.lb, host: opts.hosts.lb});
  let ingress: Ingress;
  try {
    ingress = await startIngress({view: opts.views.ingress, host: opts.hosts.ingress});
  } catch (err) {
    await lb.close();
    throw err;
  }
  const loads: {load: Load; via: Via}[] = [];
  let stopping: Promise<DataPlaneResult> | undefined;
  return {
    lb,
    ingress,
    startLoads(list) {
      for (const l of list) {
        const target = l.via === 'service' ? lb : ingress;
        loads.push({via: l.via, load: startLoad({...l.options, host: target.host, port: target.port})});
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
        await lb.close();
        await ingress.close();
        return {
          records: loads.flatMap(({load, via}) => load.records.map((r) => ({...r, via}))),
          lb: lb.stats,
          ingress: ingress.stats,
        };
      })();
      return stopping;
    },
  };
}

async function startInline(opts: DataPlaneOptions): Promise<DataPlane> {
  const parts = await startDataPlaneParts({views: opts.views, hosts: opts.hosts});
  return {
    lb: {host: parts.lb.host, port: parts.lb.port},
    ingress: {host: parts.ingress.host, port: parts.ingress.port},
    async startLoads(loads) {
      parts.startLoads(loads);
    },
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
    opts.views.lb.onChange((endpoints) => send({type: 'endpoints', which: 'lb', endpoints})),
    opts.views.ingress.onChange((endpoints) => send({type: 'endpoints', which: 'ingress', endpoints})),
  ];
  const ready = next('ready', 20_000);
  send({type: 'start', hosts: opts.hosts, endpoints: {lb: opts.views.lb.endpoints(), ingress: opts.views.ingress.endpoints()}});
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
    lb: started.lb,
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
