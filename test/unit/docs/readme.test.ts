import {describe, expect, it} from '@jest/globals';
import {readFileSync} from 'node:fs';
import {SETTINGS, flagName} from '../../../proxy/src/config.js';
import {createMetrics} from '../../../proxy/src/metrics.js';

// The README is the user's reference: it must open with the two commands and list every setting and metric.
const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('opens with exactly the two commands for a fresh clone', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1]?.trim().split('\n');
    expect(firstBlock).toEqual(['npm ci && npm run demo', 'npm test']);
    expect(readme.indexOf('```sh')).toBeLessThan(readme.indexOf('\n## '));
  });
  it('documents every setting with its flag and default', () => {
    for (const s of SETTINGS) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${s.env}\``));
      expect(row).toBeDefined();
      expect(row).toContain(`\`${flagName(s.env)}\``);
      if (s.default !== undefined) expect(row).toContain(`\`${s.default}\``);
    }
  });
  it('lists every lameduck metric', async () => {
    const names = (await createMetrics({defaultMetrics: false}).registry.getMetricsAsJSON()).map((m) => m.name);
    for (const name of names) expect(readme).toContain(name.replace(/^lameduck_/, ''));
  });
});
