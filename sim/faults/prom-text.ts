/**
 * Reads a value out of a Prometheus text exposition (what lameduck's /metrics answers): the sum of the samples of
 * `name` whose labels include `labels`. Undefined when no sample matches (a missing series is not a zero).
 */
export function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got[lm[1]!] = lm[2]!;
    if (!Object.entries(labels).every(([k, v]) => got[k] === v)) continue;
    sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}
