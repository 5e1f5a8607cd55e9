/**
 * The common shape of a drain fault scenario: start a world with load running, inject the fault, delete the pod in
 * the API and trigger the drain (GET /prestop in native mode, SIGTERM in classic), wait for `done`, then judge:
 * requests lost, deadline kept (the `done` log line's time against the trigger), the log line, the metric.
 */
import {NAMESPACE, SUBJECT, startWorld, type World, type WorldOptions} from './world.js';
import {sampleSum} from './prom-text.js';
import {judge, type Verdict} from './verdict.js';
import {within} from '../cluster/wait.js';

export interface LogExpectation {
  /** Shown in the table. */
  want: string;
  match(line: Record<string, unknown>): boolean;
}

export interface MetricExpectation {
  name: string;
  labels?: Record<string, string>;
  /** The sample sum must be at least this. Default 1. */
  min?: number;
}

export interface DrainScenarioSpec {
  id: string;
  name: string;
  world: WorldOptions;
  /** Before the trigger (the pod is not yet deleted). */
  before?(w: World): Promise<void>;
  /** Runs from the trigger on, concurrently with the drain; awaited before the verdict. */
  during?(w: World): Promise<void>;
  /** Delete the pod in the API before the trigger (default true when there is an API). */
  deletePod?: boolean;
  log: LogExpectation;
  metric: MetricExpectation;
  allowedLost?: number | ((w: World) => number);
  /** Further checks after the drain; return failure messages and notes. */
  check?(w: World, ctx: {metrics: string}): Promise<{failures?: string[]; notes?: string[]}>;
  /** Warm-up with load before the fault (ms). Default 500. */
  warmMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function describeMetric(m: MetricExpectation): string {
  const labels = Object.entries(m.labels ?? {}).map(([k, v]) => `${k}="${v}"`);
  return `${m.name}${labels.length ? `{${labels.join(',')}}` : ''} ≥ ${m.min ?? 1}`;
}

export async function runDrainScenario(spec: DrainScenarioSpec): Promise<Verdict> {
  const w = await startWorld(spec.world);
  const mode = spec.world.mode ?? 'native';
  const failures: string[] = [];
  const notes: string[] = [];
  let scraping = true;
  let lastMetrics = '';
  try {
    await sleep(spec.warmMs ?? 500);
    await spec.before?.(w);
    if (w.api && (spec.deletePod ?? true)) w.api.store.deletePod(NAMESPACE, SUBJECT, {gracePeriodSeconds: 30});

    const triggerAt = Date.now();
    // Classic mode exits right after `done`: keep the latest scrape, the last one before the exit counts.
    const scraper = (async () => {
      while (scraping && w.ld.child.exitCode === null) {
        try {
          lastMetrics = (await w.admin('/metrics', 2_000)).body;
        } catch {
          /* the admin port closes at the exit */
        }
        await sleep(100);
      }
    })();
    const waitMs = spec.world.deadlineMs + 15_000;
    const prestop =
      mode === 'native'
        ? w.admin('/prestop', waitMs).then(
            (r) => ({at: Date.now(), status: r.status, body: r.body}),
            (err: Error) => ({at: Date.now(), status: 0, body: err.message}),
          )
        : undefined;
    if (mode === 'classic') w.ld.kill('SIGTERM');
    const during = spec.during?.(w);

    const done = await w.ld.waitForLog((l) => l.msg === 'phase' && l.to === 'done', waitMs);
    const doneAt = Date.parse(String(done.time));
    // The summary line follows `done` in the same tick, but may arrive in a later stdout chunk.
    await w.ld.waitForLog((l) => l.msg === 'drain summary', 5_000).catch(() => undefined);
    await during;
    const started = w.ld.logs.find((l) => l.msg === 'drain started') as {deadlineMs?: number} | undefined;
    const deadlineMs = started?.deadlineMs ?? spec.world.deadlineMs;
    let overrunMs = doneAt - triggerAt - deadlineMs;
    if (mode === 'native') {
      lastMetrics = (await w.admin('/metrics')).body;
      const p = await prestop!;
      if (p.status !== 200) failures.push(`/prestop answered ${p.status}: ${p.body.trim()}`);
    }
    // Checks run while a native lameduck still lives (its /proc entry, its sockets), before the load stops.
    const extra = await spec.check?.(w, {metrics: lastMetrics});
    failures.push(...(extra?.failures ?? []));
    notes.push(...(extra?.notes ?? []));
    const report = await w.load?.stop();
    // native: kubelet signals the sidecar after the app exited; classic: the SIGTERM was the trigger.
    if (mode === 'native') w.ld.kill('SIGTERM');
    const exit = await within(w.ld.exited, 5_000, undefined);
    if (!exit) failures.push('lameduck did not exit within 5 s of its SIGTERM');
    else if (exit.code !== 0) failures.push(`exit code ${exit.code} signal ${exit.signal}`);
    if (mode === 'classic' && exit) overrunMs = Math.max(overrunMs, exit.at - triggerAt - deadlineMs);
    scraping = false;
    await scraper;

    const value = sampleSum(lastMetrics, spec.metric.name, spec.metric.labels);
    const summary = w.ld.logs.find((l) => l.msg === 'drain summary') as {deregistration?: string; fallbackReason?: string; drainMs?: number; cut?: Record<string, number>} | undefined;
    if (summary) {
      notes.unshift(
        `${summary.deregistration}${summary.fallbackReason ? `:${summary.fallbackReason}` : ''} in ${summary.drainMs} ms of ${deadlineMs}` +
          (summary.cut && Object.values(summary.cut).some((n) => n > 0) ? `, cut ${JSON.stringify(summary.cut)}` : ''),
      );
    }
    if (report && report.failed > 0) {
      // Where the failures fall against the trigger and the LB move tells a race from a break.
      const bad = report.records.filter((r) => r.outcome !== 'ok');
      const rel = (t: number): number => Math.round(t - triggerAt);
      const moved = w.movedAt();
      notes.push(
        `failed requests started ${rel(Math.min(...bad.map((r) => r.start)))}..${rel(Math.max(...bad.map((r) => r.start)))} ms after the trigger` +
          `${moved ? ` (LB moved at ${rel(moved)} ms)` : ''}; kinds ${JSON.stringify(Object.fromEntries([...new Set(bad.map((r) => r.kind))].map((k) => [k, bad.filter((r) => r.kind === k).length])))}; ` +
          `errors ${[...new Set(bad.map((r) => r.error ?? String(r.status)))].slice(0, 3).join(' | ')}`,
      );
    }
    if (report && report.failed > 0) notes.push(`failures: ${JSON.stringify(Object.fromEntries(Object.entries(report.byOutcome).filter(([k, n]) => k !== 'ok' && n > 0)))}`);
    return judge(
      {
        id: spec.id,
        name: spec.name,
        lost: report?.failed ?? 0,
        total: report?.total ?? 0,
        allowedLost: typeof spec.allowedLost === 'function' ? spec.allowedLost(w) : (spec.allowedLost ?? 0),
        deadlineMs,
        overrunMs,
        log: {want: spec.log.want, seen: w.ld.logs.some((l) => spec.log.match(l))},
        metric: {want: describeMetric(spec.metric), value, ok: value !== undefined && value >= (spec.metric.min ?? 1)},
        notes,
      },
      failures,
    );
  } catch (err) {
    // A scenario that breaks is a failed verdict with the reason and the last log lines, never a crash of the matrix.
    const tail = w.ld.stdout.slice(-6).join(' / ');
    return judge(
      {
        id: spec.id,
        name: spec.name,
        lost: w.load?.records.filter((r) => r.outcome !== 'ok').length ?? 0,
        total: w.load?.records.length ?? 0,
        allowedLost: 0,
        log: {want: spec.log.want, seen: w.ld.logs.some((l) => spec.log.match(l))},
        metric: {want: describeMetric(spec.metric), value: undefined, ok: false},
        notes,
      },
      [...failures, `error: ${(err as Error).message}; lameduck: ${tail}`],
    );
  } finally {
    scraping = false;
    await w.dispose();
  }
}
