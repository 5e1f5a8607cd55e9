import {describe, expect, it} from '@jest/globals';
import type {IncomingMessage} from 'node:http';
import {checkRequest, hasBody, MAX_HEADERS_COUNT} from '../../../proxy/src/request-guard.js';

function req(headers: Record<string, string>, extraFields = 0): IncomingMessage {
  const rawHeaders = Object.entries(headers).flat();
  for (let i = 0; i < extraFields; i++) rawHeaders.push(`x-${i}`, 'v');
  return {headers, rawHeaders, httpVersionMajor: 1, method: 'GET'} as unknown as IncomingMessage;
}

describe('request guard', () => {
  it('refuses a request that reached the header count limit (node would drop the rest of its fields)', () => {
    expect(checkRequest(req({host: 'x'}, MAX_HEADERS_COUNT - 2))).toBeUndefined();
    expect(checkRequest(req({host: 'x'}, MAX_HEADERS_COUNT - 1))?.status).toBe(431);
  });

  it.each([
    ['chunked', undefined],
    ['Chunked', undefined],
    ['gzip, chunked', 501],
    ['identity', 400],
    ['xchunked', 400],
    ['chunked, gzip', 400],
  ])('Transfer-Encoding %s is refused with %s', (te, status) => {
    expect(checkRequest(req({host: 'x', 'transfer-encoding': te}))?.status).toBe(status);
  });

  it.each([
    ['shop.example', undefined],
    ['shop.example:8443', undefined],
    ['10.0.0.1:80', undefined],
    ['[::1]:8080', undefined],
    ['', undefined],
    ['x/../@evil', 400],
    ['a b', 400],
    ['user@host', 400],
  ])('Host %j is refused with %s', (host, status) => {
    expect(checkRequest(req({host}))?.status).toBe(status);
  });

  it('knows whether a request carries a body', () => {
    expect(hasBody(req({}))).toBe(false);
    expect(hasBody(req({'content-length': '0'}))).toBe(false);
    expect(hasBody(req({'content-length': '3'}))).toBe(true);
    expect(hasBody(req({'transfer-encoding': 'chunked'}))).toBe(true);
  });
});
