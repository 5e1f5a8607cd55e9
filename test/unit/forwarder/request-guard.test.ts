import {describe, expect, it} from '@jest/globals';
import type {IncomingMessage} from 'node:http';
import {checkRequest, hasBody, MAX_HEADERS_COUNT} from '../../../proxy/src/request-guard.js';

function req(headers: Record<string, string>, extraFields = 0): IncomingMessage {
  const rawHeaders = Object.entries(headers).flat();
  for (let i = 0; i < extraFields; i++) rawHeaders.push(`x-${i}`, 'v');
  return {headers, rawHeaders} as unknown as IncomingMessage;
}

describe('request guard', () => {
  it('refuses a request that reached the header count limit (node would drop the rest of its fields)', () => {
    expect(checkRequest(req({host: 'x'}, MAX_HEADERS_COUNT - 2))).toBeUndefined();
    expect(checkRequest(req({host: 'x'}, MAX_HEADERS_COUNT - 1))?.status).toBe(431);
  });

  it.each([
    ['chunked', true],
    ['gzip, chunked', true],
    ['Chunked', true],
    ['identity', false],
    ['xchunked', false],
    ['chunked, gzip', false],
  ])('Transfer-Encoding %s is acceptable: %s', (te, ok) => {
    const r = checkRequest(req({host: 'x', 'transfer-encoding': te}));
    if (ok) expect(r).toBeUndefined();
    else expect(r?.status).toBe(400);
  });

  it('knows whether a request carries a body', () => {
    expect(hasBody(req({}))).toBe(false);
    expect(hasBody(req({'content-length': '0'}))).toBe(false);
    expect(hasBody(req({'content-length': '3'}))).toBe(true);
    expect(hasBody(req({'transfer-encoding': 'chunked'}))).toBe(true);
  });
});
