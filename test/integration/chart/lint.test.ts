/**
 * `helm lint --strict` (warnings fail too) passes for the library chart and for the demo chart, with its defaults
 * and with every optional resource on; and the pinned helm is the v4 the tests are written for.
 */
import {describe, expect, it} from '@jest/globals';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();

describe('helm lint --strict', () => {
  it('runs helm v4 from scripts/install-helm.sh', async () => {
    const {stdout} = await helm.run(['version', '--short']);
    expect(stdout).toMatch(/^v4\.\d+\.\d+/);
  });

  it('passes for the library chart', async () => {
    const out = await helm.lint('charts/lameduck');
    expect(out).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it.each([
    ['defaults', undefined],
    ['classic, every optional resource', {lameduck: {mode: 'classic', watchPod: true, serviceAccount: {create: true}, dashboard: {enabled: true}, prometheusRule: {enabled: true}}}],
  ])('passes for the demo chart (%s)', async (_name, values) => {
    const out = await helm.lint('charts/demo', values);
    expect(out).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('fails on what it should: a value the schema refuses', async () => {
    await expect(helm.lint('charts/demo', {lameduck: {mode: 'both'}})).rejects.toMatchObject({code: 'HELM_FAILED'});
  });
});
