// `npm run demo` options: defaults, every option, and a clear UsageError (exit 2 in the CLI) for bad input.
import {describe, it, expect} from '@jest/globals';
import {defaultParallel, parseShowdownArgs, UsageError} from '../../../demo/showdown.js';
import {SCENARIOS, DEFAULT_LAGS} from '../../../sim/cluster/scenarios.js';

describe('showdown options', () => {
  it('defaults to every scenario, 3 replicas, 200 rps, one rollout, the issue\'s lags', () => {
    expect(parseShowdownArgs([])).toMatchObject({scenarios: [...SCENARIOS], replicas: 3, rps: 200, rollouts: 1, sleepSeconds: 5, json: false, parallel: defaultParallel(), lags: DEFAULT_LAGS});
  });

  it('runs one scenario per two cores by default, one on a two-core machine, at most four', () => {
    expect([1, 2, 3, 4, 8, 64].map((n) => defaultParallel(n))).toEqual([1, 1, 1, 2, 4, 4]);
  });

  it('parses every option, in both --flag value and --flag=value forms', () => {
    const o = parseShowdownArgs([
      '--scenario', 'lameduck,bare', '--replicas=5', '--rps', '120', '--lag', '0.5s-2s', '--controller-lag=5s',
      '--ingress-lag', '1s-6s', '--sleep', '7s', '--fallback', '3s', '--rollouts', '2', '--parallel', '2', '--out', '/tmp/x.svg', '--json',
      '--nodes', '4', '--seed=9',
    ]);
    expect(o).toEqual({
      scenarios: ['lameduck', 'bare'],
      replicas: 5,
      nodes: 4,
      seed: 9,
      rps: 120,
      rollouts: 2,
      lags: {loadBalancer: {minMs: 500, maxMs: 2000}, controller: 5000, ingress: {minMs: 1000, maxMs: 6000}, dns: {minMs: 100, maxMs: 1000}},
      sleepSeconds: 7,
      fallbackDelayMs: 3000,
      json: true,
      out: '/tmp/x.svg',
      parallel: 2,
    });
    expect(parseShowdownArgs(['--help'])).toBeUndefined();
  });

  it.each([
    [['--bogus'], /unknown option "--bogus"/],
    [['--scenario', 'lameduk'], /unknown "lameduk"; choose from bare, sleep/],
    [['--replicas', '0'], /--replicas: 0 is out of range 1-20/],
    [['--nodes', '0'], /--nodes: 0 is out of range 1-10/],
    [['--replicas', 'three'], /--replicas: expected a whole number/],
    [['--rps', '-5'], /--rps: expected a number/],
    [['--lag', '3'], /--lag: expected a duration like 2s or a range like 0.5s-3s/],
    [['--lag', '3s-1s'], /runs backwards/],
    [['--sleep', 'long'], /--sleep: expected seconds/],
    [['--fallback', '15'], /--fallback: expected a duration/],
    [['--rps'], /--rps needs a value/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseShowdownArgs(argv)).toThrow(UsageError);
    expect(() => parseShowdownArgs(argv)).toThrow(message);
  });
});
