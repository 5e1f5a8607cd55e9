/**
 * `npm run faults -- --fuzz [--seed N] [--cases N] [--seconds N] [--lanes N] [--case I[,J...]] [--families a,b]
 * [--no-minimize]`: the fuzz campaign (campaign.ts); every 25th case is also held open without a FIN, for lameduck's
 * own timeouts to end. Prints a table of cases, runs and violations by family and the
 * seed, then every violation with its input (escaped and hex) and the shrunk input. Exit code 1 on any violation.
 * Without --cases and --seconds it runs for 60 s; the seed defaults to the time, and is always printed.
 */
import {markdownTable} from '../lib/report.js';
import {FAMILIES, type Family} from './generate.js';
import {runCampaign, showBytes, type CampaignOptions} from './campaign.js';

const FLAGS = ['--seed', '--cases', '--seconds', '--lanes', '--case', '--families'] as const;

export class FuzzUsageError extends Error {
  readonly code = 'FUZZ_USAGE';
}

function int(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new FuzzUsageError(`${flag} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export function parseFuzzArgs(argv: readonly string[]): CampaignOptions {
  let seed: number | undefined;
  let cases: number | undefined;
  let seconds: number | undefined;
  let lanes: number | undefined;
  let only: number[] | undefined;
  let families: Family[] | undefined;
  let minimize = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--fuzz') continue;
    if (arg === '--no-minimize') {
      minimize = false;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    if (!(FLAGS as readonly string[]).includes(flag)) throw new FuzzUsageError(`unknown option ${JSON.stringify(arg)} (fuzz options: ${FLAGS.join(', ')}, --no-minimize)`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new FuzzUsageError(`${flag} needs a value`);
    if (flag === '--seed') seed = int(flag, value, 0);
    else if (flag === '--cases') cases = int(flag, value, 1);
    else if (flag === '--seconds') seconds = int(flag, value, 1);
    else if (flag === '--lanes') lanes = int(flag, value, 1);
    else if (flag === '--case') only = value.split(',').map((v) => int(flag, v, 0));
    else {
      families = value.split(',') as Family[];
      const bad = families.filter((f) => !(FAMILIES as readonly string[]).includes(f));
      if (bad.length > 0) throw new FuzzUsageError(`unknown famil${bad.length > 1 ? 'ies' : 'y'} ${bad.join(', ')} (known: ${FAMILIES.join(', ')})`);
    }
  }
  return {
    seed: seed ?? Date.now() % 1_000_000_007,
    cases,
    seconds: cases === undefined && only === undefined && seconds === undefined ? 60 : seconds,
    only,
    lanes,
    families,
    minimize,
    holdEvery: 25,
  };
}

export async function fuzzMain(argv: readonly string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const options = parseFuzzArgs(argv);
  err(`fuzz: seed ${options.seed}${options.cases ? `, ${options.cases} cases` : ''}${options.seconds ? `, ${options.seconds} s` : ''}\n`);
  const r = await runCampaign({...options, log: (l) => err(l + '\n')});
  const rows = [...r.byFamily].filter(([, s]) => s.cases > 0).map(([f, s]) => [f, String(s.cases), String(s.runs), String(s.violating)]);
  rows.push(['total', String(r.cases), String(r.runs), String(r.findings.length)]);
  out(`\nlameduck HTTP/1.1 fuzz campaign — seed ${r.seed} — ${r.seconds.toFixed(0)} s\n\n${markdownTable(['family', 'cases', 'runs', 'violating runs'], rows)}\n`);
  for (const f of r.findings) {
    out(`\n## case ${f.fuzzCase.id} (${f.fuzzCase.family}, sent ${f.delivery}): ${f.fuzzCase.label}\n`);
    for (const v of f.violations) out(`- ${v.kind}: ${v.detail}\n`);
    const sent = showBytes(f.sent);
    out(`  sent (escaped): ${sent.escaped}\n  sent (hex):     ${sent.hex}\n  received:       ${showBytes(f.received).escaped}\n`);
    if (f.minimal) {
      const m = showBytes(f.minimal.bytes);
      out(`  minimal (${f.minimal.bytes.length} bytes, ${f.minimal.violations.map((v) => v.kind).join(', ')}): ${m.escaped}\n  minimal (hex):  ${m.hex}\n`);
    }
    out(`  replay: npm run faults -- --fuzz --seed ${r.seed} --case ${f.fuzzCase.id.split(':')[1]}${options.families ? ` --families ${options.families.join(',')}` : ''}\n`);
  }
  return r.findings.length > 0 ? 1 : 0;
}
