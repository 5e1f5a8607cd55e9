/**
 * `releasing`: let the app go. The /prestop waiters are answered by the drain itself (kubelet then sends the app
 * SIGTERM); this module runs the configured extra action: a signal to the app's processes (legacy PID-1 apps with
 * shareProcessNamespace) or an HTTP call. Bounded in time; failures are logged and counted, never thrown.
 */
import type {AppExit} from './config.js';
import type {Logger} from './log.js';
import type {Metrics} from './metrics.js';
import {findProcesses} from './process-finder.js';
import {errorMessage} from './errors.js';

export const RELEASE_HTTP_TIMEOUT_MS = 3_000;

export interface Release {
  /** Runs the action once; later calls return the first result. */
  run(): Promise<{action: AppExit['kind']; ok: boolean; detail?: string}>;
}

export interface ReleaseDeps {
  appExit: AppExit;
  appProcess: RegExp | undefined;
  metrics: Metrics;
  log: Logger;
  /** PIDs never signalled: ours and our parent's. */
  protectedPids: readonly number[];
  kill: (pid: number, signal: NodeJS.Signals) => void;
  procDir?: string;
  httpTimeoutMs?: number;
}

export function createRelease(deps: ReleaseDeps): Release {
  let result: ReturnType<Release['run']> | undefined;
  const exit = deps.appExit;

  const runOnce = async (): Promise<{action: AppExit['kind']; ok: boolean; detail?: string}> => {
    if (exit.kind === 'hook') return {action: 'hook', ok: true};
    if (exit.kind === 'signal') {
      try {
        const procs = await findProcesses({pattern: deps.appProcess!, exclude: deps.protectedPids, procDir: deps.procDir});
        if (procs.length === 0) {
          deps.log.warn('no app process matched', {pattern: String(deps.appProcess), signal: exit.signal});
          return {action: 'signal', ok: false, detail: 'no process matched'};
        }
        for (const p of procs) {
          try {
            deps.kill(p.pid, exit.signal);
            deps.log.info('signalled app', {pid: p.pid, signal: exit.signal, cmdline: p.cmdline.slice(0, 200)});
          } catch (err) {
            deps.log.warn('signal to app failed', {pid: p.pid, signal: exit.signal, error: errorMessage(err)});
          }
        }
        return {action: 'signal', ok: true, detail: `${procs.length} process(es)`};
      } catch (err) {
        deps.log.warn('app process lookup failed', {error: errorMessage(err)});
        return {action: 'signal', ok: false, detail: errorMessage(err)};
      }
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), deps.httpTimeoutMs ?? RELEASE_HTTP_TIMEOUT_MS);
    try {
      // Redirects are not followed: the configured URL is the app's own shutdown endpoint, and a redirect (to another
      // host, or a login page) would send the call somewhere nobody configured. A 3xx is a failed action.
      const res = await fetch(exit.url, {method: exit.method, signal: controller.signal, redirect: 'manual'});
      await res.arrayBuffer().catch(() => undefined);
      const ok = res.status >= 200 && res.status < 300;
      const location = res.headers.get('location') ?? undefined;
      (ok ? deps.log.info : deps.log.warn)('app exit call answered', {method: exit.method, url: exit.url.href, status: res.status, location});
      return {action: 'http', ok, detail: `status ${res.status}`};
    } catch (err) {
      deps.log.warn('app exit call failed', {method: exit.method, url: exit.url.href, error: errorMessage(err)});
      return {action: 'http', ok: false, detail: errorMessage(err)};
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    run() {
      result ??= runOnce().then((r) => {
        deps.metrics.releaseActions.inc({action: r.action, result: r.ok ? 'ok' : 'error'});
        return r;
      });
      return result;
    },
  };
}
