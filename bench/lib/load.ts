/**
 * Latency at a fixed request rate, in a process of its own (pinned to the load core by bench/perf.ts, so the
 * orchestrator's own work does not disturb it): the open-loop, jittered-arrival generator of sim/load.ts
 * over keep-alive connections. Open loop matters: a closed loop (wrk, autocannon) sends the next request only when
 * the last one returned, so a slow answer delays the following arrivals and the percentiles hide the queueing
 * (coordinated omission); wrk2 would fix that but is not packaged here.
 *
 * Run: node dist/bench/lib/load.js <host> <port> <rps> <seconds>; prints one JSON line (FixedRateResult).
 */
import {pathToFileURL} from 'node:url';
import {startLoad, type RequestRecord} from '../../sim/load.js';

export interface FixedRateResult {
  targetRps: number;
  achievedRps: number;
  total: number;
  failed: number;
  /** Failures by outcome; `error` includes arrivals the generator refused to send (too many in flight: it was overloaded). */
  byOutcome: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of ascending values; NaN if none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  // The epsilon: (99.9 / 100) * 1000 is 999.0000000000001 in floating point, and its ceiling would skip a rank.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length - 1e-9) - 1))]!;
}

export function summarizeFixedRate(targetRps: number, records: readonly RequestRecord[]): FixedRateResult {
  const ok = records.filter((r) => r.outcome === 'ok');
  const lat = ok.map((r) => r.end - r.start).sort((a, b) => a - b);
  const starts = records.map((r) => r.start);
  const span = starts.length > 1 ? (Math.max(...starts) - Math.min(...starts)) / 1000 : NaN;
  return {
    targetRps,
    achievedRps: Math.round(records.length / span),
    total: records.length,
    failed: records.length - ok.length,
    byOutcome: records.reduce<Record<string, number>>((acc, r) => (r.outcome === 'ok' ? acc : ((acc[r.outcome] = (acc[r.outcome] ?? 0) + 1), acc)), {}),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    p999Ms: percentile(lat, 99.9),
    maxMs: lat.length ? lat[lat.length - 1]! : NaN,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [host = '127.0.0.1', port, rps, seconds] = process.argv.slice(2);
  const load = startLoad({host, port: Number(port), rps: Number(rps), keepAliveFraction: 1, durationMs: Number(seconds) * 1000, timeoutMs: 5000, maxInFlight: 2000});
  const report = await load.finished;
  process.stdout.write(JSON.stringify(summarizeFixedRate(Number(rps), report.records)) + '\n');
}
