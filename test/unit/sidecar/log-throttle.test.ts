import {describe, expect, it} from '@jest/globals';
import {createLogThrottle} from '../../../proxy/src/log-throttle.js';
import {createLogger} from '../../../proxy/src/log.js';

function setup() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({level: 'info', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>)});
  let t = 0;
  const throttle = createLogThrottle({log, now: () => t, intervalMs: 1000});
  return {lines, throttle, advance: (ms: number) => (t += ms)};
}

describe('log throttle', () => {
  it('writes the first warning, suppresses the rest of the interval, and reports the count with the next line', () => {
    const {lines, throttle, advance} = setup();
    throttle.warn('upstream request failed', {n: 1});
    for (let i = 2; i <= 10; i++) throttle.warn('upstream request failed', {n: i});
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({level: 'warn', n: 1});
    expect(lines[0]!.suppressed).toBeUndefined();
    advance(1000);
    throttle.warn('upstream request failed', {n: 11});
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({n: 11, suppressed: 9});
    throttle.dispose();
  });

  it('flushes the last suppressed warning after the interval so a burst is never silently lost', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({level: 'info', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>)});
    const throttle = createLogThrottle({log, now: () => performance.now(), intervalMs: 50});
    for (let i = 1; i <= 5; i++) throttle.warn('w', {n: i});
    expect(lines).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 150));
    expect(lines).toHaveLength(2);
    // The flushed line is the last one; 3 others between them were suppressed.
    expect(lines[1]).toMatchObject({n: 5, suppressed: 3});
    throttle.dispose();
  });

  it('throttles each kind of warning on its own: a flood of one does not hide the first line of another', () => {
    const {lines, throttle, advance} = setup();
    for (let i = 1; i <= 5; i++) throttle.warn('no upstream connection free', {n: i});
    advance(100);
    throttle.warn('client stopped reading the response', {n: 6});
    throttle.warn('client stopped reading the response', {n: 7});
    expect(lines.map((l) => l.msg)).toEqual(['no upstream connection free', 'client stopped reading the response']);
    advance(1000);
    throttle.warn('client stopped reading the response', {n: 8});
    throttle.warn('no upstream connection free', {n: 9});
    // Each count is of its own kind.
    expect(lines.slice(2)).toMatchObject([
      {msg: 'client stopped reading the response', n: 8, suppressed: 1},
      {msg: 'no upstream connection free', n: 9, suppressed: 4},
    ]);
    throttle.dispose();
  });

  it('dispose() cancels a pending flush', async () => {
    const lines: unknown[] = [];
    const log = createLogger({level: 'info', write: (l) => lines.push(l)});
    const throttle = createLogThrottle({log, now: () => performance.now(), intervalMs: 30});
    throttle.warn('w', {});
    throttle.warn('w', {});
    throttle.dispose();
    await new Promise((r) => setTimeout(r, 80));
    expect(lines).toHaveLength(1);
  });
});
