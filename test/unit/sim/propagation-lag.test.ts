// The per-node kube-proxy lag: a seeded mixture whose tail outlasts lameduck's default settle, so the showdown
// cannot be right by construction (a fixed settle covering every node's sync).
import {describe, it, expect} from '@jest/globals';
import {createLagSampler, DEFAULT_NODE_PROXY_LAG, describeLag, maxLagMs, seededRandom} from '../../../sim/cluster/propagation-lag.js';
import {readChartPresets} from '../../../sim/cluster/chart-presets.js';
import {findRepoRoot} from '../../../sim/cluster/images.js';

describe('propagation lag', () => {
  it('draws the same sequence for the same seed and another for another seed', () => {
    const draw = (seed: number): number[] => {
      const s = createLagSampler(DEFAULT_NODE_PROXY_LAG, seededRandom(seed));
      return Array.from({length: 20}, () => s());
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it("mostly syncs within a second, with a tail beyond the chart's default settle", () => {
    const settleMs = readChartPresets(findRepoRoot()).settleMs;
    const s = createLagSampler(DEFAULT_NODE_PROXY_LAG, seededRandom(1));
    const draws = Array.from({length: 5000}, () => s());
    const underOne = draws.filter((d) => d <= 1000).length / draws.length;
    const overSettle = draws.filter((d) => d > settleMs).length / draws.length;
    expect(underOne).toBeGreaterThan(0.75);
    expect(underOne).toBeLessThan(0.85);
    // 20 % tail over 1–6 s: 16 % beyond 2 s.
    expect(overSettle).toBeGreaterThan(0.1);
    expect(Math.max(...draws)).toBeGreaterThan(settleMs * 2);
    expect(Math.max(...draws)).toBeLessThanOrEqual(maxLagMs(DEFAULT_NODE_PROXY_LAG));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(DEFAULT_NODE_PROXY_LAG.body.minMs);
    expect(maxLagMs(DEFAULT_NODE_PROXY_LAG)).toBeGreaterThan(settleMs);
  });

  it('keeps plain lags as they were: a fixed value, or a uniform range', () => {
    const fixed = createLagSampler(1500);
    expect([fixed(), fixed()]).toEqual([1500, 1500]);
    const range = createLagSampler({minMs: 500, maxMs: 600}, seededRandom(3));
    for (let i = 0; i < 100; i++) {
      const d = range();
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(600);
    }
    expect(describeLag({minMs: 500, maxMs: 3000})).toBe('0.5s-3s');
    expect(describeLag(DEFAULT_NODE_PROXY_LAG)).toBe('0.1s-1s, 20% 1s-6s');
  });
});
