/**
 * `npm run faults`: the full fault matrix (docs/reliability.md) with the real lameduck process, the local API server and load,
 * one scenario at a time (2 shared cores: running them together would measure the machine, not lameduck), at full
 * size (10 000 idle keep-alive connections, 1 000 slowloris connections, 1 000 client aborts). Prints the verdict
 * table (scenario | lost | deadline kept (overrun ms) | log | metric | notes) and writes it with the machine details
 * to bench/results/faults-<date>.json. Exit code 1 if any verdict failed.
 *
 * Options: --only=1,7,12 runs those scenario ids; --pods=N sizes the stampede (default 50).
 *
 * `--fuzz [--seed N] [--cases N] [--seconds N] ...` runs the HTTP/1.1 fuzz campaign instead (bench/fuzz/cli.ts).
 */
import {cpus, totalmem} from 'node:os';
import {writeResults} from './lib/report.js';
import {API_SCENARIOS} from '../sim/faults/api-scenarios.js';
import {APP_SCENARIOS} from '../sim/faults/app-scenarios.js';
import {STARTUP_SCENARIOS} from '../sim/faults/startup-scenarios.js';
import {clientAbortStorm, idleKeepAliveAtTrigger} from '../sim/faults/connection-scenarios.js';
import {slowloris, startTarget} from '../sim/faults/hostile.js';
import {stampede} from '../sim/faults/stampede-scenario.js';
import {judge, verdictTable, type Verdict} from '../sim/faults/verdict.js';
import {killAll} from '../sim/processes.js';
import {fuzzMain, FuzzUsageError} from './fuzz/cli.js';

async function slowlorisVerdict(attackers: number): Promise<Verdict> {
  const t = await startTarget();
  try {
    const baseline = await slowloris(t, {attackers: 0, durationMs: 3_000, rps: 50});
    const r = await slowloris(t, {attackers, durationMs: 5_000, rps: 50});
    return judge({
      id: 'H1',
      name: `slowloris: ${attackers} connections dripping headers`,
      lost: r.normal.failed,
      total: r.normal.total,
      allowedLost: 0,
      log: {want: '(none expected: the attack is not an error until the headers timeout)', seen: true},
      metric: {want: 'normal clients p99 (ms)', value: Math.round(r.normal.p99 * 10) / 10, ok: Number.isFinite(r.normal.p99)},
      notes: [`normal clients p50 ${r.normal.p50.toFixed(1)} ms, p99 ${r.normal.p99.toFixed(1)} ms (without attack: p50 ${baseline.normal.p50.toFixed(1)}, p99 ${baseline.normal.p99.toFixed(1)}); ${r.attackersOpen}/${attackers} attackers still held open`],
    });
  } finally {
    await t.close();
  }
}

function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function main(): Promise<void> {
  const pods = Number(arg('pods') ?? 50);
  const only = arg('only')?.split(',');
  const all: {id: string; run: () => Promise<Verdict>}[] = [
    ...API_SCENARIOS.map((run, i) => ({id: String(i + 1), run})),
    {id: '8', run: STARTUP_SCENARIOS[0]!},
    {id: '9', run: APP_SCENARIOS[0]!},
    {id: '10', run: APP_SCENARIOS[1]!},
    {id: '11', run: () => clientAbortStorm(1_000)},
    {id: '12', run: () => idleKeepAliveAtTrigger(10_000, 600)},
    {id: '13', run: APP_SCENARIOS[2]!},
    {id: '14', run: STARTUP_SCENARIOS[1]!},
    {id: '15', run: STARTUP_SCENARIOS[2]!},
    {id: '16', run: APP_SCENARIOS[3]!},
    {id: '17', run: () => stampede(pods)},
    {id: 'H1', run: () => slowlorisVerdict(1_000)},
  ];
  const startedAt = new Date();
  const verdicts: Verdict[] = [];
  for (const s of all) {
    if (only && !only.includes(s.id)) continue;
    const t0 = Date.now();
    process.stderr.write(`scenario ${s.id}... `);
    let v: Verdict;
    try {
      v = await s.run();
    } catch (err) {
      v = judge({id: s.id, name: `scenario ${s.id}`, lost: 0, total: 0, allowedLost: 0, log: {want: '', seen: false}, metric: {want: '', value: undefined, ok: false}, notes: []}, [`error: ${(err as Error).message}`]);
    }
    await killAll();
    process.stderr.write(`${v.failures.length === 0 ? 'ok' : `FAILED: ${v.failures.join('; ').slice(0, 400)}`} (${Math.round((Date.now() - t0) / 1000)} s)\n`);
    verdicts.push(v);
  }
  const table = verdictTable(verdicts);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
  process.stdout.write(`\nlameduck fault matrix — ${startedAt.toISOString()} — ${machine}\n\n${table}\n`);
  const file = writeResults('faults', {startedAt, machine, verdicts}, startedAt);
  process.stdout.write(`\nwritten to ${file}\n`);
  process.exitCode = verdicts.some((v) => v.failures.length > 0) ? 1 : 0;
}

async function fuzz(): Promise<void> {
  try {
    process.exitCode = await fuzzMain(process.argv.slice(2), (s) => process.stdout.write(s), (s) => process.stderr.write(s));
  } catch (err) {
    if (!(err instanceof FuzzUsageError)) throw err;
    process.stderr.write(`faults --fuzz: ${err.message}\n`);
    process.exitCode = 2;
  }
  await killAll();
}

(process.argv.includes('--fuzz') ? fuzz() : main()).catch(async (err: unknown) => {
  process.stderr.write(`faults: ${(err as Error).stack ?? err}\n`);
  await killAll();
  process.exit(1);
});
