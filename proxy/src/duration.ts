/**
 * Go-style durations (`500ms`, `2s`, `1m30s`, `1.5h`), as kubectl and most Kubernetes tooling write them.
 * https://pkg.go.dev/time#ParseDuration — we accept ns/us/µs/ms/s/m/h units; a bare `0` is zero.
 */
const UNIT_MS: Record<string, number> = {ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000};

/** Parses a duration into milliseconds; returns undefined when the text is not a valid non-negative duration. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '0') return 0;
  if (s === '' || !/^(\d+(\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)((\d+(\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h))*$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Number.isFinite(total) ? total : undefined;
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
