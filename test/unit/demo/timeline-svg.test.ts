// The showdown's SVG timeline: well-formed, one bar per second with failures stacked on top, one shaded segment per
// pod phase on a shared time scale, text escaped.
import {describe, it, expect} from '@jest/globals';
import {niceStep, PHASE_COLORS, renderTimelineSvg, type TimelinePanel} from '../../../demo/timeline-svg.js';

/** Minimal XML well-formedness: every element closed in order (the renderer emits no comments or CDATA). */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const body = xml.replace(/^<\?xml[^>]*\?>/, '');
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    if (selfClosing) continue;
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else stack.push(name!);
  }
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(', ')}`);
  // No stray markup characters outside tags.
  const text = body.replace(/<[^>]*>/g, '');
  if (/[<>]/.test(text)) throw new Error('unescaped markup in text');
}

const t0 = 1_700_000_000_000;
const panel: TimelinePanel = {
  title: 'bare: 3 failed of 10 <&>',
  subtitle: 'the legacy app "alone"',
  startedAt: t0,
  endedAt: t0 + 4000,
  buckets: [
    {t: 0, ok: 2, failed: 0},
    {t: 1, ok: 3, failed: 2},
    {t: 2, ok: 1, failed: 1},
    {t: 3, ok: 1, failed: 0},
  ],
  pods: [
    {name: 'web-old', phases: [{name: 'starting', from: t0 - 2000, to: t0 + 500}, {name: 'serving', from: t0 + 500, to: t0 + 1500}, {name: 'stopping', from: t0 + 1500, to: t0 + 1600}]},
    {name: 'web-new', phases: [{name: 'starting', from: t0 + 1000, to: t0 + 2000}, {name: 'serving', from: t0 + 2000}]},
  ],
  markers: [{at: t0 + 1000, label: 'rollout 1'}],
};

describe('timeline SVG', () => {
  it('is well-formed, escapes text, and draws bars, failures, phases and markers', () => {
    const svg = renderTimelineSvg([panel, {...panel, title: 'second'}], {title: 'showdown'});
    assertWellFormed(svg);
    expect(svg).toContain('bare: 3 failed of 10 &lt;&amp;&gt;');
    expect(svg).toContain('the legacy app &quot;alone&quot;');
    const rects = (color: string): number => svg.split(`fill="${color}"`).length - 1;
    // ok bars: 4 seconds × 2 panels (+1 legend swatch); failed: 2 seconds × 2 panels (+1).
    expect(rects('#1b9e77')).toBe(9);
    expect(rects('#d95f02')).toBe(5);
    // Phases: 5 segments per panel; the starting phase before the panel's start is clipped, not dropped.
    expect(rects(PHASE_COLORS.serving!)).toBe(2 * 2 + 1);
    expect(rects(PHASE_COLORS.stopping!)).toBe(2 + 1);
    expect(svg.match(/class="marker"/g)).toHaveLength(2);
  });

  it('places time on one shared scale: the same instant has the same x in every panel', () => {
    const long: TimelinePanel = {...panel, endedAt: t0 + 8000};
    const svg = renderTimelineSvg([panel, long]);
    const xs = [...svg.matchAll(/<line x1="([\d.]+)" x2="[\d.]+" y1="[\d.]+" y2="[\d.]+" class="marker"\/>/g)].map((m) => m[1]);
    expect(xs).toHaveLength(2);
    expect(xs[0]).toBe(xs[1]);
  });

  it('chooses readable tick steps', () => {
    expect(niceStep(43, 10)).toBe(5);
    expect(niceStep(230, 4)).toBe(100);
    expect(niceStep(7, 4)).toBe(2);
    expect(niceStep(0)).toBe(1);
  });
});
