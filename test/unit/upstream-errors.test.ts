import {describe, expect, it} from '@jest/globals';
import {classifyUpstreamError, UPSTREAM_FAILURES} from '../../proxy/src/upstream-errors.js';
import {UPSTREAM_ERROR_REASONS} from '../../proxy/src/metrics.js';

const err = (code?: string) => Object.assign(new Error('x'), code ? {code} : {});

describe('upstream error classification', () => {
  it.each([
    ['ECONNREFUSED', 'refused', 502],
    ['ETIMEDOUT', 'timeout', 504],
    ['ECONNRESET', 'reset', 502],
    ['EPIPE', 'reset', 502],
    ['HPE_INVALID_CONSTANT', 'bad_response', 502],
    ['HPE_UNEXPECTED_CONTENT_LENGTH', 'bad_response', 502],
    ['ENOTFOUND', 'other', 502],
    [undefined, 'other', 502],
  ])('%s is %s (%d)', (code, reason, status) => {
    const f = classifyUpstreamError(err(code), false);
    expect(f.reason).toBe(reason);
    expect(f.status).toBe(status);
  });

  it('a request the proxy gave up on is a timeout whatever the error says', () => {
    expect(classifyUpstreamError(err('ECONNRESET'), true).reason).toBe('timeout');
    expect(classifyUpstreamError(null, true).status).toBe(504);
  });

  it('covers every metric reason with a short one-line body and a stable code', () => {
    for (const reason of UPSTREAM_ERROR_REASONS) {
      const f = UPSTREAM_FAILURES[reason];
      expect(f.reason).toBe(reason);
      expect(f.code).toMatch(/^UPSTREAM_/);
      expect(f.body.toString()).toMatch(/^50[24] [A-Za-z ]+: [a-z ]+\n$/);
    }
  });
});
