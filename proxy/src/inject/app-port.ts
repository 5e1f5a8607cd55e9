/**
 * Putting lameduck in front of the app: which of the app's ports it takes over, and how.
 *
 * lameduck takes the port's NAME: its traffic port carries the name the app's port had, the app's port keeps its
 * number and loses its name, and lameduck forwards to that number on 127.0.0.1. A Service whose targetPort is the
 * name now reaches lameduck, and the app needs no change (it keeps listening where it did). A Service that targets
 * the number still reaches the app directly: the CLI and the post-renderer rewrite such Services in the same input
 * (services.ts); the webhook cannot see them and warns instead (docs/injection.md).
 */
import {InjectError} from './errors.js';
import type {InjectSettings} from './settings.js';
import type {Container, ContainerPort, Handler, PodSpec} from './types.js';

export const DEFAULT_TRAFFIC_PORT = 8080;

/** What lameduck speaks to the app: the scheme of LAMEDUCK_UPSTREAM. */
export type AppProtocol = 'http' | 'h2c';

/**
 * Port names that say the app speaks HTTP/2 (gRPC included): the `<protocol>[-<suffix>]` convention that Istio's
 * protocol selection reads from Service port names
 * (https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/), applied to the container
 * port, which is the name a Service's targetPort refers to.
 */
const H2_PORT_NAME = /^(grpc|grpc-web|h2c|http2)(-|$)/;

export interface AppPort {
  /** The app's port number (LAMEDUCK_UPSTREAM). */
  number: number;
  /** The name the app's port had, which lameduck takes over; undefined when it had none. */
  name?: string;
}

/**
 * The app's port: `lameduck.io/port` (a number or a declared port's name), else the only TCP port, else the one
 * named `http`. A number the container does not declare is allowed (an app may listen undeclared).
 */
export function chooseAppPort(app: Container, s: Readonly<InjectSettings>, workload: string): AppPort {
  const ports = (app.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP');
  let chosen: ContainerPort | undefined;
  if (s.port) {
    chosen = ports.find((p) => p.name === s.port || String(p.containerPort) === s.port);
    if (!chosen) {
      const n = Number(s.port);
      if (!/^\d+$/.test(s.port) || n < 1 || n > 65535) {
        throw new InjectError('INJECT_NO_APP_PORT', workload, `lameduck.io/port=${JSON.stringify(s.port)} names no TCP port of container ${JSON.stringify(app.name)} (it has ${describe(ports)}); use a declared port's name or a port number`);
      }
      return {number: n};
    }
  } else if (ports.length === 1) {
    chosen = ports[0];
  } else if (ports.length === 0) {
    throw new InjectError('INJECT_NO_APP_PORT', workload, `container ${JSON.stringify(app.name)} declares no TCP port, so lameduck cannot tell where the app listens; set the annotation lameduck.io/port to the app's port number`);
  } else {
    chosen = ports.find((p) => p.name === 'http');
    if (!chosen) {
      throw new InjectError('INJECT_AMBIGUOUS_PORT', workload, `container ${JSON.stringify(app.name)} has several ports (${describe(ports)}) and none is named http; set the annotation lameduck.io/port to the one Services send HTTP traffic to`);
    }
  }
  if (chosen!.hostPort !== undefined) {
    throw new InjectError('INJECT_PORT_CLASH', workload, `port ${chosen!.containerPort} of container ${JSON.stringify(app.name)} has hostPort ${chosen!.hostPort}: traffic through the node port would bypass lameduck; remove hostPort or use the library chart and route the host port yourself`);
  }
  return {number: chosen!.containerPort, ...(chosen!.name ? {name: chosen!.name} : {})};
}

/**
 * The app's protocol: `lameduck.io/app-protocol` when it is `http` or `h2c`; on `auto`, h2c when the app's port is
 * named like an HTTP/2 port or the app has a gRPC probe on it (kubelet's `grpc` probe speaks gRPC to that port), else
 * HTTP/1.1. A wrong guess shows at once: lameduck's upstream errors are counted and the app's probes fail nothing.
 */
export function chooseAppProtocol(app: Container, port: AppPort, s: Readonly<InjectSettings>): AppProtocol {
  if (s.appProtocol !== 'auto') return s.appProtocol;
  if (port.name !== undefined && H2_PORT_NAME.test(port.name)) return 'h2c';
  const grpcProbe = [app.startupProbe, app.readinessProbe, app.livenessProbe].some((h) => h?.grpc?.port === port.number);
  return grpcProbe ? 'h2c' : 'http';
}

function describe(ports: readonly ContainerPort[]): string {
  return ports.length === 0 ? 'none' : ports.map((p) => (p.name ? `${p.name}=${p.containerPort}` : String(p.containerPort))).join(', ');
}

/** Every port number any container of the pod declares. */
export function usedPorts(spec: PodSpec): Set<number> {
  const used = new Set<number>();
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) for (const p of c.ports ?? []) used.add(p.containerPort);
  return used;
}

/**
 * lameduck's traffic port: the one set, refused when taken; else 8080, or the next free number from there (apps on
 * 8080 are common, and the number is only seen inside the pod once Services use the name).
 */
export function chooseTrafficPort(spec: PodSpec, app: AppPort, s: Readonly<InjectSettings>, workload: string): number {
  const used = usedPorts(spec);
  used.add(app.number);
  if (s.trafficPort !== 0) {
    if (used.has(s.trafficPort)) throw new InjectError('INJECT_PORT_CLASH', workload, `lameduck.io/traffic-port ${s.trafficPort} is already used in the pod; choose a free port`);
    return s.trafficPort;
  }
  let port = DEFAULT_TRAFFIC_PORT;
  while (used.has(port) || port === s.adminPort) port++;
  return port;
}

/**
 * The app container after the takeover: its port loses the name (names are unique in a pod; lameduck has it now),
 * and its own probes and hooks that referred to that name refer to the number, so they keep probing the app itself.
 */
export function releasePortName(app: Container, taken: AppPort): Container {
  if (!taken.name) return app;
  const next: Container = {...app};
  next.ports = (app.ports ?? []).map((p) => {
    if (p.name !== taken.name) return p;
    const {name: _name, ...rest} = p;
    return rest;
  });
  for (const key of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
    if (app[key]) next[key] = renumber(app[key]!, taken);
  }
  if (app.lifecycle) {
    next.lifecycle = {...app.lifecycle};
    for (const hook of ['postStart', 'preStop'] as const) {
      if (app.lifecycle[hook]) next.lifecycle[hook] = renumber(app.lifecycle[hook]!, taken);
    }
  }
  return next;
}

function renumber(h: Handler, taken: AppPort): Handler {
  const out: Handler = {...h};
  if (h.httpGet && h.httpGet.port === taken.name) out.httpGet = {...h.httpGet, port: taken.number};
  if (h.tcpSocket && h.tcpSocket.port === taken.name) out.tcpSocket = {...h.tcpSocket, port: taken.number};
  return out;
}
