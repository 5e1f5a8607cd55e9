// bench:rollout's arithmetic and verdicts: medians and worst cases over runs, drain over floor, and the issue's
// targets judged from the rows (zero failures, drain/floor ≤ 1.5, rollout vs the shortest clean sleep).
import {describe, it, expect} from '@jest/globals';
import {formatRows, parseRolloutArgs, summarizeRuns, verdicts, BenchUsageError} from '../../../bench/rollout.js';
import type {ScenarioResult} from '../../../sim/cluster/scenario-runner.js';

function run(scenario: string, failed: number, rolloutMs: number, goneMs: number, drains: number[], ratios: number[]): ScenarioResult {
  return {
    scenario,
    requests: {failed},
    rollouts: [{revision: 'r', startedAt: 0, completedAt: rolloutMs, durationMs: rolloutMs, untilOldPodsGoneMs: goneMs}],
    pods: drains.map((d, i) => ({name: `p${i}`, terminationMs: d})),
    floors: ratios.map((ratio, i) => ({pod: `p${i}`, ratio})),
  } as unknown as ScenarioResult;
}

describe('bench:rollout', () => {
  it('summarizes runs into medians and worst cases', () => {
    const row = summarizeRuns('lameduck', [
      run('lameduck', 0, 5000, 11000, [4000, 5000], [1.0, 1.2]),
      run('lameduck', 0, 7000, 13000, [6000], [1.4]),
      run('lameduck', 2, 6000, 12000, [5500], [NaN]),
    ]);
    expect(row).toMatchObject({
      runs: 3,
      failed: {median: 0, worst: 2, runsWithFailures: 1},
      rolloutMs: {median: 6000, worst: 7000},
      completeMs: {median: 12000, worst: 13000},
      drainMs: {median: 5250, worst: 6000},
      drainOverFloor: {median: 1.2, worst: 1.4},
    });
    expect(formatRows([row])).toMatch(/\| lameduck +\| 3 +\| 0 +\| 2 +\| 1\/3 +\| 6\.0s/);
  });

  it('judges the targets, comparing with the shortest sleep that never failed', () => {
    const lameduck = summarizeRuns('lameduck', [run('lameduck', 0, 6000, 11000, [5000], [1.1])]);
    const sleep3 = summarizeRuns('sleep 3s', [run('sleep', 4, 3000, 6000, [3000], [0.7])], 3);
    const sleep8 = summarizeRuns('sleep 8s', [run('sleep', 0, 3000, 14000, [8000], [2])], 8);
    const sleep12 = summarizeRuns('sleep 12s', [run('sleep', 0, 3000, 18000, [12000], [3])], 12);
    const v = verdicts([sleep12, sleep3, sleep8, lameduck]);
    expect(v).toContain('lameduck: zero failures in every run — met');
    expect(v).toContain('lameduck: drain/floor ≤ 1.5 (median) — met (1.10, worst 1.10)');
    expect(v).toContain('lameduck rollout until old pods gone 11.0s vs sleep 8s 14.0s (medians) — met');
    const failing = summarizeRuns('lameduck', [run('lameduck', 1, 6000, 20000, [5000], [1.6])]);
    const v2 = verdicts([failing, sleep8]);
    expect(v2.some((x) => /MISSED \(1\/1 runs had failures/.test(x))).toBe(true);
    expect(v2.some((x) => /drain\/floor.*MISSED/.test(x))).toBe(true);
    expect(v2.some((x) => /until old pods gone 20\.0s vs sleep 8s 14\.0s \(medians\) — MISSED/.test(x))).toBe(true);
  });

  it('parses its options and rejects bad ones', () => {
    expect(parseRolloutArgs(['--runs', '7', '--scenario', 'lameduck,sleep', '--sleeps', '2,4s', '--rps=50'])).toMatchObject({runs: 7, scenarios: ['lameduck', 'sleep'], sleeps: [2, 4], rps: 50});
    expect(() => parseRolloutArgs(['--runs', '0'])).toThrow(BenchUsageError);
    expect(() => parseRolloutArgs(['--scenario', 'nope'])).toThrow(/unknown nope/);
    expect(() => parseRolloutArgs(['--sleeps', 'x'])).toThrow(/--sleeps/);
  });
});
