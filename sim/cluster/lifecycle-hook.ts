/**
 * Container lifecycle hooks (https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/), the preStop
 * side: `httpGet` (to the pod IP unless `host` is set; no timeout of its own — only the grace period ends it, and its
 * status code is ignored), `exec` (a command in the container's environment) and `sleep` (the PodLifecycleSleepAction).
 * A hook's failure is reported, not thrown: kubelet logs FailedPreStopHook and goes on to SIGTERM the container.
 */
import {request} from 'node:http';
import {spawn} from 'node:child_process';
import type {ContainerPort} from '../kube/types.js';
import {resolvePort, type HttpGetAction} from './probe.js';

export interface LifecycleHandler {
  httpGet?: HttpGetAction;
  exec?: {command: string[]};
  sleep?: {seconds: number};
}

export interface HookResult {
  ok: boolean;
  /** The hook was cut by the abort signal (grace period over). */
  aborted: boolean;
  /** HTTP status of an httpGet hook (ignored by kubelet, recorded for the timeline). */
  status?: number;
  error?: string;
}

export interface HookContext {
  podIp: string;
  ports: readonly ContainerPort[] | undefined;
  env: Readonly<Record<string, string>>;
  cwd: string;
  signal: AbortSignal;
}

/** What kubelet's HTTP hook sends as User-Agent (pkg/probe/http/request.go: `kube-lifecycle/<major>.<minor>`). */
export const HOOK_USER_AGENT = 'kube-lifecycle/1.33';

function httpGetHook(action: HttpGetAction, ctx: HookContext): Promise<HookResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: HookResult): void => {
      if (settled) return;
      settled = true;
      ctx.signal.removeEventListener('abort', onAbort);
      resolve(r);
    };
    let port: number;
    try {
      port = resolvePort(action.port, ctx.ports);
    } catch (err) {
      return finish({ok: false, aborted: false, error: (err as Error).message});
    }
    const headers: Record<string, string> = {'user-agent': HOOK_USER_AGENT};
    for (const h of action.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
    const req = request({host: action.host ?? ctx.podIp, port, path: action.path ?? '/', method: 'GET', headers, agent: false}, (res) => {
      res.resume();
      res.on('end', () => finish({ok: true, aborted: false, status: res.statusCode}));
      res.on('error', (err) => finish({ok: false, aborted: false, status: res.statusCode, error: err.message}));
    });
    const onAbort = (): void => {
      req.destroy();
      finish({ok: false, aborted: true, error: 'grace period over'});
    };
    req.on('error', (err) => finish({ok: false, aborted: ctx.signal.aborted, error: err.message}));
    if (ctx.signal.aborted) return onAbort();
    ctx.signal.addEventListener('abort', onAbort);
    req.end();
  });
}

function execHook(command: string[], ctx: HookContext): Promise<HookResult> {
  return new Promise((resolve) => {
    const [file, ...args] = command;
    if (!file) return resolve({ok: false, aborted: false, error: 'empty exec command'});
    const child = spawn(file, args, {cwd: ctx.cwd, env: ctx.env, stdio: 'ignore', detached: true});
    const onAbort = (): void => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    };
    ctx.signal.addEventListener('abort', onAbort);
    const done = (r: HookResult): void => {
      ctx.signal.removeEventListener('abort', onAbort);
      resolve(r);
    };
    child.once('error', (err) => done({ok: false, aborted: false, error: err.message}));
    child.once('exit', (code, sig) => {
      if (ctx.signal.aborted) return done({ok: false, aborted: true, error: 'grace period over'});
      done(code === 0 ? {ok: true, aborted: false} : {ok: false, aborted: false, error: `exit ${code ?? sig}`});
    });
    if (ctx.signal.aborted) onAbort();
  });
}

function sleepHook(seconds: number, ctx: HookContext): Promise<HookResult> {
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve({ok: false, aborted: true, error: 'grace period over'});
    };
    const timer = setTimeout(() => {
      ctx.signal.removeEventListener('abort', onAbort);
      resolve({ok: true, aborted: false});
    }, seconds * 1000);
    if (ctx.signal.aborted) return onAbort();
    ctx.signal.addEventListener('abort', onAbort, {once: true});
  });
}

/** Runs one preStop handler; resolves when it is done, failed, or aborted. Never rejects. */
export function runHook(handler: LifecycleHandler, ctx: HookContext): Promise<HookResult> {
  if (handler.httpGet) return httpGetHook(handler.httpGet, ctx);
  if (handler.exec) return execHook(handler.exec.command, ctx);
  if (handler.sleep) return sleepHook(handler.sleep.seconds, ctx);
  return Promise.resolve({ok: false, aborted: false, error: 'no handler (httpGet, exec or sleep) given'});
}
