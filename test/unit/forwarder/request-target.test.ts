import {describe, expect, it} from '@jest/globals';
import type {IncomingMessage} from 'node:http';
import {normalizeRequestTarget} from '../../../proxy/src/request-target.js';

function req(method: string, url: string, host = 'orig.example'): IncomingMessage {
  return {method, url, headers: {host}} as unknown as IncomingMessage;
}

describe('request-target forms (RFC 9112 §3.2)', () => {
  it('leaves origin-form alone, byte for byte (no dot-segment or backslash normalisation)', () => {
    const r = req('GET', '/a/../b\\c?x=%2F');
    expect(normalizeRequestTarget(r)).toBe('origin');
    expect(r.url).toBe('/a/../b\\c?x=%2F');
    expect(r.headers.host).toBe('orig.example');
  });

  it.each([
    ['http://app.example/p?q=1', '/p?q=1', 'app.example'],
    ['HTTPS://App.Example:8443/p', '/p', 'App.Example:8443'],
    ['http://app.example', '/', 'app.example'],
    ['http://app.example?q', '/?q', 'app.example'],
    ['http://[::1]:8080/x', '/x', '[::1]:8080'],
  ])('rewrites absolute-form %s to origin-form %s with Host %s', (url, path, host) => {
    const r = req('GET', url);
    expect(normalizeRequestTarget(r)).toBe('origin');
    expect(r.url).toBe(path);
    expect(r.headers.host).toBe(host);
  });

  it('recognises OPTIONS * and refuses * with any other method', () => {
    expect(normalizeRequestTarget(req('OPTIONS', '*'))).toBe('asterisk');
    expect(normalizeRequestTarget(req('GET', '*'))).toBe('invalid');
  });

  it.each(['ftp://app.example/x', 'http://user@app.example/x', 'http:///x', 'app.example:443', 'http://app.example@evil/x', 'x'])(
    'refuses %s',
    (url) => {
      const r = req('GET', url);
      expect(normalizeRequestTarget(r)).toBe('invalid');
      expect(r.url).toBe(url);
    },
  );
});
