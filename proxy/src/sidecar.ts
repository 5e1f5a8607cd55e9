/**
 * Composes the sidecar: data plane, admin listener, drain state machine, Kubernetes side. Owns no process state:
 * main.ts feeds it signals and exits when `exitCode` resolves.
 */
import type {AddressInfo} from 'node:net';
import {systemClock} from './clock.js';
import type {Config} from './config.js';
import {createAdminServer, type AdminServer} from './admin.js';
import {createDrain, type Drain, type DrainSummary, type DrainTarget, type LoadingCluster} from './drain.js';
import type {Logger} from './log.js';
import {createMetrics, type Metrics, type Trigger} from './metrics.js';
import type {Phase} from './phase.js';
import {createRelease} from './release.js';
import {createUpstreamCheck} from './upstream-check.js';

export interface ForwarderLike extends DrainTarget {
  listen(): Promise<AddressInfo>;
  address(): AddressInfo | null;
  stats(): ReturnType<DrainTarget['stats']> & Record<string, unknown>;
}

export interface SidecarDeps {
  config: Config;
  log: Logger;
  metrics?: Metrics;
  cluster: (LoadingCluster & {lastVerdict?: () => unknown}) | undefined;
  createForwarder: (deps: {config: Config; metrics: Metrics; log: Logger; phase: () => Phase; now: () => number}) => ForwarderLike;
  /** For the `signal:` app exit. */
  kill: (pid: number, signal: NodeJS.Signals) => void;
  protectedPids: readonly number[];
  now?: () => number;
  prestopRecheckMs?: number;
  procDir?: string;
}

export interface Sidecar {
  readonly metrics: Metrics;
  readonly drain: Drain;
  start(): Promise<{traffic: AddressInfo; admin: AddressInfo}>;
  /** SIGTERM or SIGINT: starts (or joins) the drain and allows the exit once it is done. */
  signal(name: 'SIGTERM' | 'SIGINT'): void;
  trigger(trigger: Trigger): Promise<DrainSummary>;
  /** Resolves with the exit code once the drain is done and the process may exit (docs/design.md `done`). */
  readonly exitCode: Promise<number>;
  /** Stops the listeners without draining (tests). */
  close(): Promise<void>;
}

export function createSidecar(deps: SidecarDeps): Sidecar {
  const {config, log, cluster} = deps;
  const now = deps.now ?? (() => performance.now());
  const metrics = deps.metrics ?? createMetrics();
  let drainRef: Drain | undefined;
  const forwarder = deps.createForwarder({config, metrics, log, phase: () => drainRef?.state() ?? 'serving', now});
  const release = createRelease({
    appExit: config.appExit,
    appProcess: config.appProcess,
    metrics,
    log,
    protectedPids: deps.protectedPids,
    kill: deps.kill,
    procDir: deps.procDir,
  });
  const drain = createDrain({config, metrics, log, target: forwarder, cluster, release, clock: {...systemClock, now}});
  drainRef = drain;
  let trafficListening = false;
  const admin: AdminServer = createAdminServer({
    config,
    metrics,
    log,
    drain,
    cluster,
    upstream: createUpstreamCheck({upstream: config.upstream}),
    trafficListening: () => trafficListening && drain.state() !== 'closing' && drain.state() !== 'releasing' && drain.state() !== 'done',
    statusExtra: () => ({
      connections: forwarder.stats(),
      mode: config.mode,
      pod: config.identity.name ?? null,
      routing: cluster?.lastVerdict?.() ?? null,
    }),
    prestopRecheckMs: deps.prestopRecheckMs,
  });

  let sigterm = false;
  let resolveExit!: (code: number) => void;
  const exitCode = new Promise<number>((resolve) => (resolveExit = resolve));
  let summary: DrainSummary | undefined;
  let stopPodWatch: (() => void) | undefined;
  let unknownExitTimer: ReturnType<typeof setTimeout> | undefined;
  let exiting = false;

  const maybeExit = (): void => {
    if (!summary) return;
    // Exit once SIGTERM was received. A token drain of a pod that is not terminating exits at done, so the restart
    // policy brings a fresh, serving sidecar. A drain whose pod state is unknown (a native-mode fallback drain: a
    // termination, or an app restart after a failed liveness probe?) waits one exit margin for kubelet's SIGTERM,
    // then exits anyway rather than answer /readyz 503 for ever; during a real termination kubelet restarts nothing.
    if (sigterm || (summary.trigger === 'token' && summary.podTerminating !== true)) return exit();
    if (summary.podTerminating !== true && !unknownExitTimer) {
      unknownExitTimer = setTimeout(() => {
        log.info('no SIGTERM after the drain of a pod not known to be terminating: exiting', {waitedMs: config.exitMarginMs});
        exit();
      }, config.exitMarginMs);
      unknownExitTimer.unref?.();
    }
  };

  const exit = (): void => {
    if (exiting) return;
    exiting = true;
    if (unknownExitTimer) clearTimeout(unknownExitTimer);
    stopPodWatch?.();
    cluster?.close();
    void admin.close().then(() => resolveExit(0));
  };

  // Whatever started the drain (signal, /prestop, token, pod watch), its end decides the exit.
  drain.finished().then(
    (s) => {
      summary = s;
      maybeExit();
    },
    () => resolveExit(1),
  );

  const trigger = (t: Trigger): Promise<DrainSummary> => drain.drain({trigger: t});

  return {
    metrics,
    drain,
    exitCode,
    async start() {
      if (config.mode === 'native' && !config.prestopToken) {
        // prestop.ts: a drain the API does not confirm needs the token, so without one a native sidecar whose API
        // cannot tell (no identity, 403, unreachable) lets the app go at once on /prestop instead of draining.
        log.warn('no LAMEDUCK_PRESTOP_TOKEN: native-mode fallback drains are disabled', {mode: config.mode});
      }
      const adminAddr = await admin.listen();
      const traffic = await forwarder.listen();
      trafficListening = true;
      if (config.watchPod && cluster) {
        stopPodWatch = cluster.watchPod((pod) => {
          log.info('pod watch: terminating', {...pod});
          void drain.drain({trigger: 'pod_watch', pod});
        });
      }
      return {traffic, admin: adminAddr};
    },
    signal(name) {
      log.info('signal received', {signal: name, state: drain.state()});
      sigterm = true;
      trigger('signal').catch(() => undefined); // failure is logged by the drain and ends the process via exitCode
      maybeExit();
    },
    trigger,
    async close() {
      stopPodWatch?.();
      cluster?.close();
      forwarder.destroy();
      await admin.close();
    },
  };
}
