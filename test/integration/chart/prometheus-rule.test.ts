/**
 * The PrometheusRule the library renders: `promtool check rules` accepts its groups, and `promtool test rules`
 * shows each alert firing on the series lameduck exports - for the pods of the release's namespace only - and
 * staying silent otherwise.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {execFile} from 'node:child_process';
import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {stringify as stringifyYaml} from 'yaml';
import {findObject} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

interface Rule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  for?: string;
}

const helm = useHelm();
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lameduck-promtool-'));
});
afterAll(async () => {
  if (work) await rm(work, {recursive: true, force: true});
});

function promtool(args: string[]): Promise<{code: number; output: string}> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, {cwd: work, timeout: 60_000, encoding: 'utf8'}, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('promtool is required: apt-get install -y --no-install-recommends prometheus'));
        return;
      }
      resolve({code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr});
    });
  });
}

async function renderRule(values: object, namespace: string) {
  const objects = await helm.template('charts/demo', {lameduck: {prometheusRule: {enabled: true}, ...values}}, {namespace});
  const rule = findObject(objects, 'PrometheusRule');
  expect(rule.metadata.namespace).toBe(namespace);
  return (rule.spec as {groups: {name: string; rules: Rule[]}[]}).groups;
}

/** Expands the annotation templates the way Prometheus will, for the few functions the rules use. */
function expand(template: string, labels: Record<string, string>, value: string): string {
  return template
    .replace(/\{\{ \$value \| humanize(Duration)? \}\}/g, value)
    .replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_m, l: string) => labels[l] ?? '');
}

describe('PrometheusRule', () => {
  it('passes promtool check rules', async () => {
    const groups = await renderRule({}, 'default');
    await writeFile(join(work, 'check.yaml'), stringifyYaml({groups}));
    const r = await promtool(['check', 'rules', 'check.yaml']);
    expect(r.output).toContain('SUCCESS: 3 rules found');
    expect(r.code).toBe(0);
    expect(groups.flatMap((g) => g.rules.map((x) => x.alert)).sort()).toEqual(['LameduckDrainNearDeadline', 'LameduckFallbackDrain', 'LameduckRequestsCut']);
  });

  it('fires each alert on lameduck series of its namespace, and only there', async () => {
    const ns = 'shop';
    // drainTimeout 30s: the deadline is 30 s, "near" is above 0.8 of it (24 s).
    const groups = await renderRule({drainTimeout: '30s', prometheusRule: {enabled: true, severity: 'page'}}, ns);
    await writeFile(join(work, 'rules.yaml'), stringifyYaml({groups}));
    const rules = new Map(groups.flatMap((g) => g.rules).map((r) => [r.alert, r]));
    expect([...rules.values()].every((r) => r.for === undefined)).toBe(true);

    // One sample a minute for 31 minutes. Counters step at minute 20; the 15m window at minute 30 then spans
    // samples exactly at both ends, so increase() is exact (no extrapolation) and the annotations are predictable.
    const steps = (before: number, after: number) => Array.from({length: 31}, (_, i) => (i < 20 ? before : after)).join(' ');
    const input_series = [
      {series: `lameduck_cut_total{namespace="${ns}",pod="web-1",kind="request"}`, values: steps(0, 3)},
      {series: `lameduck_cut_total{namespace="${ns}",pod="web-2",kind="request"}`, values: steps(0, 0)},
      {series: `lameduck_cut_total{namespace="other",pod="x-1",kind="request"}`, values: steps(0, 9)},
      {series: `lameduck_fallbacks_total{namespace="${ns}",pod="web-1",reason="forbidden"}`, values: steps(0, 1)},
      {series: `lameduck_fallbacks_total{namespace="${ns}",pod="web-2",reason="forbidden"}`, values: steps(0, 0)},
      {series: `lameduck_fallbacks_total{namespace="other",pod="x-1",reason="unreachable"}`, values: steps(0, 1)},
      {series: `lameduck_drain_duration_seconds{namespace="${ns}",pod="web-1"}`, values: steps(0, 27)},
      {series: `lameduck_drain_duration_seconds{namespace="${ns}",pod="web-2"}`, values: steps(0, 12)},
      {series: `lameduck_drain_duration_seconds{namespace="other",pod="x-1"}`, values: steps(0, 29)},
    ];
    const alert = (name: string, labels: Record<string, string>, value: string) => {
      const rule = rules.get(name)!;
      const all = {...labels, ...rule.labels};
      return {
        exp_labels: all,
        exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, t]) => [k, expand(t, all, value)])),
      };
    };
    const tests = {
      rule_files: ['rules.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series,
          alert_rule_test: [
            {eval_time: '30m', alertname: 'LameduckRequestsCut', exp_alerts: [alert('LameduckRequestsCut', {namespace: ns, pod: 'web-1', kind: 'request'}, '3')]},
            {eval_time: '30m', alertname: 'LameduckFallbackDrain', exp_alerts: [alert('LameduckFallbackDrain', {namespace: ns, pod: 'web-1', reason: 'forbidden'}, '1')]},
            {eval_time: '30m', alertname: 'LameduckDrainNearDeadline', exp_alerts: [alert('LameduckDrainNearDeadline', {namespace: ns, pod: 'web-1'}, '27s')]},
            // Before anything happened, and after the window has passed: silent.
            {eval_time: '10m', alertname: 'LameduckRequestsCut', exp_alerts: []},
            {eval_time: '10m', alertname: 'LameduckFallbackDrain', exp_alerts: []},
            {eval_time: '10m', alertname: 'LameduckDrainNearDeadline', exp_alerts: []},
          ],
        },
      ],
    };
    expect(rules.get('LameduckDrainNearDeadline')!.annotations.summary).toContain('of its 30s deadline');
    expect(rules.get('LameduckRequestsCut')!.labels).toEqual({severity: 'page'});
    await writeFile(join(work, 'tests.yaml'), stringifyYaml(tests));
    const r = await promtool(['test', 'rules', 'tests.yaml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });
});
