/**
 * Summarises a V8 .cpuprofile (`node --cpu-prof`): self time per function (where the CPU actually was, not who
 * called it) and per source area (node internals, http-proxy-3, prom-client, lameduck's own files, GC). Self time
 * comes from the sample timestamps (timeDeltas), which is exact even when the sampling interval drifts.
 *
 * Run: node dist/bench/lib/profile.js <file.cpuprofile> [top]
 */
import {readFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';

interface CpuProfileNode {
  id: number;
  callFrame: {functionName: string; url: string; lineNumber: number; columnNumber: number};
  children?: number[];
}
export interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Frame {
  frame: string;
  area: string;
  selfMs: number;
  selfPct: number;
}
export interface ProfileSummary {
  totalMs: number;
  /** Non-idle time (samples outside `(idle)`). */
  busyMs: number;
  top: Frame[];
  /** Self time by source area, share of busy time. */
  areas: Array<{area: string; selfMs: number; selfPct: number}>;
}

/** Which part of the program a frame belongs to, from its script URL. */
export function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native/builtin)';
  if (url.startsWith('node:')) return 'node core';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  const own = /\/dist\/(proxy\/src\/.*)\.js$/.exec(url);
  if (own) return `lameduck ${own[1]}.ts`;
  return url.replace(/^file:\/\//, '');
}

export function summarizeCpuProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time *before* sample i; the sample after it is where that time went.
  for (let i = 1; i < profile.samples.length; i++) {
    const id = profile.samples[i - 1]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
  }
  const frames = new Map<string, {area: string; us: number}>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const {functionName, url, lineNumber} = n.callFrame;
    total += us;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const file = url ? url.replace(/^.*\/(node_modules\/)/, '$1').replace(/^file:\/\/.*\/dist\//, 'dist/') : '';
    const key = `${functionName || '(anonymous)'} ${file}${url ? `:${lineNumber + 1}` : ''}`.trim();
    const f = frames.get(key) ?? {area: areaOf(url, functionName), us: 0};
    f.us += us;
    frames.set(key, f);
  }
  const busy = total - idle;
  const pct = (us: number): number => (busy > 0 ? (100 * us) / busy : NaN);
  const sorted = [...frames].sort((a, b) => b[1].us - a[1].us);
  const areas = new Map<string, number>();
  for (const [, f] of sorted) areas.set(f.area, (areas.get(f.area) ?? 0) + f.us);
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    top: sorted.slice(0, top).map(([frame, f]) => ({frame, area: f.area, selfMs: f.us / 1000, selfPct: pct(f.us)})),
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({area, selfMs: us / 1000, selfPct: pct(us)})),
  };
}

export function formatProfileSummary(s: ProfileSummary): string {
  const lines = [`busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled`, '', 'self time by area:'];
  for (const a of s.areas.slice(0, 12)) lines.push(`  ${a.selfPct.toFixed(1).padStart(5)}%  ${a.area}`);
  lines.push('', 'top self-time frames:');
  for (const f of s.top) lines.push(`  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.frame}`);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: perf-profile <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(formatProfileSummary(summarizeCpuProfile(profile, Number(top ?? 25))) + '\n');
}
