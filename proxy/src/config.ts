/**
 * Configuration: every setting is an env var `LAMEDUCK_*` and an equal CLI flag (`--settle=2s` or `--settle 2s`);
 * the flag wins. Parsed once, validated, frozen. Any invalid value stops start-up with a ConfigError that names the
 * variable and the value. Nothing here reads `process`: main.ts passes env and argv in.
 */
import {isIP} from 'node:net';
import {
  parseAppExit,
  parseBool,
  parseDurationSetting,
  parseIntSetting,
  parseList,
  parseListen,
  parseUpstream,
  type UpstreamProtocol,
  sameListener,
} from './config-parsers.js';
import {formatDuration} from './duration.js';
import {ConfigError} from './errors.js';
import {LOG_LEVELS, type LogLevel} from './log.js';
import {SETTINGS, flagName, type Setting, type SettingName} from './settings.js';

export {SETTINGS, flagName, helpText, type SettingName} from './settings.js';
export {MAX_DURATION_MS} from './config-parsers.js';

export interface ListenAddress {
  /** '' means every IPv4 and IPv6 address (dual-stack `::`). */
  readonly host: string;
  readonly port: number;
}

export type AppExit =
  | {readonly kind: 'hook'}
  | {readonly kind: 'signal'; readonly signal: NodeJS.Signals}
  | {readonly kind: 'http'; readonly method: string; readonly url: URL};

export type Mode = 'classic' | 'native';

export {UPSTREAM_SCHEMES, type UpstreamProtocol} from './config-parsers.js';

export interface PodIdentity {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly ips: readonly string[];
}

export interface Config {
  readonly listen: ListenAddress;
  /** The app's address, always as an `http://host:port` URL (an `h2c://` setting is rewritten; see upstreamProtocol). */
  readonly upstream: URL;
  readonly upstreamProtocol: UpstreamProtocol;
  readonly adminListen: ListenAddress;
  readonly mode: Mode;
  readonly settleMs: number;
  readonly quietMs: number;
  readonly quietIgnorePaths: readonly string[];
  readonly ignoreServices: readonly string[];
  /** Least settle after a headless Service (reached through DNS) stopped publishing the pod. */
  readonly dnsSettleMs: number;
  readonly fallbackDelayMs: number;
  /** undefined: take it from the pod's grace period (see deadline.ts). */
  readonly drainTimeoutMs: number | undefined;
  readonly exitMarginMs: number;
  readonly appExit: AppExit;
  readonly appProcess: RegExp | undefined;
  readonly prestopToken: string | undefined;
  readonly watchPod: boolean;
  readonly logLevel: LogLevel;
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxHeaderSize: number;
  readonly upstreamTimeoutMs: number;
  readonly upstreamIdleTimeoutMs: number;
  readonly upstreamMaxSockets: number;
  /** Requests that may wait for an upstream socket; more get 503. */
  readonly upstreamMaxQueue: number;
  /** Longest wait for an upstream socket (0: no limit). */
  readonly upstreamQueueTimeoutMs: number;
  /** A response blocked on a client that does not read is cut after this long (0: off). */
  readonly sendTimeoutMs: number;
  /** Longest pause in a request body being received (0: off). */
  readonly clientBodyTimeoutMs: number;
  /** Requests one connection may have in flight when pipelining. */
  readonly maxPipelined: number;
  readonly identity: PodIdentity;
  readonly kubeconfig: string | undefined;
}

/** Downward API identity variables (not LAMEDUCK_ prefixed: they come from the pod spec). */
export const IDENTITY_ENV = ['POD_NAME', 'POD_NAMESPACE', 'POD_UID', 'POD_IPS', 'POD_IP', 'KUBECONFIG'] as const;

export const DEFAULT_DRAIN_TIMEOUT_MS = 25_000;
export const MIN_DRAIN_TIMEOUT_MS = 1_000;

export class HelpRequested extends Error {
  constructor() {
    super('help requested');
  }
}

/** Merges env and argv into raw strings per setting; the flag wins. Throws ConfigError on unknown flags. */
function collect(env: Readonly<Record<string, string | undefined>>, argv: readonly string[]): Map<string, string | undefined> {
  const raw = new Map<string, string | undefined>();
  for (const s of SETTINGS as readonly Setting[]) raw.set(s.env, env[s.env] ?? s.default);
  const byFlag = new Map((SETTINGS as readonly Setting[]).map((s) => [flagName(s.env), s]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') throw new HelpRequested();
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const setting = byFlag.get(name);
    if (!setting) throw new ConfigError(name.startsWith('--') ? name : 'argument', arg, 'unknown flag (see --help)');
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (setting.boolean && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) value = 'true';
    else {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(setting.env, '', `flag ${name} needs a value`);
    }
    raw.set(setting.env, value);
  }
  return raw;
}

/**
 * Parses and validates the whole configuration. Throws ConfigError (naming variable and value) or HelpRequested.
 */
export function parseConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[] = []): Config {
  const raw = collect(env, argv);
  const get = (name: SettingName): string | undefined => raw.get(name);
  const req = (name: SettingName): string => get(name) ?? '';

  const listen = parseListen('LAMEDUCK_LISTEN', req('LAMEDUCK_LISTEN'));
  const adminListen = parseListen('LAMEDUCK_ADMIN_LISTEN', req('LAMEDUCK_ADMIN_LISTEN'));
  if (sameListener(listen, adminListen)) {
    throw new ConfigError('LAMEDUCK_ADMIN_LISTEN', req('LAMEDUCK_ADMIN_LISTEN'), `clashes with LAMEDUCK_LISTEN=${req('LAMEDUCK_LISTEN')}`);
  }
  const {url: upstream, protocol: upstreamProtocol} = parseUpstream('LAMEDUCK_UPSTREAM', req('LAMEDUCK_UPSTREAM'));
  const mode = req('LAMEDUCK_MODE').trim();
  if (mode !== 'classic' && mode !== 'native') throw new ConfigError('LAMEDUCK_MODE', mode, 'expected classic or native');

  const settleMs = parseDurationSetting('LAMEDUCK_SETTLE', req('LAMEDUCK_SETTLE'));
  const quietMs = parseDurationSetting('LAMEDUCK_QUIET', req('LAMEDUCK_QUIET'));
  const fallbackDelayMs = parseDurationSetting('LAMEDUCK_FALLBACK_DELAY', req('LAMEDUCK_FALLBACK_DELAY'));
  const dnsSettleMs = parseDurationSetting('LAMEDUCK_DNS_SETTLE', req('LAMEDUCK_DNS_SETTLE'));
  const exitMarginMs = parseDurationSetting('LAMEDUCK_EXIT_MARGIN', req('LAMEDUCK_EXIT_MARGIN'));
  const dt = get('LAMEDUCK_DRAIN_TIMEOUT');
  const drainTimeoutMs = dt === undefined || dt.trim() === '' ? undefined : parseDurationSetting('LAMEDUCK_DRAIN_TIMEOUT', dt);
  if (drainTimeoutMs !== undefined && drainTimeoutMs < MIN_DRAIN_TIMEOUT_MS) {
    throw new ConfigError('LAMEDUCK_DRAIN_TIMEOUT', dt, `must be at least ${formatDuration(MIN_DRAIN_TIMEOUT_MS)}`);
  }

  const quietIgnorePaths = parseList(get('LAMEDUCK_QUIET_IGNORE_PATHS'));
  for (const path of quietIgnorePaths) {
    if (!path.startsWith('/')) throw new ConfigError('LAMEDUCK_QUIET_IGNORE_PATHS', get('LAMEDUCK_QUIET_IGNORE_PATHS'), `path ${JSON.stringify(path)} must start with /`);
  }
  const ignoreServices = parseList(get('LAMEDUCK_IGNORE_SERVICES'));
  for (const svc of ignoreServices) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(svc)) throw new ConfigError('LAMEDUCK_IGNORE_SERVICES', get('LAMEDUCK_IGNORE_SERVICES'), `${JSON.stringify(svc)} is not a valid Service name`);
  }

  const appExit = parseAppExit('LAMEDUCK_APP_EXIT', req('LAMEDUCK_APP_EXIT'));
  const ap = get('LAMEDUCK_APP_PROCESS');
  let appProcess: RegExp | undefined;
  if (ap !== undefined && ap !== '') {
    try {
      appProcess = new RegExp(ap);
    } catch (cause) {
      throw new ConfigError('LAMEDUCK_APP_PROCESS', ap, 'not a valid regular expression', {cause});
    }
  }
  if (appExit.kind === 'signal' && !appProcess) {
    throw new ConfigError('LAMEDUCK_APP_PROCESS', ap, `required with LAMEDUCK_APP_EXIT=${req('LAMEDUCK_APP_EXIT')}`);
  }
  const token = get('LAMEDUCK_PRESTOP_TOKEN');
  const prestopToken = token === undefined || token === '' ? undefined : token;
  if (prestopToken !== undefined && prestopToken.length < 8) {
    throw new ConfigError('LAMEDUCK_PRESTOP_TOKEN', '<redacted>', 'must be at least 8 characters');
  }
  const watchPod = parseBool('LAMEDUCK_WATCH_POD', req('LAMEDUCK_WATCH_POD'));
  const logLevel = req('LAMEDUCK_LOG_LEVEL').trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError('LAMEDUCK_LOG_LEVEL', logLevel, `expected one of ${LOG_LEVELS.join(', ')}`);

  const keepAliveTimeoutMs = parseDurationSetting('LAMEDUCK_KEEPALIVE_TIMEOUT', req('LAMEDUCK_KEEPALIVE_TIMEOUT'));
  const headersTimeoutMs = parseDurationSetting('LAMEDUCK_HEADERS_TIMEOUT', req('LAMEDUCK_HEADERS_TIMEOUT'));
  const requestTimeoutMs = parseDurationSetting('LAMEDUCK_REQUEST_TIMEOUT', req('LAMEDUCK_REQUEST_TIMEOUT'));
  if (requestTimeoutMs !== 0 && requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError('LAMEDUCK_REQUEST_TIMEOUT', req('LAMEDUCK_REQUEST_TIMEOUT'), 'must not be shorter than LAMEDUCK_HEADERS_TIMEOUT');
  }
  const maxHeaderSize = parseIntSetting('LAMEDUCK_MAX_HEADER_SIZE', req('LAMEDUCK_MAX_HEADER_SIZE'), 1024, 1 << 20);
  const upstreamTimeoutMs = parseDurationSetting('LAMEDUCK_UPSTREAM_TIMEOUT', req('LAMEDUCK_UPSTREAM_TIMEOUT'));
  const upstreamIdleTimeoutMs = parseDurationSetting('LAMEDUCK_UPSTREAM_IDLE_TIMEOUT', req('LAMEDUCK_UPSTREAM_IDLE_TIMEOUT'));
  if (upstreamIdleTimeoutMs === 0) throw new ConfigError('LAMEDUCK_UPSTREAM_IDLE_TIMEOUT', req('LAMEDUCK_UPSTREAM_IDLE_TIMEOUT'), 'must be greater than 0');
  const upstreamMaxSockets = parseIntSetting('LAMEDUCK_UPSTREAM_MAX_SOCKETS', req('LAMEDUCK_UPSTREAM_MAX_SOCKETS'), 1, 65535);

  const upstreamMaxQueue = parseIntSetting('LAMEDUCK_UPSTREAM_MAX_QUEUE', req('LAMEDUCK_UPSTREAM_MAX_QUEUE'), 0, 1_000_000);
  const upstreamQueueTimeoutMs = parseDurationSetting('LAMEDUCK_UPSTREAM_QUEUE_TIMEOUT', req('LAMEDUCK_UPSTREAM_QUEUE_TIMEOUT'));
  const sendTimeoutMs = parseDurationSetting('LAMEDUCK_SEND_TIMEOUT', req('LAMEDUCK_SEND_TIMEOUT'));
  const clientBodyTimeoutMs = parseDurationSetting('LAMEDUCK_CLIENT_BODY_TIMEOUT', req('LAMEDUCK_CLIENT_BODY_TIMEOUT'));
  const maxPipelined = parseIntSetting('LAMEDUCK_MAX_PIPELINED', req('LAMEDUCK_MAX_PIPELINED'), 1, 10_000);

  const ipsText = env.POD_IPS ?? env.POD_IP ?? '';
  const ips = parseList(ipsText);
  for (const ip of ips) if (isIP(ip) === 0) throw new ConfigError(env.POD_IPS !== undefined ? 'POD_IPS' : 'POD_IP', ipsText, `${JSON.stringify(ip)} is not an IP address`);
  const identity: PodIdentity = Object.freeze({
    name: env.POD_NAME || undefined,
    namespace: env.POD_NAMESPACE || undefined,
    uid: env.POD_UID || undefined,
    ips,
  });

  return Object.freeze({
    listen,
    upstream,
    upstreamProtocol,
    adminListen,
    mode,
    settleMs,
    quietMs,
    quietIgnorePaths,
    ignoreServices,
    dnsSettleMs,
    fallbackDelayMs,
    drainTimeoutMs,
    exitMarginMs,
    appExit,
    appProcess,
    prestopToken,
    watchPod,
    logLevel: logLevel as LogLevel,
    keepAliveTimeoutMs,
    headersTimeoutMs,
    requestTimeoutMs,
    maxHeaderSize,
    upstreamTimeoutMs,
    upstreamIdleTimeoutMs,
    upstreamMaxSockets,
    upstreamMaxQueue,
    upstreamQueueTimeoutMs,
    sendTimeoutMs,
    clientBodyTimeoutMs,
    maxPipelined,
    identity,
    kubeconfig: env.KUBECONFIG || undefined,
  });
}
