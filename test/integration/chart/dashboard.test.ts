/**
 * The Grafana dashboard the library ships: every query is valid PromQL (promtool parses it as a recording rule) and
 * names only metrics that a real lameduck exports - scraped from a lameduck started with the environment the chart
 * renders - and every lameduck_ metric has a panel.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {execFile} from 'node:child_process';
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {stringify as stringifyYaml} from 'yaml';
import {httpGet} from '../../../sim/http.js';
import {killAll, startLameduck} from '../../../sim/processes.js';
import {findObject, podSpecOf, REPO_ROOT, type KubeObject} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

interface Target {
  expr: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: {list: {name: string; type: string; query?: string | {query: string}}[]};
}

const helm = useHelm();
let work: string;
let objects: KubeObject[];
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lameduck-dashboard-'));
  objects = await helm.template('charts/demo', {lameduck: {dashboard: {enabled: true}}});
}, 300_000);
afterAll(async () => {
  await killAll();
  if (work) await rm(work, {recursive: true, force: true});
});

function dashboardOf(objs: KubeObject[]): Dashboard {
  const cm = findObject(objs, 'ConfigMap');
  expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
  return JSON.parse((cm.data as Record<string, string>)['lameduck.json']!) as Dashboard;
}

function queries(d: Dashboard): string[] {
  const fromPanels = (ps: Panel[]): string[] => ps.flatMap((p) => [...(p.targets ?? []).map((t) => t.expr), ...fromPanels(p.panels ?? [])]);
  return fromPanels(d.panels);
}

/** The series selectors inside Grafana's label_values(<selector>, <label>) variable queries. */
function variableSelectors(d: Dashboard): string[] {
  return d.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const q = typeof v.query === 'string' ? v.query : v.query!.query;
      const m = /^label_values\((.+),\s*[a-z_]+\)$/.exec(q);
      if (!m) throw new Error(`unexpected variable query ${q}`);
      return m[1]!;
    });
}

/** Grafana's variables, replaced by values PromQL accepts. */
function concrete(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replaceAll('$namespace', '.*').replaceAll('$pod', '.*');
}

/** Metric names in a PromQL expression: identifiers that are not functions, keywords or label names. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = stripped.slice(m.index! + m[0].length).trimStart();
    if (after.startsWith('(')) continue; // a function or an aggregation
    if (['bool', 'and', 'or', 'unless', 'offset', 'by', 'without'].includes(m[0])) continue;
    names.push(m[0]);
  }
  return names;
}

function promtool(args: string[]): Promise<{code: number; output: string}> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, {cwd: work, timeout: 60_000, encoding: 'utf8'}, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') return reject(new Error('promtool is required: apt-get install -y --no-install-recommends prometheus'));
      resolve({code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr});
    });
  });
}

describe('the Grafana dashboard', () => {
  it('ships the chart file unchanged in a ConfigMap', async () => {
    const file = JSON.parse(await readFile(join(REPO_ROOT, 'charts/lameduck/dashboards/lameduck.json'), 'utf8')) as Dashboard;
    expect(dashboardOf(objects)).toEqual(file);
    expect(file.uid).toBe('lameduck-drain');
  });

  it('has only valid PromQL', async () => {
    const d = dashboardOf(objects);
    const exprs = [...queries(d), ...variableSelectors(d)];
    expect(exprs.length).toBeGreaterThan(20);
    const rules = exprs.map((e, i) => ({record: `dashboard:query_${i}`, expr: concrete(e)}));
    await writeFile(join(work, 'dashboard-rules.yaml'), stringifyYaml({groups: [{name: 'dashboard', rules}]}));
    const r = await promtool(['check', 'rules', 'dashboard-rules.yaml']);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.code).toBe(0);
  });

  it('names only metrics a real lameduck exports, and shows every lameduck_ metric', async () => {
    // lameduck started with what the chart renders for the sidecar: the values, not the Downward API references
    // (no pod identity here: it runs standalone) and loopback listeners on free ports instead of :8080/:9901.
    const sidecar = podSpecOf(findObject(objects, 'Deployment')).initContainers!.find((c) => c.name === 'lameduck')!;
    const env = Object.fromEntries(
      (sidecar.env ?? []).filter((e) => e.value !== undefined && e.name !== 'LAMEDUCK_LISTEN' && e.name !== 'LAMEDUCK_ADMIN_LISTEN').map((e) => [e.name, e.value!]),
    );
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['LAMEDUCK_MODE', 'LAMEDUCK_SETTLE', 'LAMEDUCK_UPSTREAM']));
    const lameduck = await startLameduck(env);
    const scrape = await httpGet({host: '127.0.0.1', port: lameduck.adminPort, path: '/metrics', timeoutMs: 10_000});
    expect(scrape.status).toBe(200);
    // Families from the # TYPE lines (a labelled histogram has no series before its first observation), with the
    // series names PromQL sees for each type.
    const suffixes: Record<string, string[]> = {counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count']};
    const exported = new Set(
      [...scrape.body.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ([a-z]+)$/gm)].flatMap((m) => suffixes[m[2]!]!.map((s) => `${m[1]!}${s}`)),
    );
    expect(exported.has('lameduck_requests_total')).toBe(true);
    expect(exported.has('lameduck_request_duration_seconds_bucket')).toBe(true);

    const d = dashboardOf(objects);
    const used = new Set<string>();
    for (const expr of [...queries(d), ...variableSelectors(d)]) {
      const names = metricNames(expr);
      expect({expr, names: names.length > 0}).toEqual({expr, names: true});
      for (const n of names) used.add(n);
    }
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
    // Every lameduck_ family (histograms by their _bucket/_sum/_count series) appears on some panel.
    const families = new Set([...exported].filter((n) => n.startsWith('lameduck_')).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    const usedFamilies = new Set([...used].map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    expect([...families].filter((f) => !usedFamilies.has(f) && !usedFamilies.has(`${f}_total`))).toEqual([]);
  });

  it('finds metric names the way the test above relies on', () => {
    expect(metricNames('sum by (phase) (rate(lameduck_requests_total{namespace=~"$namespace", code="5xx"}[$__rate_interval]))')).toEqual(['lameduck_requests_total']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y"}[1m]))) / on (pod) b > bool 1')).toEqual(['a_bucket', 'b']);
  });
});
