/**
 * Parsers for single setting values. Each throws a ConfigError naming the variable, the value and what was
 * expected; config.ts combines them and checks the rules that span several settings.
 */
import {isIP} from 'node:net';
import {constants as osConstants} from 'node:os';
import type {AppExit, ListenAddress} from './config.js';
import {parseDuration, formatDuration} from './duration.js';
import {ConfigError} from './errors.js';

/** The longest duration Node's timers can wait; longer ones would fire at once. 24 days. */
export const MAX_DURATION_MS = 24 * 24 * 3_600_000;

export function parseListen(variable: string, value: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(value.trim());
  if (!m) throw new ConfigError(variable, value, 'expected [host]:port, e.g. :8080 or 127.0.0.1:8080 or [::1]:8080');
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(variable, value, 'port out of range 0-65535');
  if (host !== '' && host !== 'localhost' && isIP(host) === 0) throw new ConfigError(variable, value, 'host must be an IP address, localhost or empty');
  return Object.freeze({host, port});
}

export function parseDurationSetting(variable: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new ConfigError(variable, value, 'expected a duration like 500ms, 2s or 1m');
  // Node's timers overflow past 2^31-1 ms (~24.8 days) and then fire after 1 ms.
  if (ms > MAX_DURATION_MS) throw new ConfigError(variable, value, `must be at most ${formatDuration(MAX_DURATION_MS)}`);
  return ms;
}

export function parseList(value: string | undefined): readonly string[] {
  if (!value) return Object.freeze([]);
  return Object.freeze(value.split(',').map((s) => s.trim()).filter((s) => s !== ''));
}

export function parseIntSetting(variable: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(variable, value, `expected an integer from ${min} to ${max}`);
  return n;
}

/** How lameduck talks to the app: HTTP/1.1 (`http://`), or HTTP/2 with prior knowledge (`h2c://`, RFC 9113 §3.3). */
export type UpstreamProtocol = 'http1' | 'h2c';
export const UPSTREAM_SCHEMES: Readonly<Record<string, UpstreamProtocol>> = Object.freeze({'http:': 'http1', 'h2c:': 'h2c'});

export function parseUpstream(variable: string, value: string): {url: URL; protocol: UpstreamProtocol} {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new ConfigError(variable, value, 'not a URL, expected http://host:port or h2c://host:port', {cause});
  }
  const protocol = UPSTREAM_SCHEMES[url.protocol];
  if (protocol === undefined) throw new ConfigError(variable, value, 'only http:// (HTTP/1.1) and h2c:// (HTTP/2 with prior knowledge) upstreams are supported');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username) {
    throw new ConfigError(variable, value, `expected ${url.protocol}//host:port without path, query or credentials`);
  }
  if (protocol === 'h2c') {
    // `h2c:` is not a special scheme to WHATWG URL (no origin, no default port): carry the address as http://.
    if (url.hostname === '') throw new ConfigError(variable, value, 'expected h2c://host:port');
    url = new URL(`http://${url.host}`);
  }
  return {url, protocol};
}

function isSignal(name: string): name is NodeJS.Signals {
  return Object.prototype.hasOwnProperty.call(osConstants.signals, name);
}

export function parseAppExit(variable: string, value: string): AppExit {
  const v = value.trim();
  if (v === 'hook') return Object.freeze({kind: 'hook'});
  if (v.startsWith('signal:')) {
    const signal = v.slice('signal:'.length).toUpperCase();
    const name = signal.startsWith('SIG') ? signal : `SIG${signal}`;
    if (!isSignal(name)) throw new ConfigError(variable, value, `unknown signal ${JSON.stringify(signal)}`);
    return Object.freeze({kind: 'signal', signal: name});
  }
  if (v.startsWith('http:')) {
    const m = /^http:\s*([A-Z]+)\s+(\S+)$/.exec(v);
    if (!m) throw new ConfigError(variable, value, 'expected http:METHOD URL, e.g. http:POST http://127.0.0.1:3000/shutdown');
    let url: URL;
    try {
      url = new URL(m[2]!);
    } catch (cause) {
      throw new ConfigError(variable, value, 'the http: action needs an absolute URL', {cause});
    }
    if (url.protocol !== 'http:') throw new ConfigError(variable, value, 'the http: action needs an http:// URL');
    return Object.freeze({kind: 'http', method: m[1]!, url});
  }
  throw new ConfigError(variable, value, 'expected hook, signal:NAME or http:METHOD URL');
}

export function parseBool(variable: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigError(variable, value, 'expected true or false');
}

export function sameListener(a: ListenAddress, b: ListenAddress): boolean {
  if (a.port === 0 || b.port === 0 || a.port !== b.port) return false;
  // The empty host binds every address, so it clashes with any host on the same port.
  return a.host === '' || b.host === '' || a.host === b.host;
}
