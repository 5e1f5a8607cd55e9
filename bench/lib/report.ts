// What the bench programs share in how they report: a Markdown table for the terminal and docs, a JSON file per run
// in bench/results/ so runs can be compared, and integer settings read from the environment.
import {mkdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {findRepoRoot} from '../../sim/cluster/images.js';

/** A Markdown table with padded columns (as docs/performance.md carries them). */
export function markdownTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Writes `data` to bench/results/<name>-<time>.json and returns the path. */
export function writeResults(name: string, data: unknown, at: Date = new Date()): string {
  const dir = join(findRepoRoot(), 'bench', 'results');
  mkdirSync(dir, {recursive: true});
  const file = join(dir, `${name}-${at.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

/** An integer setting from the environment: `dflt` when unset or empty; anything else below `min` throws, naming it. */
export function envInt(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}
