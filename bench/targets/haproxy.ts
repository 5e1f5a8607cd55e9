/**
 * HAProxy as a sidecar would be configured for this comparison: one thread (the proxy gets one core, like the node
 * proxies), HTTP mode with client keep-alive like lameduck's (75 s), server-side connection reuse (`http-reuse
 * always`: the upstream pool), X-Forwarded-For like lameduck. No logging.
 */
export interface HaproxyConfigOptions {
  listenPort: number;
  upstreamPort: number;
  maxconn: number;
}

export function haproxyConfig(o: HaproxyConfigOptions): string {
  return `# written by bench/targets/haproxy.ts
global
  nbthread 1
  maxconn ${o.maxconn}
defaults
  mode http
  option http-keep-alive
  option forwardfor
  http-reuse always
  timeout connect 5s
  timeout client 75s
  timeout server 60s
  timeout http-keep-alive 75s
  timeout http-request 20s
  maxconn ${o.maxconn}
frontend fe
  bind 127.0.0.1:${o.listenPort}
  default_backend app
backend app
  server app 127.0.0.1:${o.upstreamPort} maxconn ${o.maxconn}
`;
}

/** The same HAProxy with HTTP/2 with prior knowledge on both sides (`proto h2` on the bind and the server line). */
export function haproxyH2Config(o: HaproxyConfigOptions): string {
  return haproxyConfig(o)
    .replace(`bind 127.0.0.1:${o.listenPort}`, `bind 127.0.0.1:${o.listenPort} proto h2`)
    .replace(`server app 127.0.0.1:${o.upstreamPort} maxconn ${o.maxconn}`, `server app 127.0.0.1:${o.upstreamPort} proto h2 maxconn ${o.maxconn}`);
}
