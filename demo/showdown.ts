// The rolling-update showdown (`npm run demo`): the same Deployment rolled once per scenario on the local
// cluster simulation (API server + EndpointSlice controller with lag, kubelet running real processes, kube-proxy-like
// and ingress-like balancers with propagation lag, open-loop load), then a table and an SVG timeline.
//
//   npm run demo [-- --scenario lameduck,bare --rps 200 --replicas 3 --lag 0.5s-3s --sleep 5 --json]
//
// Exit 0 when every scenario ran (failed requests are results, not errors); 2 on a bad option; 1 if the simulation
// itself failed.
import {existsSync, mkdirSync, writeFileSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {cpus} from 'node:os';
import {parseDuration} from '../proxy/src/duration.js';
import {findRepoRoot} from '../sim/cluster/images.js';
import {DEFAULT_LAGS, SCENARIOS, isScenarioName, type Lags, type ScenarioName} from '../sim/cluster/scenarios.js';
import {readChartPresets} from '../sim/cluster/chart-presets.js';
import {describeLag} from '../sim/cluster/propagation-lag.js';
import {longLivedSettleMs, runScenario, type Progress, type ScenarioResult} from '../sim/cluster/scenario-runner.js';
import type {Lag} from '../sim/kube/reconcile-queue.js';
import {cliArgs} from './cli-args.js';
import {renderTimelineSvg, type TimelinePanel} from './timeline-svg.js';

export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ShowdownOptions {
  scenarios: ScenarioName[];
  replicas: number;
  nodes: number;
  seed: number;
  rps: number;
  rollouts: number;
  lags: Lags;
  sleepSeconds: number;
  fallbackDelayMs?: number;
  json: boolean;
  out?: string;
  parallel: number;
}

export const USAGE = `Usage: npm run demo -- [options]

Rolls a 3-replica Deployment once per scenario on a local cluster simulation under load and shows what each way of
shutting a pod down costs: failed requests, rollout time, p99 latency, how long pods take to go.

Options:
  --scenario LIST     comma-separated, or "all" (default): ${SCENARIOS.join(', ')}
  --replicas N        replicas of the Deployment (default 3)
  --nodes N           simulated nodes, each with its own kubelet, kube-proxy and clients (default 3)
  --seed N            seed of the propagation lag draws (default 1)
  --rps N             requests per second, 3/4 through the Service's virtual IP, 1/4 through the ingress (default 200;
                      the headless scenarios send all of it through DNS-caching clients; the grpc-* ones send it
                      as unary calls on long-lived gRPC channels to the Service's virtual IP, plus 2 long server
                      streams per node)
  --lag SPEC          every node's kube-proxy lag, fixed ("2s") or a range ("0.5s-3s"); default ${describeLag(DEFAULT_LAGS.loadBalancer)},
                      drawn per node and per change
  --controller-lag S  EndpointSlice controller lag (default 0s-2s; up to 10s models a busy cluster)
  --ingress-lag SPEC  ingress / cloud LB lag (default 1s-4s)
  --sleep N           the preStop sleep of the "sleep" scenario, in seconds (default 5)
  --fallback D        LAMEDUCK_FALLBACK_DELAY of "lameduck-noapi" (default 15s, lameduck's default)
  --rollouts N        consecutive rolling updates per scenario (default 1)
  --parallel N        scenarios run at once, each in its own simulated cluster (default: one per two CPU cores,
                      at most 4; a run needs about one core, and a starved one measures the machine, not lameduck)
  --out FILE          where to write the SVG timeline (default bench/results/showdown-<time>.svg)
  --json              print the results as JSON on stdout instead of the table
  --help              this text`;

function parseLag(flag: string, value: string): Lag {
  const parts = value.split('-');
  const ms = parts.map((p) => parseDuration(p.trim()));
  if (parts.length > 2 || ms.some((m) => m === undefined)) throw new UsageError(`${flag}: expected a duration like 2s or a range like 0.5s-3s, got ${JSON.stringify(value)}`);
  if (ms.length === 1) return ms[0]!;
  if (ms[0]! > ms[1]!) throw new UsageError(`${flag}: the range ${JSON.stringify(value)} runs backwards`);
  return {minMs: ms[0]!, maxMs: ms[1]!};
}

function parseInt(flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag}: expected a whole number, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${flag}: ${n} is out of range ${min}-${max}`);
  return n;
}

/** Parses argv (without node and script). Throws UsageError; returns undefined for --help. */
export function parseShowdownArgs(argv: readonly string[]): ShowdownOptions | undefined {
  const o: ShowdownOptions = {
    scenarios: [...SCENARIOS],
    replicas: 3,
    nodes: 3,
    seed: 1,
    rps: 200,
    rollouts: 1,
    lags: {...DEFAULT_LAGS},
    sleepSeconds: 5,
    json: false,
    parallel: defaultParallel(),
  };
  const known = ['--scenario', '--replicas', '--nodes', '--seed', '--rps', '--lag', '--controller-lag', '--ingress-lag', '--sleep', '--fallback', '--rollouts', '--parallel', '--out'];
  for (const a of cliArgs(argv, known, (m) => new UsageError(m), ' (see --help)')) {
    if (a.kind === 'help') return undefined;
    if (a.kind === 'json') {
      o.json = true;
      continue;
    }
    const {flag, value} = a;
    switch (flag) {
      case '--scenario': {
        if (value === 'all') {
          o.scenarios = [...SCENARIOS];
          break;
        }
        const names = value.split(',').map((s) => s.trim()).filter(Boolean);
        const bad = names.filter((n) => !isScenarioName(n));
        if (bad.length > 0 || names.length === 0) throw new UsageError(`--scenario: unknown ${bad.map((b) => JSON.stringify(b)).join(', ') || 'empty list'}; choose from ${SCENARIOS.join(', ')} or all`);
        o.scenarios = [...new Set(names as ScenarioName[])];
        break;
      }
      case '--replicas':
        o.replicas = parseInt(flag, value, 1, 20);
        break;
      case '--nodes':
        o.nodes = parseInt(flag, value, 1, 10);
        break;
      case '--seed':
        o.seed = parseInt(flag, value, 0, 2 ** 31);
        break;
      case '--rps': {
        const n = Number(value);
        if (!Number.isFinite(n) || n <= 0 || n > 5000) throw new UsageError(`--rps: expected a number in (0, 5000], got ${JSON.stringify(value)}`);
        o.rps = n;
        break;
      }
      case '--lag':
        o.lags.loadBalancer = parseLag(flag, value);
        break;
      case '--controller-lag':
        o.lags.controller = parseLag(flag, value);
        break;
      case '--ingress-lag':
        o.lags.ingress = parseLag(flag, value);
        break;
      case '--sleep': {
        const s = /^\d+(\.\d+)?s?$/.test(value) ? Number(value.replace(/s$/, '')) : NaN;
        if (!Number.isFinite(s) || s > 600) throw new UsageError(`--sleep: expected seconds like 5 or 5s, got ${JSON.stringify(value)}`);
        o.sleepSeconds = s;
        break;
      }
      case '--fallback': {
        const ms = parseDuration(value);
        if (ms === undefined) throw new UsageError(`--fallback: expected a duration like 15s, got ${JSON.stringify(value)}`);
        o.fallbackDelayMs = ms;
        break;
      }
      case '--rollouts':
        o.rollouts = parseInt(flag, value, 1, 20);
        break;
      case '--parallel':
        o.parallel = parseInt(flag, value, 1, 8);
        break;
      case '--out':
        o.out = value;
        break;
    }
  }
  return o;
}

/** One lane per two cores (a scenario at 200 rps keeps about one core busy), 1 to 4. */
export function defaultParallel(cpuCount: number = cpus().length): number {
  return Math.max(1, Math.min(4, Math.floor(cpuCount / 2)));
}

const sec = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`);

function failedText(r: ScenarioResult): string {
  const parts = Object.entries(r.failedByKind).map(([k, v]) => `${k} ${v}`);
  return parts.length > 0 ? parts.join(', ') : '-';
}

/** The results table (plain text, fixed-width columns). */
export function formatTable(results: readonly ScenarioResult[]): string {
  const header = ['scenario', 'requests', 'failed', 'failed by kind', 'rollout', 'p99', 'longest pod drain', 'slowest kube-proxy', 'broken streams'];
  const rows = results.map((r) => [
    r.scenario,
    String(r.requests.total),
    String(r.requests.failed),
    failedText(r),
    sec(r.rollouts.reduce((a, x) => a + (x.durationMs ?? 0), 0) || undefined),
    Number.isFinite(r.requests.p99) ? `${r.requests.p99.toFixed(1)}ms` : '-',
    `${sec(r.longestDrainMs)}${r.pods.some((p) => p.sigkilled) ? ' (SIGKILL)' : ''}`,
    // The tail that settle alone would not cover: the slowest node's sync in this run, and how many syncs exceeded settle.
    r.headless ? 'n/a (DNS)' : `${sec(r.proxyLag.slowestMs)} (${r.proxyLag.overSettle} > settle)`,
    // gRPC: server streams that broke, and how many of them broke without a GOAWAY first (nobody told the client).
    r.grpc ? `${r.grpc.brokenStreams} (${r.grpc.brokenNotTold} not told)` : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const numeric = new Set([1, 2, 4, 5]);
  const line = (cells: string[]): string => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function toPanels(results: readonly ScenarioResult[]): TimelinePanel[] {
  return results.map((r) => ({
    title: r.grpc
      ? `${r.scenario}: ${r.requests.failed} failed RPCs of ${r.requests.total}, ${r.grpc.brokenStreams} broken streams (${r.grpc.brokenNotTold} not told to reconnect)`
      : `${r.scenario}: ${r.requests.failed} failed of ${r.requests.total}`,
    subtitle: r.description,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    buckets: r.timeline,
    pods: r.pods.map((p) => ({name: p.name, phases: p.phases})),
    markers: r.rollouts.map((x, i) => ({at: x.startedAt, label: `rollout ${i + 1}`})),
  }));
}

function progressLine(p: Progress): string {
  const pods = p.pods.map((x) => (x.state === 'ready' ? '●' : x.state === 'terminating' ? '◌' : '○')).join('');
  return `${p.scenario.padEnd(20)} ${p.stage.padEnd(9)} ${(p.elapsedMs / 1000).toFixed(0).padStart(3)}s  requests ${String(p.requests).padStart(6)}  failed ${String(p.failed).padStart(5)}  pods ${pods}`;
}

export async function runShowdown(o: ShowdownOptions, io: {stderr: NodeJS.WriteStream; signal?: AbortSignal}): Promise<ScenarioResult[]> {
  const tty = io.stderr.isTTY === true;
  const lines = new Map<string, string>();
  let drawn = 0;
  const draw = (): void => {
    if (!tty) return;
    if (drawn > 0) io.stderr.write(`\x1b[${drawn}A`);
    for (const l of lines.values()) io.stderr.write(`\x1b[2K${l}\n`);
    drawn = lines.size;
  };
  const lastStage = new Map<string, string>();
  const onProgress = (p: Progress): void => {
    lines.set(p.scenario, progressLine(p));
    if (tty) draw();
    else if (lastStage.get(p.scenario) !== p.stage) {
      lastStage.set(p.scenario, p.stage);
      io.stderr.write(progressLine(p) + '\n');
    }
  };
  const results = new Map<ScenarioName, ScenarioResult>();
  const queue = [...o.scenarios];
  const lane = async (): Promise<void> => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      if (io.signal?.aborted) return;
      const r = await runScenario({
        scenario: s,
        replicas: o.replicas,
        nodes: o.nodes,
        seed: o.seed,
        rps: o.rps,
        rollouts: o.rollouts,
        lags: o.lags,
        params: {sleepSeconds: o.sleepSeconds, ...(o.fallbackDelayMs !== undefined ? {fallbackDelayMs: o.fallbackDelayMs} : {})},
        onProgress,
        signal: io.signal,
        // Parallel lanes are the user's explicit choice: they must not wait for each other's lock.
        exclusive: o.parallel === 1,
      });
      results.set(s, r);
      lines.set(s, `${progressLine({scenario: s, stage: 'done', rollout: o.rollouts, rollouts: o.rollouts, elapsedMs: r.endedAt - r.startedAt, requests: r.requests.total, failed: r.requests.failed, pods: []})}`);
      draw();
    }
  };
  await Promise.all(Array.from({length: Math.min(o.parallel, o.scenarios.length)}, lane));
  return o.scenarios.flatMap((s) => (results.has(s) ? [results.get(s)!] : []));
}

function defaultSvgPath(root: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  return join(root, 'bench', 'results', `showdown-${stamp}.svg`);
}

async function main(): Promise<number> {
  let options: ShowdownOptions | undefined;
  try {
    options = parseShowdownArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`showdown: ${err.message}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const root = findRepoRoot();
  for (const file of ['dist/proxy/src/main.js', 'dist/demo-app/src/main.js']) {
    if (!existsSync(join(root, file))) {
      process.stderr.write(`showdown: ${file} is missing; run \`npm run build\` first (npm run demo does)\n`);
      return 1;
    }
  }
  const abort = new AbortController();
  const onSignal = (): void => {
    process.stderr.write('\nshowdown: stopping, tearing the simulation down...\n');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const o = options;
  const chart = readChartPresets(root);
  process.stderr.write(
    `lameduck showdown: ${o.replicas} replicas on ${o.nodes} nodes, ${o.rps} rps, ${o.rollouts} rolling update(s) per scenario (maxSurge 1, maxUnavailable 0)\n` +
      `lags: EndpointSlice controller ${describeLag(o.lags.controller)}, kube-proxy per node ${describeLag(o.lags.loadBalancer)}, ingress ${describeLag(o.lags.ingress)}, ` +
      `CoreDNS ${describeLag(o.lags.dns)} + 30s TTL; lameduck as the chart sets it (environment ${chart.environment}): settle ${sec(chart.settleMs)}, quiet ${sec(chart.quietMs)}` +
      (o.scenarios.some((s) => s.startsWith('grpc-lameduck')) ? `; gRPC: settle ${sec(Math.max(chart.settleMs, longLivedSettleMs(o.lags.loadBalancer)))} (long-lived clients, docs/http2.md)` : '') +
      '\n\n',
  );
  const t0 = Date.now();
  const results = await runShowdown(o, {stderr: process.stderr, signal: abort.signal});
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  const svgPath = resolve(o.out ?? defaultSvgPath(root));
  mkdirSync(dirname(svgPath), {recursive: true});
  writeFileSync(svgPath, renderTimelineSvg(toPanels(results), {title: `lameduck showdown — ${o.replicas} replicas, ${o.rps} rps`}));

  if (o.json) {
    const slim = results.map(({records: _r, recorder: _c, ...rest}) => rest);
    process.stdout.write(JSON.stringify({options: o, wallMs: Date.now() - t0, svg: svgPath, results: slim}, null, 2) + '\n');
  } else {
    process.stdout.write('\n' + formatTable(results) + '\n\n');
    for (const r of results) process.stdout.write(`  ${r.scenario.padEnd(20)} ${r.description}\n`);
    process.stdout.write(`\nfailed = requests that got a reset, a refused connection, a 5xx or a timeout; rollout = until every new pod was Ready and every old one deleted;\n`);
    process.stdout.write(`longest pod drain = from kubelet seeing the deletion to every container exited.\n`);
    if (results.some((r) => r.grpc)) {
      process.stdout.write(
        `grpc-* rows: requests = RPCs (unary calls and server streams), failed = RPCs that ended with a non-OK status (unavailable = UNAVAILABLE,\n` +
          `timeout = DEADLINE_EXCEEDED); broken streams = server streams that ended with a non-OK status, and of those the ones whose\n` +
          `connection had received no GOAWAY before the break (not told to reconnect).\n`,
      );
    }
    process.stdout.write(`\ntimeline: ${svgPath}\n(${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  return abort.signal.aborted ? 130 : 0;
}

// Run only as the entry point (the module is also imported by tests for its parser and formatting).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`showdown: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
