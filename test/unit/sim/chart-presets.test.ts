// The showdown runs lameduck with the library chart's defaults, read from the chart itself: the settle preset of
// the default environment, quiet and the fallback delay as values.yaml sets them.
import {describe, it, expect} from '@jest/globals';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {load} from 'js-yaml';
import {readChartPresets, settlePresets} from '../../../sim/cluster/chart-presets.js';
import {findRepoRoot} from '../../../sim/cluster/images.js';
import {parseDuration} from '../../../proxy/src/duration.js';

const root = findRepoRoot();

describe('chart presets', () => {
  it("reads every environment's settle preset from lameduck.settle", () => {
    const presets = settlePresets(readFileSync(join(root, 'charts', 'lameduck', 'templates', '_helpers.tpl'), 'utf8'));
    expect(presets['kube-proxy']).toBeDefined();
    expect(Object.keys(presets)).toEqual(expect.arrayContaining(['kube-proxy', 'ingress', 'cloud-lb']));
    expect(readChartPresets(root, 'ingress').settleMs).toBe(parseDuration(presets.ingress!));
  });

  it("gives the default environment's settle and values.yaml's quiet and fallback delay", () => {
    const values = load(readFileSync(join(root, 'charts', 'lameduck', 'values.yaml'), 'utf8')) as Record<string, string>;
    const presets = settlePresets(readFileSync(join(root, 'charts', 'lameduck', 'templates', '_helpers.tpl'), 'utf8'));
    const p = readChartPresets(root);
    expect(p.environment).toBe(values.environment);
    expect(p.settleMs).toBe(parseDuration(values.settle || presets[values.environment]!));
    expect(p.quietMs).toBe(parseDuration(values.quiet!));
    expect(p.fallbackDelayMs).toBe(parseDuration(values.fallbackDelay!));
  });

  it('names the file and the environment when a preset is missing', () => {
    expect(() => readChartPresets(root, 'nowhere')).toThrow(/values\.yaml: environment "nowhere" has no settle preset/);
    expect(() => settlePresets('{{- define "lameduck.settle" -}}{{- end -}}')).toThrow(/no `\$presets := dict/);
  });
});
