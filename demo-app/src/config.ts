import {hostname} from 'node:os';

/** Settings of the demo-app, read once from an environment object (never from `process` here). */
export interface DemoAppConfig {
  readonly port: number;
  /** undefined: all IPv4 and IPv6 addresses (Node's dual-stack default). */
  readonly host: string | undefined;
  readonly podName: string;
  /**
   * Server keepAliveTimeout; undefined: Node's default (5 s). Node closes an idle keep-alive socket 1 s after it
   * (a fixed buffer on Node 20, `keepAliveTimeoutBuffer` defaulting to 1 s on Node >= 24.6), and advertises
   * `Keep-Alive: timeout=floor(ms/1000)` to clients.
   */
  readonly keepAliveTimeoutMs: number | undefined;
  /** Legacy kind (b) of docs/design.md: a PID 1 without a handler, which ignores SIGTERM until SIGKILL. */
  readonly ignoreSigterm: boolean;
  /** What the port serves: HTTP/1.1 (`http`, the default) or gRPC over HTTP/2 without TLS (`grpc`). */
  readonly protocol: DemoAppProtocol;
}

export const DEMO_APP_PROTOCOLS = ['http', 'grpc'] as const;
export type DemoAppProtocol = (typeof DEMO_APP_PROTOCOLS)[number];

export class DemoAppConfigError extends Error {
  readonly code = 'DEMO_APP_BAD_CONFIG';
  constructor(readonly variable: string, readonly value: string, expected?: string) {
    super(`invalid ${variable}=${JSON.stringify(value)}${expected ? `: expected ${expected}` : ''}`);
    this.name = 'DemoAppConfigError';
  }
}

function integer(env: Record<string, string | undefined>, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new DemoAppConfigError(name, raw);
  const n = Number(raw);
  if (n < min || n > max) throw new DemoAppConfigError(name, raw);
  return n;
}

function protocol(env: Record<string, string | undefined>): DemoAppProtocol {
  const raw = env.PROTOCOL;
  if (raw === undefined || raw === '') return 'http';
  if (!(DEMO_APP_PROTOCOLS as readonly string[]).includes(raw)) throw new DemoAppConfigError('PROTOCOL', raw, DEMO_APP_PROTOCOLS.join(' or '));
  return raw as DemoAppProtocol;
}

export function readDemoAppConfig(env: Record<string, string | undefined>): DemoAppConfig {
  return Object.freeze({
    port: integer(env, 'PORT', 0, 65535) ?? 3000,
    host: env.HOST || undefined,
    podName: env.POD_NAME || hostname(),
    keepAliveTimeoutMs: integer(env, 'KEEPALIVE_TIMEOUT_MS', 0, 2 ** 31 - 1),
    ignoreSigterm: env.IGNORE_SIGTERM === '1' || env.IGNORE_SIGTERM === 'true',
    protocol: protocol(env),
  });
}
