/**
 * What the injector adds, as settings: the library chart's values (charts/lameduck/values.yaml) that make sense per
 * workload, with the same defaults, so that the injected pod spec equals the one `lameduck.podSpec` renders.
 * Defaults come from the command line (`--image`, `--mode`, ...); each workload may override them with annotations.
 */
import {parseDuration} from '../duration.js';
import {InjectError} from './errors.js';
import {LAMEDUCK_VERSION} from './version.js';

export const ANNOTATION_PREFIX = 'lameduck.io/';
/** Opt-in ("true"/"enabled") or opt-out ("false"/"disabled"), as an annotation or a label. */
export const INJECT_KEY = 'lameduck.io/inject';
/** Set on every injected pod template: the lameduck version that injected it. */
export const INJECTED_ANNOTATION = 'lameduck.io/injected';
/** Set when injection turned the app's automounted API token off, so that taking lameduck out turns it back on. */
export const AUTOMOUNT_OFF_ANNOTATION = 'lameduck.io/automount-off';

export type Mode = 'native' | 'classic';
/** How lameduck speaks to the app (chart value appProtocol); `auto` decides from the app's port (app-port.ts). */
export type AppProtocolSetting = 'auto' | 'http' | 'h2c';
export type AppPrestop = 'refuse' | 'keep' | 'replace';

/** The per-release /prestop token (chart value prestopToken): the sidecar reads it from a Secret. */
export interface PrestopToken {
  secretName: string;
  secretKey: string;
  /**
   * The token itself, when the caller knows it (e.g. a chart that generated it): the app's preStop hook then sends it
   * as X-Lameduck-Token. Without it the hook sends none, as the library chart without a generated token does.
   */
  value?: string;
}

export interface InjectSettings {
  mode: Mode;
  image: string;
  pullPolicy: string;
  containerName: string;
  /** The app container by name; '' = the pod's first container. */
  appContainer: string;
  /** The app's port by number or name; '' = the only port, else the one named `http`. */
  port: string;
  appProtocol: AppProtocolSetting;
  /** lameduck's traffic port number; 0 = 8080, or the next free port from there. */
  trafficPort: number;
  /** Name of lameduck's traffic port when the app's port has none to take over. */
  trafficName: string;
  adminPort: number;
  adminName: string;
  appPrestop: AppPrestop;
  environment: string;
  settle: string;
  quiet: string;
  quietIgnorePaths: string[];
  ignoreServices: string[];
  fallbackDelay: string;
  drainTimeout: string;
  exitMargin: string;
  watchPod: boolean;
  logLevel: string;
  legacyApp: boolean;
  prestopToken?: PrestopToken;
  runAsUser: number;
  resources: Record<string, Record<string, string>>;
  livenessProbe: {enabled: boolean; periodSeconds: number; failureThreshold: number};
  startupProbe: {periodSeconds: number; failureThreshold: number};
  gracePeriod: {deregistration: string; longestRequest: string};
  /** Keep the automounted API token in the app's containers (chart: serviceAccount.automountForApp). */
  automountForApp: boolean;
  projectToken: 'auto' | 'always' | 'never';
  tokenExpirationSeconds: number;
}

/** The library chart's defaults (charts/lameduck/values.yaml); the image is the chart's default one. */
export const DEFAULT_SETTINGS: Readonly<InjectSettings> = Object.freeze({
  mode: 'native',
  image: `lameduck:${LAMEDUCK_VERSION}`,
  pullPolicy: 'IfNotPresent',
  containerName: 'lameduck',
  appContainer: '',
  port: '',
  appProtocol: 'auto',
  trafficPort: 0,
  trafficName: 'traffic',
  adminPort: 9901,
  adminName: 'admin',
  appPrestop: 'refuse',
  environment: 'kube-proxy',
  settle: '',
  quiet: '1s',
  quietIgnorePaths: [],
  ignoreServices: [],
  fallbackDelay: '15s',
  drainTimeout: '',
  exitMargin: '5s',
  watchPod: false,
  logLevel: 'info',
  legacyApp: false,
  runAsUser: 65532,
  resources: {requests: {cpu: '50m', memory: '64Mi'}, limits: {memory: '192Mi'}},
  livenessProbe: {enabled: true, periodSeconds: 10, failureThreshold: 3},
  startupProbe: {periodSeconds: 1, failureThreshold: 30},
  gracePeriod: {deregistration: '10s', longestRequest: '10s'},
  automountForApp: false,
  projectToken: 'auto',
  tokenExpirationSeconds: 3607,
});

/** The `environment` presets of the chart's `settle` (charts/lameduck/templates/_helpers.tpl, lameduck.settle). */
export const SETTLE_PRESETS: Readonly<Record<string, string>> = Object.freeze({'kube-proxy': '2s', ingress: '5s', 'cloud-lb': '20s'});

type Parser = (s: InjectSettings, value: string) => string | undefined;

const duration = (key: 'settle' | 'quiet' | 'fallbackDelay' | 'drainTimeout' | 'exitMargin'): Parser => (s, v) => {
  if (parseDuration(v) === undefined) return 'not a duration (e.g. 2s, 500ms, 1m30s)';
  s[key] = v;
  return undefined;
};
const port = (key: 'trafficPort' | 'adminPort'): Parser => (s, v) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 65535) return 'not a port number (1-65535)';
  s[key] = n;
  return undefined;
};
const list = (key: 'quietIgnorePaths' | 'ignoreServices'): Parser => (s, v) => {
  s[key] = v.split(',').map((x) => x.trim()).filter((x) => x !== '');
  return undefined;
};
const oneOf = <K extends 'mode' | 'appPrestop' | 'logLevel' | 'projectToken' | 'environment' | 'appProtocol'>(key: K, allowed: readonly string[]): Parser => (s, v) => {
  if (!allowed.includes(v)) return `must be one of ${allowed.join(', ')}`;
  (s as unknown as Record<string, string>)[key] = v;
  return undefined;
};
const bool = (key: 'watchPod' | 'legacyApp' | 'automountForApp'): Parser => (s, v) => {
  if (v !== 'true' && v !== 'false') return 'must be true or false';
  s[key] = v === 'true';
  return undefined;
};
const text = (key: 'image' | 'appContainer' | 'port' | 'containerName' | 'pullPolicy'): Parser => (s, v) => {
  if (v.trim() === '') return 'must not be empty';
  s[key] = v.trim();
  return undefined;
};

/**
 * Every setting by its annotation suffix (`lameduck.io/<key>`) and flag (`--<key>`): one name for both.
 * Only settings that may differ per workload; the rest (resources, probes) are the chart's defaults.
 */
export const SETTING_PARSERS: Readonly<Record<string, Parser>> = Object.freeze({
  mode: oneOf('mode', ['native', 'classic']),
  image: text('image'),
  'pull-policy': text('pullPolicy'),
  'container-name': text('containerName'),
  container: text('appContainer'),
  port: text('port'),
  'app-protocol': oneOf('appProtocol', ['auto', 'http', 'h2c']),
  'traffic-port': port('trafficPort'),
  'admin-port': port('adminPort'),
  'app-prestop': oneOf('appPrestop', ['refuse', 'keep', 'replace']),
  environment: oneOf('environment', Object.keys(SETTLE_PRESETS)),
  settle: duration('settle'),
  quiet: duration('quiet'),
  'quiet-ignore-paths': list('quietIgnorePaths'),
  'ignore-services': list('ignoreServices'),
  'fallback-delay': duration('fallbackDelay'),
  'drain-timeout': duration('drainTimeout'),
  'exit-margin': duration('exitMargin'),
  'watch-pod': bool('watchPod'),
  'log-level': oneOf('logLevel', ['debug', 'info', 'warn', 'error']),
  'legacy-app': bool('legacyApp'),
  'automount-for-app': bool('automountForApp'),
});

/** Keys that are not settings but share the prefix. */
const NOT_SETTINGS = new Set(['inject', 'injected', 'automount-off']);

function copy(s: Readonly<InjectSettings>): InjectSettings {
  return structuredClone(s) as InjectSettings;
}

/** Applies one `key=value` (a flag or an annotation); `source` names it in the error. */
export function applySetting(s: InjectSettings, key: string, value: string, source: {workload: string; what: string}): void {
  const parse = SETTING_PARSERS[key];
  if (!parse) {
    throw new InjectError(source.what.startsWith('--') ? 'INJECT_BAD_FLAG' : 'INJECT_BAD_ANNOTATION', source.workload, `unknown setting ${source.what}; known: ${Object.keys(SETTING_PARSERS).join(', ')}`);
  }
  const problem = parse(s, value);
  if (problem) {
    throw new InjectError(source.what.startsWith('--') ? 'INJECT_BAD_FLAG' : 'INJECT_BAD_ANNOTATION', source.workload, `${source.what}=${JSON.stringify(value)}: ${problem}`);
  }
}

/**
 * The settings for one workload: the defaults, then the workload's annotations, then its pod template's (the more
 * specific wins). An unknown `lameduck.io/` annotation is refused rather than ignored: a typo must not leave a
 * setting silently at its default.
 */
export function settingsFor(defaults: Readonly<InjectSettings>, annotationSets: readonly (Record<string, string> | undefined)[], workload: string): InjectSettings {
  const s = copy(defaults);
  for (const annotations of annotationSets) {
    for (const [key, value] of Object.entries(annotations ?? {})) {
      if (!key.startsWith(ANNOTATION_PREFIX)) continue;
      const name = key.slice(ANNOTATION_PREFIX.length);
      if (NOT_SETTINGS.has(name)) continue;
      applySetting(s, name, String(value), {workload, what: `annotation ${key}`});
    }
  }
  if (s.trafficPort !== 0 && s.trafficPort === s.adminPort) {
    throw new InjectError('INJECT_PORT_CLASH', workload, `lameduck's traffic and admin ports are both ${s.adminPort}; set lameduck.io/traffic-port or lameduck.io/admin-port`);
  }
  return s;
}

/** LAMEDUCK_SETTLE: `settle`, else the `environment` preset (as the chart's lameduck.settle). */
export function settleOf(s: Readonly<InjectSettings>): string {
  return s.settle || SETTLE_PRESETS[s.environment] || '2s';
}
