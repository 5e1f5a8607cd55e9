import {describe, expect, it} from '@jest/globals';
import {within} from '../../../sim/cluster/wait.js';

/** Timers that keep the process alive (getActiveResourcesInfo lists each ref'd Timeout once). */
const activeTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('within: a bounded wait that leaves no timer behind', () => {
  it('settles with the promise when it wins, and its timer is gone at once', async () => {
    const before = activeTimers();
    // Only microtasks run between the two counts, so no other timer can come or go in between.
    const got = await within(Promise.resolve('done'), 60_000, 'late');
    expect(got).toBe('done');
    expect(activeTimers()).toBe(before);
  });

  it('passes a rejection through, and clears its timer as well', async () => {
    const before = activeTimers();
    await expect(within(Promise.reject(new Error('boom')), 60_000, 'late')).rejects.toThrow('boom');
    expect(activeTimers()).toBe(before);
  });

  it('resolves with the fallback once the time passed while the promise still waits', async () => {
    const never = new Promise<string>(() => undefined);
    expect(await within(never, 20, 'late')).toBe('late');
  });
});
