import {describe, expect, it} from '@jest/globals';
import {classifyUpstreamError, UPSTREAM_FAILURES} from '../../../proxy/src/upstream-errors.js';
import {UPSTREAM_ERROR_REASONS} from '../../../proxy/src/metrics.js';

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
    // undici, the upstream client (https://github.com/nodejs/undici/blob/main/docs/docs/api/Errors.md)
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout', 504],
    ['UND_ERR_BODY_TIMEOUT', 'timeout', 504],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout', 504],
    ['UND_ERR_HEADERS_OVERFLOW', 'bad_response', 502],
    ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'bad_response', 502],
    ['UND_ERR_ABORTED', 'other', 502],
    [undefined, 'other', 502],
  ])('%s is %s (%d)', (code, reason, status) => {
    const f = classifyUpstreamError(err(code), false);
    expect(f.reason).toBe(reason);
    expect(f.status).toBe(status);
  });

  it("undici's socket errors: a close is a reset, a response it refuses (101 to a plain request, 100 unasked) is bad", () => {
    const socketError = (message: string) => Object.assign(new Error(message), {code: 'UND_ERR_SOCKET'});
    expect(classifyUpstreamError(socketError('other side closed'), false).reason).toBe('reset');
    expect(classifyUpstreamError(socketError('bad upgrade'), false).reason).toBe('bad_response');
    expect(classifyUpstreamError(socketError('bad response'), false).reason).toBe('bad_response');
    // undici's HTTPParserError does not always carry an HPE_ code.
    expect(classifyUpstreamError(Object.assign(new Error('Response does not match the HTTP/1.1 protocol'), {name: 'HTTPParserError'}), false).reason).toBe('bad_response');
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
