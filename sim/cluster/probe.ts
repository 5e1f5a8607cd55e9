/**
 * Container probes as kubelet runs them (https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/):
 * `httpGet` (GET to the pod IP unless `host` is set, `User-Agent: kube-probe/<version>`, success on 200–399, a fresh
 * connection per probe) and `tcpSocket`, each bounded by `timeoutSeconds` (default 1). A prober runs one probe every
 * `periodSeconds` (default 10) after `initialDelaySeconds`, and flips its result only after `successThreshold`
 * (default 1) consecutive successes or `failureThreshold` (default 3) consecutive failures.
 */
import {request} from 'node:http';
import {createConnection} from 'node:net';
import type {ContainerPort} from '../kube/types.js';

/** What kubelet 1.33 sends; lameduck does not count `kube-probe/` requests as traffic. */
export const PROBE_USER_AGENT = 'kube-probe/1.33';

export interface HttpGetAction {
  path?: string;
  port: number | string;
  host?: string;
  scheme?: string;
  httpHeaders?: {name: string; value: string}[];
}

export interface ProbeSpec {
  httpGet?: HttpGetAction;
  tcpSocket?: {port: number | string; host?: string};
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export class ProbeConfigError extends Error {
  readonly code = 'PROBE_UNSUPPORTED';
  constructor(message: string) {
    super(message);
    this.name = 'ProbeConfigError';
  }
}

/** A named port (`"admin"`) looked up in the container's ports, as kubelet does for probes and hooks. */
export function resolvePort(port: number | string, ports: readonly ContainerPort[] | undefined): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const found = ports?.find((p) => p.name === port);
  if (!found) throw new ProbeConfigError(`port name ${JSON.stringify(port)} not found among the container's ports`);
  return found.containerPort;
}

export interface ProbeTarget {
  podIp: string;
  ports: readonly ContainerPort[] | undefined;
}

/** One probe: resolves true on success, false on failure; never rejects. */
export function runProbe(spec: ProbeSpec, target: ProbeTarget): Promise<boolean> {
  const timeoutMs = (spec.timeoutSeconds ?? 1) * 1000;
  if (spec.httpGet) {
    const g = spec.httpGet;
    if (g.scheme && g.scheme.toUpperCase() !== 'HTTP') return Promise.reject(new ProbeConfigError(`probe scheme ${g.scheme} not simulated`));
    const port = resolvePort(g.port, target.ports);
    const headers: Record<string, string> = {'user-agent': PROBE_USER_AGENT, accept: '*/*', connection: 'close'};
    for (const h of g.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
    return new Promise((resolve) => {
      let settled = false;
      const done = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve(ok);
      };
      const req = request({host: g.host ?? target.podIp, port, path: g.path ?? '/', method: 'GET', headers, agent: false}, (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on('end', () => done(status >= 200 && status < 400));
        res.on('error', () => done(false));
      });
      req.on('error', () => done(false));
      const timer = setTimeout(() => done(false), timeoutMs);
      req.end();
    });
  }
  if (spec.tcpSocket) {
    const port = resolvePort(spec.tcpSocket.port, target.ports);
    return new Promise((resolve) => {
      const socket = createConnection({host: spec.tcpSocket!.host ?? target.podIp, port});
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      };
      socket.once('connect', () => finish(true));
      socket.once('error', () => finish(false));
    });
  }
  return Promise.reject(new ProbeConfigError('only httpGet and tcpSocket probes are simulated'));
}

export interface Prober {
  /** Current result: undefined until the thresholds first decide. */
  readonly result: boolean | undefined;
  stop(): void;
}

export interface ProberOptions {
  spec: ProbeSpec;
  target: ProbeTarget;
  /** Called when the result flips (and for the first decided result). */
  onChange: (ok: boolean) => void;
  /** Called with every single probe outcome. */
  onProbe?: (ok: boolean) => void;
  /** Called if the probe cannot run at all (bad config): the prober stops. */
  onError?: (err: Error) => void;
}

export function startProber(opts: ProberOptions): Prober {
  const {spec} = opts;
  const periodMs = (spec.periodSeconds ?? 10) * 1000;
  const successThreshold = spec.successThreshold ?? 1;
  const failureThreshold = spec.failureThreshold ?? 3;
  let result: boolean | undefined;
  let successes = 0;
  let failures = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const tick = async (): Promise<void> => {
    timer = undefined;
    if (stopped) return;
    // Fixed rate, like kubelet's ticker: a slow probe does not stretch the period.
    const startedAt = Date.now();
    let ok: boolean;
    try {
      ok = await runProbe(spec, opts.target);
    } catch (err) {
      stopped = true;
      opts.onError?.(err as Error);
      return;
    }
    if (stopped) return;
    opts.onProbe?.(ok);
    if (ok) {
      successes++;
      failures = 0;
      if (result !== true && successes >= successThreshold) {
        result = true;
        opts.onChange(true);
      }
    } else {
      failures++;
      successes = 0;
      if (result !== false && failures >= failureThreshold) {
        result = false;
        opts.onChange(false);
      }
    }
    if (!stopped) timer = setTimeout(() => void tick(), Math.max(0, startedAt + periodMs - Date.now()));
  };
  timer = setTimeout(() => void tick(), (spec.initialDelaySeconds ?? 0) * 1000);

  return {
    get result() {
      return result;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
