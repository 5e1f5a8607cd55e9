/**
 * nginx as a sidecar would be configured for this comparison: one worker (the proxy gets one core, like the node
 * proxies), proxy_pass to a keep-alive upstream pool (HTTP/1.1 and an empty Connection header, or nginx closes every
 * upstream connection), client keep-alive like lameduck's (75 s), no access log (lameduck logs no request at info
 * either). Everything it writes goes under `dir`, so it runs without root paths or a system service.
 */
export interface NginxConfigOptions {
  /** Prefix directory: pid file, error log and temp paths. */
  dir: string;
  listenPort: number;
  upstreamPort: number;
  /** Per worker; counts client and upstream connections both. */
  workerConnections: number;
}

export function nginxConfig(o: NginxConfigOptions): string {
  return `# written by bench/targets/nginx.ts
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile ${o.workerConnections * 2};
pid ${o.dir}/nginx.pid;
error_log ${o.dir}/error.log warn;
events {
  worker_connections ${o.workerConnections};
  multi_accept on;
}
http {
  access_log off;
  client_body_temp_path ${o.dir}/client_body;
  proxy_temp_path ${o.dir}/proxy;
  fastcgi_temp_path ${o.dir}/fastcgi;
  uwsgi_temp_path ${o.dir}/uwsgi;
  scgi_temp_path ${o.dir}/scgi;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  upstream app {
    server 127.0.0.1:${o.upstreamPort};
    keepalive 128;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${o.listenPort} backlog=4096;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
}
