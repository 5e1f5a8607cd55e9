/** The verdict of one fault scenario, as the matrix table prints it and the tests assert it. */
export interface Verdict {
  id: string;
  name: string;
  /** Requests the clients saw fail (any outcome but a complete 2xx-4xx response). */
  lost: number;
  /** Requests sent in all. */
  total: number;
  /** What `lost` may be: 0 wherever the fault leaves a route to the app. */
  allowedLost: number;
  /** The drain deadline (ms), when the scenario drains. */
  deadlineMs?: number;
  /** End of the drain (or the exit) minus trigger minus deadline; negative = early. Target: <= 1000. */
  overrunMs?: number;
  log: {want: string; seen: boolean};
  metric: {want: string; value: number | undefined; ok: boolean};
  notes: string[];
  /** Every check that did not hold; empty = the scenario passed. */
  failures: string[];
}

export const MAX_OVERRUN_MS = 1_000;

/** Fills `failures` from the fields; call once all fields are set. */
export function judge(v: Omit<Verdict, 'failures'>, extra: string[] = []): Verdict {
  const failures = [...extra];
  if (v.lost > v.allowedLost) failures.push(`lost ${v.lost} > allowed ${v.allowedLost}`);
  if (v.overrunMs !== undefined && v.overrunMs > MAX_OVERRUN_MS) failures.push(`deadline overrun ${v.overrunMs} ms`);
  if (!v.log.seen) failures.push(`log not seen: ${v.log.want}`);
  if (!v.metric.ok) failures.push(`metric not seen: ${v.metric.want} (got ${v.metric.value})`);
  return {...v, failures};
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** A Markdown table: scenario | lost | deadline kept (overrun ms) | log | metric | notes. */
export function verdictTable(verdicts: readonly Verdict[]): string {
  const rows = ['| # | scenario | lost | deadline kept (overrun ms) | log | metric | notes |', '|---|---|---|---|---|---|---|'];
  for (const v of verdicts) {
    const lost = `${v.lost}/${v.total}${v.allowedLost > 0 ? ` (≤${v.allowedLost} allowed)` : ''}`;
    const deadline = v.overrunMs === undefined ? 'n/a' : `${v.overrunMs <= MAX_OVERRUN_MS ? 'yes' : 'NO'} (${v.overrunMs})`;
    const log = `${v.log.seen ? '✓' : '✗'} ${v.log.want}`;
    const metric = `${v.metric.ok ? '✓' : '✗'} ${v.metric.want} = ${v.metric.value ?? 'absent'}`;
    const notes = [...v.notes, ...v.failures.map((f) => `FAIL: ${f}`)].join('; ');
    rows.push(`| ${v.id} | ${cell(v.name)} | ${lost} | ${deadline} | ${cell(log)} | ${cell(metric)} | ${cell(notes)} |`);
  }
  return rows.join('\n');
}
