// Rollout benchmark (docs/demo.md): every scenario repeated (≥ 5 runs), medians and worst cases of failed requests, rollout
// duration, per-pod drain time and drain time over its floor (how long the data planes kept routing to the pod after
// its deletion + the longest request it served), plus the targets:
//   - lameduck: zero failed requests in every run;
//   - lameduck's rollout no slower than `sleep` with the shortest sleep that gave zero failures in every run;
//   - drain / floor ≤ 1.5 (median) for lameduck.
//
//   npm run bench:rollout [-- --runs 5 --scenario lameduck,sleep --sleeps 3,6,10 --rps 200 --json]
//
// Runs are sequential (one simulated cluster at a time); a full default run takes about 15–20 minutes.
import {existsSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {findRepoRoot} from '../sim/cluster/images.js';
import {runScenario, type ScenarioResult} from '../sim/cluster/scenario-runner.js';
import {DEFAULT_LAGS, SCENARIOS, isScenarioName, type ScenarioName} from '../sim/cluster/scenarios.js';
import {readChartPresets} from '../sim/cluster/chart-presets.js';
import {describeLag} from '../sim/cluster/propagation-lag.js';
import {cliArgs} from '../demo/cli-args.js';
import {markdownTable, writeResults} from './lib/report.js';

export interface RolloutBenchOptions {
  runs: number;
  scenarios: ScenarioName[];
  /** Preset sleeps (seconds) for the `sleep` scenario: each is its own row. */
  sleeps: number[];
  rps: number;
  replicas: number;
  json: boolean;
}

export class BenchUsageError extends Error {
  readonly code = 'USAGE';
}

export function parseRolloutArgs(argv: readonly string[]): RolloutBenchOptions | undefined {
  const o: RolloutBenchOptions = {runs: 5, scenarios: [...SCENARIOS], sleeps: [3, 6, 10], rps: 200, replicas: 3, json: false};
  for (const a of cliArgs(argv, ['--runs', '--scenario', '--sleeps', '--rps', '--replicas'], (m) => new BenchUsageError(m))) {
    if (a.kind === 'help') return undefined;
    if (a.kind === 'json') {
      o.json = true;
      continue;
    }
    const {flag, value} = a;
    const int = (min: number, max: number): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < min || n > max) throw new BenchUsageError(`${flag}: expected a whole number in ${min}-${max}, got ${JSON.stringify(value)}`);
      return n;
    };
    switch (flag) {
      case '--runs':
        o.runs = int(1, 100);
        break;
      case '--rps':
        o.rps = int(1, 5000);
        break;
      case '--replicas':
        o.replicas = int(1, 20);
        break;
      case '--scenario': {
        const names = value === 'all' ? [...SCENARIOS] : value.split(',').map((s) => s.trim());
        const bad = names.filter((n) => !isScenarioName(n));
        if (bad.length > 0) throw new BenchUsageError(`--scenario: unknown ${bad.join(', ')}; choose from ${SCENARIOS.join(', ')}`);
        o.scenarios = names as ScenarioName[];
        break;
      }
      case '--sleeps': {
        const list = value.split(',').map((s) => Number(s.trim().replace(/s$/, '')));
        if (list.some((n) => !Number.isFinite(n) || n < 0 || n > 600)) throw new BenchUsageError(`--sleeps: expected seconds like 3,6,10, got ${JSON.stringify(value)}`);
        o.sleeps = list;
        break;
      }
    }
  }
  return o;
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const max = (xs: number[]): number => (xs.length === 0 ? NaN : Math.max(...xs));

export interface Row {
  label: string;
  scenario: string;
  sleepSeconds?: number;
  runs: number;
  failed: {median: number; worst: number; runsWithFailures: number};
  rolloutMs: {median: number; worst: number};
  /** Until the last old pod was gone (drains included): what a long preStop sleep costs. */
  completeMs: {median: number; worst: number};
  drainMs: {median: number; worst: number};
  drainOverFloor: {median: number; worst: number};
}

export function summarizeRuns(label: string, results: ScenarioResult[], sleepSeconds?: number): Row {
  const failed = results.map((r) => r.requests.failed);
  const rollouts = results.map((r) => r.rollouts.reduce((a, x) => a + (x.durationMs ?? NaN), 0));
  const complete = results.map((r) => r.rollouts.reduce((a, x) => a + (x.untilOldPodsGoneMs ?? NaN), 0));
  const drains = results.flatMap((r) => r.pods.flatMap((p) => (p.terminationMs === undefined ? [] : [p.terminationMs])));
  const ratios = results.flatMap((r) => r.floors.map((f) => f.ratio)).filter(Number.isFinite);
  return {
    label,
    scenario: results[0]!.scenario,
    ...(sleepSeconds !== undefined ? {sleepSeconds} : {}),
    runs: results.length,
    failed: {median: median(failed), worst: max(failed), runsWithFailures: failed.filter((f) => f > 0).length},
    rolloutMs: {median: median(rollouts), worst: max(rollouts)},
    completeMs: {median: median(complete), worst: max(complete)},
    drainMs: {median: median(drains), worst: max(drains)},
    drainOverFloor: {median: median(ratios), worst: max(ratios)},
  };
}

const s1 = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)}s` : '-');
const r2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');

export function formatRows(rows: readonly Row[]): string {
  const header = ['scenario', 'runs', 'failed median', 'failed worst', 'runs w/ failures', 'rollout median', 'rollout worst', 'old pods gone median', 'old pods gone worst', 'drain median', 'drain worst', 'drain/floor median', 'drain/floor worst'];
  const body = rows.map((r) => [r.label, String(r.runs), String(r.failed.median), String(r.failed.worst), `${r.failed.runsWithFailures}/${r.runs}`, s1(r.rolloutMs.median), s1(r.rolloutMs.worst), s1(r.completeMs.median), s1(r.completeMs.worst), s1(r.drainMs.median), s1(r.drainMs.worst), r2(r.drainOverFloor.median), r2(r.drainOverFloor.worst)]);
  return markdownTable(header, body);
}

/** The issue's targets, judged on the rows. */
export function verdicts(rows: readonly Row[]): string[] {
  const out: string[] = [];
  const lameduck = rows.filter((r) => r.scenario === 'lameduck' || r.scenario === 'lameduck-native');
  for (const r of lameduck) {
    out.push(`${r.label}: zero failures in every run — ${r.failed.runsWithFailures === 0 ? 'met' : `MISSED (${r.failed.runsWithFailures}/${r.runs} runs had failures, worst ${r.failed.worst})`}`);
    out.push(`${r.label}: drain/floor ≤ 1.5 (median) — ${r.drainOverFloor.median <= 1.5 ? 'met' : 'MISSED'} (${r2(r.drainOverFloor.median)}, worst ${r2(r.drainOverFloor.worst)})`);
  }
  const cleanSleeps = rows.filter((r) => r.scenario === 'sleep' && r.failed.runsWithFailures === 0).sort((a, b) => (a.sleepSeconds ?? 0) - (b.sleepSeconds ?? 0));
  const classic = rows.find((r) => r.scenario === 'lameduck');
  if (classic && rows.some((r) => r.scenario === 'sleep')) {
    if (cleanSleeps.length === 0) out.push(`lameduck rollout vs the shortest zero-failure sleep: no sleep tried gave zero failures in every run (keep-alive connections pinned to the pod break when the app exits), so sleep has no comparable rollout time`);
    else {
      const best = cleanSleeps[0]!;
      // Compared until the old pods are gone: a preStop sleep does not hold `kubectl rollout status`, it holds the pods.
      out.push(`lameduck rollout until old pods gone ${s1(classic.completeMs.median)} vs ${best.label} ${s1(best.completeMs.median)} (medians) — ${classic.completeMs.median <= best.completeMs.median ? 'met' : 'MISSED'}`);
    }
  }
  return out;
}

async function main(): Promise<number> {
  let o: RolloutBenchOptions | undefined;
  try {
    o = parseRolloutArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof BenchUsageError)) throw err;
    process.stderr.write(`bench:rollout: ${err.message}\n`);
    return 2;
  }
  if (!o) {
    process.stdout.write('Usage: npm run bench:rollout -- [--runs N] [--scenario LIST|all] [--sleeps 3,6,10] [--rps N] [--replicas N] [--json]\n');
    return 0;
  }
  const root = findRepoRoot();
  if (!existsSync(join(root, 'dist/proxy/src/main.js'))) {
    process.stderr.write('bench:rollout: dist/ is missing; run `npm run build` first\n');
    return 1;
  }
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const plan: {label: string; scenario: ScenarioName; sleep?: number}[] = [];
  for (const s of o.scenarios) {
    if (s === 'sleep') for (const n of o.sleeps) plan.push({label: `sleep ${n}s`, scenario: s, sleep: n});
    else plan.push({label: s, scenario: s});
  }
  const rows: Row[] = [];
  const started = Date.now();
  for (const item of plan) {
    const results: ScenarioResult[] = [];
    for (let i = 1; i <= o.runs && !abort.signal.aborted; i++) {
      process.stderr.write(`${item.label.padEnd(20)} run ${i}/${o.runs} ... `);
      const r = await runScenario({
        scenario: item.scenario,
        rps: o.rps,
        replicas: o.replicas,
        params: item.sleep !== undefined ? {sleepSeconds: item.sleep} : {},
        // Every run draws its own per-node lags (a different tail each time), reproducibly.
        seed: i,
        signal: abort.signal,
      });
      results.push(r);
      process.stderr.write(`${r.requests.failed} failed of ${r.requests.total}, rollout ${s1(r.rollouts[0]?.durationMs ?? NaN)}, longest drain ${s1(r.longestDrainMs)}\n`);
    }
    if (results.length > 0) rows.push(summarizeRuns(item.label, results, item.sleep));
    if (abort.signal.aborted) break;
  }
  const out = {options: o, wallMs: Date.now() - started, rows, verdicts: verdicts(rows)};
  const file = writeResults('rollout', out);
  if (o.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  else {
    const chart = readChartPresets(root);
    process.stdout.write(
      `\n${o.replicas} replicas on 3 nodes, ${o.rps} rps, ${o.runs} runs per row (seeds 1-${o.runs}), default lags (controller ${describeLag(DEFAULT_LAGS.controller)}, ` +
        `kube-proxy per node ${describeLag(DEFAULT_LAGS.loadBalancer)}, ingress ${describeLag(DEFAULT_LAGS.ingress)}); lameduck settle ${chart.settleMs / 1000}s, quiet ${chart.quietMs / 1000}s (chart defaults)\n\n`,
    );
    process.stdout.write(formatRows(rows) + '\n\n');
    for (const v of out.verdicts) process.stdout.write(`- ${v}\n`);
    process.stdout.write(`\nresults: ${file} (${((Date.now() - started) / 60_000).toFixed(1)} min)\n`);
  }
  return abort.signal.aborted ? 130 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bench:rollout: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
