/**
 * "Does the app answer?" for /readyz: a TCP connect to the upstream, bounded, cached briefly so that a burst of
 * probes (kubelet, LB health checks) costs one connect.
 */
import {connect} from 'node:net';

export interface UpstreamCheck {
  ok(): Promise<boolean>;
}

export function createUpstreamCheck(opts: {upstream: URL; timeoutMs?: number; cacheMs?: number; now?: () => number}): UpstreamCheck {
  const host = opts.upstream.hostname.replace(/^\[|\]$/g, '');
  const port = Number(opts.upstream.port || 80);
  const timeoutMs = opts.timeoutMs ?? 1_000;
  const cacheMs = opts.cacheMs ?? 250;
  const now = opts.now ?? (() => performance.now());
  let cached: {at: number; ok: boolean} | undefined;
  let pending: Promise<boolean> | undefined;

  const probe = (): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = connect({host, port});
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      socket.once('connect', () => finish(true));
      socket.once('error', () => finish(false));
    });

  return {
    ok() {
      if (cached && now() - cached.at < cacheMs) return Promise.resolve(cached.ok);
      pending ??= probe().then((ok) => {
        cached = {at: now(), ok};
        pending = undefined;
        return ok;
      });
      return pending;
    },
  };
}
