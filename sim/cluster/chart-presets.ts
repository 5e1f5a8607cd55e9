/**
 * lameduck's timing settings as the library chart sets them by default (charts/lameduck/values.yaml and the
 * `environment` presets of `lameduck.settle` in charts/lameduck/templates/_helpers.tpl), read from the chart itself,
 * so the showdown runs lameduck the way a user who installs the chart gets it — not tuned to the simulation's lags.
 */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {load} from 'js-yaml';
import {parseDuration} from '../../proxy/src/duration.js';

export interface ChartPresets {
  /** `environment` of values.yaml (e.g. `kube-proxy`). */
  environment: string;
  settleMs: number;
  quietMs: number;
  fallbackDelayMs: number;
  exitMarginMs: number;
}

export class ChartPresetsError extends Error {
  readonly code = 'CHART_PRESETS';
  constructor(message: string) {
    super(message);
    this.name = 'ChartPresetsError';
  }
}

function duration(file: string, key: string, value: unknown): number {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined) throw new ChartPresetsError(`${file}: ${key} is not a duration: ${JSON.stringify(value)}`);
  return ms;
}

/** The settle presets per environment, from the `dict "kube-proxy" "2s" ...` line of `lameduck.settle`. */
export function settlePresets(helpers: string): Record<string, string> {
  const line = /\$presets\s*:=\s*dict((?:\s+"[^"]*")+)/.exec(helpers);
  if (!line) throw new ChartPresetsError('charts/lameduck/templates/_helpers.tpl: no `$presets := dict ...` in lameduck.settle');
  const words = [...line[1]!.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < words.length; i += 2) out[words[i]!] = words[i + 1]!;
  return out;
}

export function readChartPresets(repoRoot: string, environment?: string): ChartPresets {
  const valuesFile = join(repoRoot, 'charts', 'lameduck', 'values.yaml');
  const values = load(readFileSync(valuesFile, 'utf8')) as Record<string, unknown>;
  const env = environment ?? String(values.environment);
  const presets = settlePresets(readFileSync(join(repoRoot, 'charts', 'lameduck', 'templates', '_helpers.tpl'), 'utf8'));
  const settle = values.settle ? String(values.settle) : presets[env];
  if (settle === undefined) throw new ChartPresetsError(`${valuesFile}: environment ${JSON.stringify(env)} has no settle preset`);
  return {
    environment: env,
    settleMs: duration(valuesFile, 'settle', settle),
    quietMs: duration(valuesFile, 'quiet', values.quiet),
    fallbackDelayMs: duration(valuesFile, 'fallbackDelay', values.fallbackDelay),
    exitMarginMs: duration(valuesFile, 'exitMargin', values.exitMargin),
  };
}
