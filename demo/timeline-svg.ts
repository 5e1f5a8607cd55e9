/**
 * The showdown's picture: one panel per scenario, time on the x axis. Top: requests completed per second (ok in
 * green, failed in red, stacked). Below: one lane per pod, shaded by phase (starting, serving, and how it went away:
 * kubelet's preStop and SIGTERM stages, or lameduck's deregistering / settling / closing / releasing), with the
 * rolling updates marked. Plain SVG 1.1, no scripts or external resources, so it renders anywhere (GitHub, browsers).
 */

export interface TimelineBucket {
  /** Seconds since the panel's start. */
  t: number;
  ok: number;
  failed: number;
}

export interface TimelinePhase {
  name: string;
  /** Epoch ms. */
  from: number;
  /** Epoch ms; undefined: until the panel's end. */
  to?: number;
}

export interface TimelinePanel {
  title: string;
  subtitle?: string;
  startedAt: number;
  endedAt: number;
  buckets: TimelineBucket[];
  pods: {name: string; phases: TimelinePhase[]}[];
  markers: {at: number; label: string}[];
}

export const PHASE_COLORS: Readonly<Record<string, string>> = {
  starting: '#c7c7c7',
  serving: '#7fc97f',
  prestop: '#80b1d3',
  stopping: '#e7298a',
  deregistering: '#fdc086',
  settling: '#ffff99',
  closing: '#beaed4',
  releasing: '#386cb0',
  exiting: '#666666',
  evicting: '#f0027f',
};

const OK_COLOR = '#1b9e77';
const FAIL_COLOR = '#d95f02';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const fmt = (n: number): string => (Math.round(n * 10) / 10).toString();

/** A "nice" tick step for an axis of `range` units with about `target` ticks. */
export function niceStep(range: number, target = 5): number {
  if (!(range > 0)) return 1;
  const raw = range / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

const WIDTH = 960;
const LEFT = 190;
const RIGHT = 20;
const CHART_H = 110;
const LANE_H = 14;
const LANE_GAP = 3;

function panelHeight(p: TimelinePanel): number {
  return 40 + CHART_H + 24 + p.pods.length * (LANE_H + LANE_GAP) + 16;
}

function renderPanel(p: TimelinePanel, y0: number, seconds: number): string {
  const out: string[] = [];
  const plotW = WIDTH - LEFT - RIGHT;
  const xs = (sec: number): number => LEFT + (sec / seconds) * plotW;
  const xt = (ms: number): number => xs((ms - p.startedAt) / 1000);
  out.push(`<g transform="translate(0,${y0})">`);
  out.push(`<text x="10" y="18" class="title">${esc(p.title)}</text>`);
  if (p.subtitle) out.push(`<text x="10" y="33" class="sub">${esc(p.subtitle)}</text>`);

  // Requests per second, stacked ok + failed.
  const top = 40;
  const maxRps = Math.max(1, ...p.buckets.map((b) => b.ok + b.failed));
  const step = niceStep(maxRps, 4);
  const yMax = Math.ceil(maxRps / step) * step;
  const ys = (v: number): number => top + CHART_H - (v / yMax) * CHART_H;
  for (let v = 0; v <= yMax; v += step) {
    out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${fmt(ys(v))}" y2="${fmt(ys(v))}" class="grid"/>`);
    out.push(`<text x="${LEFT - 6}" y="${fmt(ys(v) + 4)}" class="axis" text-anchor="end">${v}</text>`);
  }
  out.push(`<text x="10" y="${top + CHART_H / 2}" class="axis">requests/s</text>`);
  const barW = Math.max(1, plotW / seconds - 1);
  for (const b of p.buckets) {
    if (b.t >= seconds) continue;
    const x = fmt(xs(b.t));
    if (b.ok > 0) out.push(`<rect x="${x}" y="${fmt(ys(b.ok))}" width="${fmt(barW)}" height="${fmt(ys(0) - ys(b.ok))}" fill="${OK_COLOR}"><title>${b.t}s: ${b.ok} ok</title></rect>`);
    if (b.failed > 0) {
      out.push(`<rect x="${x}" y="${fmt(ys(b.ok + b.failed))}" width="${fmt(barW)}" height="${fmt(ys(b.ok) - ys(b.ok + b.failed))}" fill="${FAIL_COLOR}"><title>${b.t}s: ${b.failed} failed</title></rect>`);
    }
  }
  // Time axis.
  const axisY = top + CHART_H;
  const tStep = niceStep(seconds, 10);
  for (let s = 0; s <= seconds; s += tStep) {
    out.push(`<line x1="${fmt(xs(s))}" x2="${fmt(xs(s))}" y1="${axisY}" y2="${axisY + 4}" class="tick"/>`);
    out.push(`<text x="${fmt(xs(s))}" y="${axisY + 15}" class="axis" text-anchor="middle">${s}s</text>`);
  }

  // Pod lanes.
  const lanesTop = axisY + 24;
  p.pods.forEach((pod, i) => {
    const y = lanesTop + i * (LANE_H + LANE_GAP);
    out.push(`<text x="${LEFT - 6}" y="${y + LANE_H - 3}" class="pod" text-anchor="end">${esc(pod.name)}</text>`);
    for (const ph of pod.phases) {
      const from = Math.max(ph.from, p.startedAt);
      const to = Math.min(ph.to ?? p.endedAt, p.endedAt);
      if (to <= from) continue;
      const w = Math.max(0.5, xt(to) - xt(from));
      const color = PHASE_COLORS[ph.name] ?? '#999999';
      out.push(`<rect x="${fmt(xt(from))}" y="${y}" width="${fmt(w)}" height="${LANE_H}" fill="${color}"><title>${esc(pod.name)}: ${esc(ph.name)} ${fmt((to - from) / 1000)}s</title></rect>`);
    }
  });
  const bottom = lanesTop + p.pods.length * (LANE_H + LANE_GAP);
  for (const m of p.markers) {
    const x = fmt(xt(m.at));
    out.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${bottom}" class="marker"/>`);
    out.push(`<text x="${fmt(xt(m.at) + 3)}" y="${top + 10}" class="axis">${esc(m.label)}</text>`);
  }
  out.push('</g>');
  return out.join('\n');
}

/** The whole SVG document: panels stacked, one shared time scale (the longest panel), a legend at the bottom. */
export function renderTimelineSvg(panels: readonly TimelinePanel[], opts: {title?: string} = {}): string {
  const seconds = Math.max(1, ...panels.map((p) => Math.ceil((p.endedAt - p.startedAt) / 1000)));
  const header = opts.title ? 34 : 8;
  let y = header;
  const bodies: string[] = [];
  for (const p of panels) {
    bodies.push(renderPanel(p, y, seconds));
    y += panelHeight(p);
  }
  // Legend.
  const legend: string[] = [];
  let lx = 10;
  const items: [string, string][] = [['ok', OK_COLOR], ['failed', FAIL_COLOR], ...Object.entries(PHASE_COLORS)];
  for (const [name, color] of items) {
    legend.push(`<rect x="${lx}" y="${y + 6}" width="12" height="12" fill="${color}"/><text x="${lx + 16}" y="${y + 16}" class="axis">${esc(name)}</text>`);
    lx += 24 + name.length * 6.5;
  }
  const height = y + 30;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<style>.title{font-size:14px;font-weight:bold}.sub{font-size:11px;fill:#555}.axis{font-size:10px;fill:#444}.pod{font-size:9px;fill:#333}.grid{stroke:#e5e5e5}.tick{stroke:#888}.marker{stroke:#333;stroke-dasharray:4 3}</style>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    opts.title ? `<text x="10" y="22" class="title">${esc(opts.title)}</text>` : '',
    ...bodies,
    ...legend,
    `</svg>`,
  ].join('\n');
}
