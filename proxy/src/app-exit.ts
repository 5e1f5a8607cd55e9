/** `LAMEDUCK_APP_EXIT`: how lameduck lets the app go at the end of a drain (see release.ts). */
import {constants as osConstants} from 'node:os';
import type {AppExit} from './config.js';
import {ConfigError} from './errors.js';

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
