import {describe, expect, it} from '@jest/globals';
import {parseDuration, formatDuration} from '../../../proxy/src/duration.js';

describe('Go-style durations', () => {
  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1m', 60000],
    ['1m30s', 90000],
    ['1.5s', 1500],
    ['1h', 3600000],
    ['0', 0],
    ['250us', 0.25],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(['', '2', 's', '2 s', '-1s', '1d', '2seconds', '1.s'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
  it('formats round values back', () => {
    expect(formatDuration(2000)).toBe('2s');
    expect(formatDuration(90000)).toBe('90s');
    expect(formatDuration(60000)).toBe('1m');
    expect(formatDuration(1500)).toBe('1500ms');
  });
});
