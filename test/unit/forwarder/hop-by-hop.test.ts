import {describe, expect, it} from '@jest/globals';
import type {IncomingHttpHeaders} from 'node:http';
import {connectionOptions, responseHeaders, stripRequestHopByHop} from '../../../proxy/src/hop-by-hop.js';

describe('hop-by-hop headers (RFC 9110 §7.6.1)', () => {
  it('parses Connection options: trimmed, lower-cased, empty ones dropped, repeated fields joined', () => {
    expect(connectionOptions(' Keep-Alive ,, X-Foo')).toEqual(['keep-alive', 'x-foo']);
    expect(connectionOptions(['close', 'Upgrade'])).toEqual(['close', 'upgrade']);
    expect(connectionOptions(undefined)).toEqual([]);
  });

  it('strips request hop-by-hop headers and the ones Connection names, never the framing or Host', () => {
    const h: IncomingHttpHeaders = {
      host: 'a.example',
      connection: 'keep-alive, x-secret, content-length, transfer-encoding, host',
      'x-secret': '1',
      'keep-alive': '300',
      'proxy-connection': 'keep-alive',
      te: 'trailers, gzip',
      upgrade: 'h2c',
      expect: '100-continue',
      'content-length': '5',
      'x-keep': 'yes',
    };
    stripRequestHopByHop(h, false);
    expect(h).toEqual({host: 'a.example', te: 'trailers', 'content-length': '5', 'x-keep': 'yes'});
  });

  it('drops TE without trailers, keeps Upgrade with Connection: Upgrade on an upgrade request', () => {
    const h: IncomingHttpHeaders = {te: 'gzip', connection: 'Upgrade, X-Other', upgrade: 'websocket', 'x-other': '1'};
    stripRequestHopByHop(h, true);
    expect(h).toEqual({connection: 'Upgrade', upgrade: 'websocket'});
  });

  it('filters a raw response header list, keeping case, order and repeated fields', () => {
    const raw = [
      'Content-Type', 'text/plain',
      'Connection', 'keep-alive, X-Hop',
      'X-Hop', 'secret',
      'Keep-Alive', 'timeout=5',
      'Transfer-Encoding', 'chunked',
      'Set-Cookie', 'a=1',
      'Upgrade', 'x',
      'TE', 'trailers',
      'Proxy-Connection', 'close',
      'Trailer', 'X-Sum',
      'Set-Cookie', 'b=2',
    ];
    expect(responseHeaders(raw, false, false)).toEqual(['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
    expect(responseHeaders(raw, true, true)).toEqual([
      'Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Trailer', 'X-Sum', 'Set-Cookie', 'b=2', 'Connection', 'close',
    ]);
  });

  it('does not modify the upstream raw headers (the agent reads its Keep-Alive hint from the response)', () => {
    const raw = ['Keep-Alive', 'timeout=5', 'Connection', 'keep-alive'];
    const copy = [...raw];
    responseHeaders(raw, false, true);
    expect(raw).toEqual(copy);
  });
});
