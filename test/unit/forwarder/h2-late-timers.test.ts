/**
 * The late arming of HTTP/2 idle timers (proxy/src/h2/late-timers.ts): a stream is armed one to two ticks after it
 * was handed over, never before one tick (so an idle bound never fires early), and streams that ended by then are
 * left alone by their arm function. The interval stops when nothing waits.
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

  it('arms an item between one and two ticks after add(), once', () => {
    const late = createLateTimers(100);
    const armed: string[] = [];
    const arm = (id: string): void => void armed.push(id);
    late.add(arm, 'a');
    jest.advanceTimersByTime(50);
    late.add(arm, 'b');
    jest.advanceTimersByTime(50); // first tick at 100: neither has waited a whole tick
    expect(armed).toEqual([]);
    jest.advanceTimersByTime(100); // second tick at 200: both added before the first tick
    expect(armed).toEqual(['a', 'b']);
    jest.advanceTimersByTime(1_000);
    expect(armed).toEqual(['a', 'b']);
    late.dispose();
  });

  it('an item added during a tick waits for the following two', () => {
    const late = createLateTimers(100);
    const armed: number[] = [];
    late.add(() => late.add((n: number) => void armed.push(n), 2), 1);
    jest.advanceTimersByTime(200); // the outer arm ran at 200 and queued the inner one
    expect(armed).toEqual([]);
    jest.advanceTimersByTime(100);
    expect(armed).toEqual([]);
    jest.advanceTimersByTime(100);
    expect(armed).toEqual([2]);
    late.dispose();
  });

  it('stops its interval when nothing waits, and dispose() drops what waits', () => {
    const late = createLateTimers(100);
    const arm = jest.fn();
    late.add(arm, 1);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(300);
    expect(arm).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
    late.add(arm, 2);
    late.dispose();
    jest.advanceTimersByTime(1_000);
    expect(arm).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('ticks at an eighth of the shortest bound that is on, between 5 ms and 1 s', () => {
    expect(lateTickMs(60_000, 30_000)).toBe(1_000);
    expect(lateTickMs(0, 800)).toBe(100);
    expect(lateTickMs(20)).toBe(5);
    expect(lateTickMs(0, 0)).toBe(1_000);
  });
});
