/**
 * Property tests of the config parser (docs/reliability.md): any environment either parses to a frozen config or stops start-up
 * with a ConfigError whose message names the LAMEDUCK_/POD_ variable (or the flag) at fault — never another error, a
 * half-built config or a silent default; and durations round-trip through their Go form.
 */
import {describe, expect, it} from '@jest/globals';
import fc from 'fast-check';
import {parseConfig, SETTINGS, IDENTITY_ENV, flagName, HelpRequested, type Config} from '../../../proxy/src/config.js';
import {formatDuration} from '../../../proxy/src/duration.js';
import {ConfigError} from '../../../proxy/src/errors.js';

const NAMES = [...SETTINGS.map((s) => s.env), ...IDENTITY_ENV];
const DURATIONS = SETTINGS.filter((s) => /TIMEOUT$|SETTLE|QUIET|DELAY|MARGIN/.test(s.env) && s.env !== 'LAMEDUCK_MAX_HEADER_SIZE').map((s) => s.env);

/** Values near the valid ones (so that both branches are exercised), plus anything at all. */
const value = fc.oneof(
  fc.constantFrom('', ' ', '0', '1', '-1', '2s', '1m30s', '1.5h', '500ms', 'abc', ':8080', '127.0.0.1:0', '[::1]:9', ':99999', 'http://127.0.0.1:3000',
    'https://x', 'http://a/b', 'classic', 'native', 'hook', 'signal:TERM', 'signal:NOPE', 'http:POST http://127.0.0.1:3000/x', 'true', 'false', 'yes',
    'debug', 'loud', '16384', '99999999999', '10.0.0.1', '10.0.0.1,fd00::1', 'not-an-ip', '(', '.*node'),
  fc.string({maxLength: 40}),
  fc.string({unit: 'binary', maxLength: 20}),
);
const envArb = fc.dictionary(fc.constantFrom(...NAMES, 'OTHER', 'PATH'), value, {maxKeys: 8});

function deepFrozen(o: unknown, seen = new Set<unknown>()): boolean {
  if (o === null || typeof o !== 'object' || seen.has(o)) return true;
  seen.add(o);
  if (o instanceof URL || o instanceof RegExp) return true; // immutable enough: held in frozen fields
  if (!Object.isFrozen(o)) return false;
  return Object.values(o as Record<string, unknown>).every((v) => deepFrozen(v, seen));
}

function namesTheCulprit(err: ConfigError, env: Record<string, string>, argv: string[] = []): boolean {
  const named = /(LAMEDUCK_[A-Z_]+|POD_[A-Z_]+|KUBECONFIG|--[a-z-]+)/.exec(err.message)?.[1];
  if (!named) return false;
  // The named variable is a real setting: one the caller set, or the one a value they set requires
  // (LAMEDUCK_APP_EXIT=signal:TERM needs LAMEDUCK_APP_PROCESS), or a flag they passed.
  return (named in env || (NAMES as readonly string[]).includes(named) || argv.some((a) => a.startsWith(named))) && named === err.variable;
}

describe('config parser properties', () => {
  it('any env map parses to a deeply frozen config, or throws a ConfigError naming the variable', () => {
    fc.assert(
      fc.property(envArb, (env) => {
        let config: Config;
        try {
          config = parseConfig(env);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          const e = err as ConfigError;
          expect(e.code).toBe('CONFIG_INVALID');
          expect(namesTheCulprit(e, env)).toBe(true);
          return;
        }
        expect(deepFrozen(config)).toBe(true);
      }),
      {numRuns: 1_000},
    );
  });

  it('any argv parses, asks for help, or throws a ConfigError naming the flag or variable', () => {
    const flag = fc.constantFrom(...SETTINGS.map((s) => flagName(s.env)), '--nope', '-x', 'positional');
    const argvArb = fc.array(fc.oneof(fc.tuple(flag, value).map(([f, v]) => `${f}=${v}`), flag, value), {maxLength: 6});
    fc.assert(
      fc.property(argvArb, (argv) => {
        try {
          expect(deepFrozen(parseConfig({}, argv))).toBe(true);
        } catch (err) {
          if (err instanceof HelpRequested) return;
          expect(err).toBeInstanceOf(ConfigError);
          expect(/LAMEDUCK_[A-Z_]+|--[a-z-]+|argument/.test((err as Error).message)).toBe(true);
        }
      }),
      {numRuns: 1_000},
    );
  });

  it('durations round-trip: formatDuration(ms) parses back to ms for every duration setting', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DURATIONS), fc.integer({min: 0, max: 48 * 3_600_000}), (name, ms) => {
        const key = name === 'LAMEDUCK_DRAIN_TIMEOUT' ? 'drainTimeoutMs' : undefined;
        let config: Config;
        try {
          config = parseConfig({[name]: formatDuration(ms)});
        } catch (err) {
          // A range rule (e.g. a minimum) may refuse the value, but must say so naming the variable.
          expect(err).toBeInstanceOf(ConfigError);
          expect((err as Error).message).toContain(name);
          return;
        }
        const values = Object.values(config).filter((v) => typeof v === 'number');
        expect(key ? config.drainTimeoutMs : values).toEqual(key ? ms : expect.arrayContaining([ms]));
      }),
      {numRuns: 1_000},
    );
  });

  it('Go-form compound durations add up (h, m, s, ms in one value)', () => {
    fc.assert(
      fc.property(fc.nat(30), fc.nat(59), fc.nat(59), fc.nat(999), (h, m, s, ms) => {
        const text = `${h}h${m}m${s}s${ms}ms`;
        expect(parseConfig({LAMEDUCK_SETTLE: text}).settleMs).toBe(h * 3_600_000 + m * 60_000 + s * 1000 + ms);
      }),
      {numRuns: 500},
    );
  });
});
