import {describe, expect, it} from '@jest/globals';
import {eventName, kubeTime} from '../../../proxy/src/kube/events.js';

describe('event naming like client-go\'s recorder', () => {
  it('is <pod>.<hex of the Unix nanosecond timestamp>, 16 digits', () => {
    const ms = Date.UTC(2025, 5, 1, 12, 0, 0, 123);
    const nanos = BigInt(ms) * 1_000_000n + 456_789n;
    const name = eventName('web-7d9f-abcde', nanos);
    const [pod, hex] = [name.slice(0, name.lastIndexOf('.')), name.slice(name.lastIndexOf('.') + 1)];
    expect(pod).toBe('web-7d9f-abcde');
    expect(hex).toMatch(/^[0-9a-f]{16}$/);
    expect(BigInt(`0x${hex}`)).toBe(nanos);
  });

  it('sorts by time and pads small timestamps', () => {
    expect(eventName('p', 1n)).toBe('p.0000000000000001');
    const a = eventName('p', 1_700_000_000_000_000_000n);
    const b = eventName('p', 1_700_000_000_000_000_001n);
    expect(a < b).toBe(true);
  });

  it('timestamps are RFC 3339 with second precision (metav1.Time)', () => {
    expect(kubeTime(Date.UTC(2025, 0, 2, 3, 4, 5, 999))).toBe('2025-01-02T03:04:05Z');
  });
});
