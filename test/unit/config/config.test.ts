import {describe, expect, it} from '@jest/globals';
import {parseConfig, helpText, HelpRequested, SETTINGS, flagName} from '../../../proxy/src/config.js';
import {ConfigError} from '../../../proxy/src/errors.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = parseConfig({});
    expect(c.listen).toEqual({host: '', port: 8080});
    expect(c.adminListen).toEqual({host: '', port: 9901});
    expect(c.upstream.href).toBe('http://127.0.0.1:3000/');
    expect(c.mode).toBe('classic');
    expect(c.settleMs).toBe(2000);
    expect(c.quietMs).toBe(1000);
    expect(c.fallbackDelayMs).toBe(15000);
    expect(c.drainTimeoutMs).toBeUndefined();
    expect(c.exitMarginMs).toBe(5000);
    expect(c.appExit).toEqual({kind: 'hook'});
    expect(c.watchPod).toBe(false);
    expect(c.keepAliveTimeoutMs).toBe(75000);
    expect(c.upstreamIdleTimeoutMs).toBeLessThan(5000); // below Node's default server keep-alive timeout
  });

  it('is frozen', () => {
    const c = parseConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.listen)).toBe(true);
    expect(() => {
      (c as {settleMs: number}).settleMs = 1;
    }).toThrow();
  });

  it('reads env and lets flags win, in both flag forms', () => {
    const c = parseConfig(
      {LAMEDUCK_SETTLE: '5s', LAMEDUCK_QUIET: '300ms', LAMEDUCK_MODE: 'native'},
      ['--settle=750ms', '--quiet', '2s', '--watch-pod'],
    );
    expect(c.settleMs).toBe(750);
    expect(c.quietMs).toBe(2000);
    expect(c.mode).toBe('native');
    expect(c.watchPod).toBe(true);
  });

  it('parses the app exit modes', () => {
    expect(parseConfig({LAMEDUCK_APP_EXIT: 'signal:TERM', LAMEDUCK_APP_PROCESS: 'node app'}).appExit).toEqual({kind: 'signal', signal: 'SIGTERM'});
    const http = parseConfig({LAMEDUCK_APP_EXIT: 'http:POST http://127.0.0.1:3000/shutdown'}).appExit;
    expect(http.kind).toBe('http');
    expect(http.kind === 'http' && http.method).toBe('POST');
    expect(http.kind === 'http' && http.url.pathname).toBe('/shutdown');
  });

  it('parses listeners, lists and identity', () => {
    const c = parseConfig({
      LAMEDUCK_LISTEN: '[::1]:8081',
      LAMEDUCK_ADMIN_LISTEN: '127.0.0.1:0',
      LAMEDUCK_IGNORE_SERVICES: 'legacy, headless',
      LAMEDUCK_QUIET_IGNORE_PATHS: '/health,/ping',
      POD_NAME: 'web-1',
      POD_NAMESPACE: 'default',
      POD_UID: 'abc',
      POD_IPS: '10.0.0.5,fd00::5',
    });
    expect(c.listen).toEqual({host: '::1', port: 8081});
    expect(c.ignoreServices).toEqual(['legacy', 'headless']);
    expect(c.quietIgnorePaths).toEqual(['/health', '/ping']);
    expect(c.identity).toEqual({name: 'web-1', namespace: 'default', uid: 'abc', ips: ['10.0.0.5', 'fd00::5']});
    expect(parseConfig({POD_IP: '10.1.2.3'}).identity.ips).toEqual(['10.1.2.3']);
  });

  // Each invalid input must stop start-up with an error naming the variable and the value.
  const invalid: [string, Record<string, string>, string[], string][] = [
    ['bad duration', {LAMEDUCK_SETTLE: '2 seconds'}, [], 'LAMEDUCK_SETTLE'],
    ['negative duration', {LAMEDUCK_QUIET: '-1s'}, [], 'LAMEDUCK_QUIET'],
    ['bad URL', {LAMEDUCK_UPSTREAM: 'not a url'}, [], 'LAMEDUCK_UPSTREAM'],
    ['https upstream', {LAMEDUCK_UPSTREAM: 'https://127.0.0.1:3000'}, [], 'LAMEDUCK_UPSTREAM'],
    ['port out of range', {LAMEDUCK_LISTEN: ':70000'}, [], 'LAMEDUCK_LISTEN'],
    ['listener without port', {LAMEDUCK_ADMIN_LISTEN: '127.0.0.1'}, [], 'LAMEDUCK_ADMIN_LISTEN'],
    ['listener clash', {LAMEDUCK_LISTEN: ':9000', LAMEDUCK_ADMIN_LISTEN: '127.0.0.1:9000'}, [], 'LAMEDUCK_ADMIN_LISTEN'],
    ['unknown mode', {LAMEDUCK_MODE: 'sidecar'}, [], 'LAMEDUCK_MODE'],
    ['unknown app exit mode', {LAMEDUCK_APP_EXIT: 'kill'}, [], 'LAMEDUCK_APP_EXIT'],
    ['unknown signal', {LAMEDUCK_APP_EXIT: 'signal:SIGFOO', LAMEDUCK_APP_PROCESS: 'x'}, [], 'LAMEDUCK_APP_EXIT'],
    ['signal without process', {LAMEDUCK_APP_EXIT: 'signal:SIGTERM'}, [], 'LAMEDUCK_APP_PROCESS'],
    ['bad process regex', {LAMEDUCK_APP_EXIT: 'signal:SIGTERM', LAMEDUCK_APP_PROCESS: '(['}, [], 'LAMEDUCK_APP_PROCESS'],
    ['unknown flag', {}, ['--settel=2s'], '--settel'],
    ['flag with bad value', {}, ['--drain-timeout=soon'], 'LAMEDUCK_DRAIN_TIMEOUT'],
    ['bad boolean', {LAMEDUCK_WATCH_POD: 'maybe'}, [], 'LAMEDUCK_WATCH_POD'],
    ['bad log level', {LAMEDUCK_LOG_LEVEL: 'verbose'}, [], 'LAMEDUCK_LOG_LEVEL'],
    ['drain timeout below 1s', {LAMEDUCK_DRAIN_TIMEOUT: '100ms'}, [], 'LAMEDUCK_DRAIN_TIMEOUT'],
    ['bad pod IP', {POD_IPS: '10.0.0.1,banana'}, [], 'POD_IPS'],
    ['duration past the timer limit', {LAMEDUCK_DRAIN_TIMEOUT: '1000h'}, [], 'LAMEDUCK_DRAIN_TIMEOUT'],
    ['relative ignore path', {LAMEDUCK_QUIET_IGNORE_PATHS: 'health'}, [], 'LAMEDUCK_QUIET_IGNORE_PATHS'],
  ];
  it.each(invalid)('refuses %s, naming the variable', (_name, env, argv, variable) => {
    let error: unknown;
    try {
      parseConfig(env, argv);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(variable);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
  });

  it('never echoes the prestop token in an error', () => {
    expect(() => parseConfig({LAMEDUCK_PRESTOP_TOKEN: 'short'})).toThrow(/LAMEDUCK_PRESTOP_TOKEN.*redacted/);
    expect(() => parseConfig({LAMEDUCK_PRESTOP_TOKEN: 'short'})).not.toThrow(/short"/);
  });

  it('--help lists every setting with its flag, variable and default', () => {
    expect(() => parseConfig({}, ['--help'])).toThrow(HelpRequested);
    const help = helpText();
    for (const s of SETTINGS) {
      expect(help).toContain(s.env);
      expect(help).toContain(flagName(s.env));
      if (s.default !== undefined) expect(help).toContain(JSON.stringify(s.default));
    }
  });
});
