/**
 * The late arming of HTTP/2 idle timers (proxy/src/h2/late-timers.ts): the shared interval visits what waits each
 * tick with a cut-off one tick in the past (so nothing younger than a tick is armed: an idle bound never fires
 * early), runs only while something waits, and stops on dispose().
 */
import {afterEach, beforeEach, describe, expect, it, jest} from '@jest/globals';
import {createLateTimers, lateTickMs} from '../../../proxy/src/h2/late-timers.js';

describe('late timers', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  /** Streams by start time; arming one removes it. */
  function world() {
    let clock = 0;
    const waiting = new Map<string, number>();
    const armed: Array<[string, number]> = [];
    const late = createLateTimers(100, () => clock, (olderThan) => {
      for (const [id, start] of waiting) {
        if (start > olderThan) continue;
        waiting.delete(id);
        armed.push([id, clock]);
      }
      return waiting.size > 0;
    });
    const advance = (ms: number): void => {
      for (let i = 0; i < ms; i++) {
        clock++;
        jest.advanceTimersByTime(1);
      }
    };
    const open = (id: string): void => {
      waiting.set(id, clock);
      late.wake();
    };
    return {late, armed, advance, open};
  }

  it('arms a stream one to two ticks after it started, never before one tick', () => {
    const w = world();
    w.open('a');
    w.advance(50);
    w.open('b');
    w.advance(50); // tick at 100: a is exactly one tick old, b half a tick
    expect(w.armed).toEqual([['a', 100]]);
    w.advance(100); // tick at 200: b is 150 ms old
    expect(w.armed).toEqual([['a', 100], ['b', 200]]);
    w.late.dispose();
  });

  it('runs the interval only while a stream waits, and not after dispose()', () => {
    const w = world();
    w.open('a');
    expect(jest.getTimerCount()).toBe(1);
    w.advance(100);
    expect(jest.getTimerCount()).toBe(0);
    w.open('b');
    w.late.wake();
    expect(jest.getTimerCount()).toBe(1);
    w.late.dispose();
    w.advance(1_000);
    expect(w.armed).toEqual([['a', 100]]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('ticks at an eighth of the shortest bound that is on, between 5 ms and 1 s', () => {
    expect(lateTickMs(60_000, 30_000)).toBe(1_000);
    expect(lateTickMs(0, 800)).toBe(100);
    expect(lateTickMs(20)).toBe(5);
    expect(lateTickMs(0, 0)).toBe(1_000);
  });
});
