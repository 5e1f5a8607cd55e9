/**
 * The pure parts of the HTTP/2 support: the preface check that picks the protocol per connection, the header rules
 * across an HTTP/2 hop (RFC 9113 §8.2.2), gRPC status classes and messages, and the h2c upstream setting.
 */
import {describe, expect, it} from '@jest/globals';
import {parseConfig} from '../../../proxy/src/config.js';
import {ConfigError} from '../../../proxy/src/errors.js';
import {encodeGrpcMessage, grpcStatusClass, grpcTrailersOnly, isGrpcContentType} from '../../../proxy/src/h2/grpc-errors.js';
import {h1ToH2RequestHeaders, h1ToH2ResponseHeaders, h1RequestHeaders, h2RequestHeaders, h2ResponseHeaders} from '../../../proxy/src/h2/h2-headers.js';
import {classify, H2_PREFACE} from '../../../proxy/src/h2/preface.js';
import {createH2ProbeMatcher} from '../../../proxy/src/probe-requests.js';

describe('preface check', () => {
  it('needs the whole 24-byte preface for HTTP/2 and decides HTTP/1.1 at the first differing byte', () => {
    expect(classify(H2_PREFACE)).toBe('h2');
    expect(classify(Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 18, 4])]))).toBe('h2');
    expect(classify(H2_PREFACE.subarray(0, 10))).toBeUndefined();
    expect(classify(Buffer.from('G'))).toBe('http1');
    expect(classify(Buffer.from('POST / HTTP/1.1\r\n'))).toBe('http1');
    // An HTTP/1.1 request with method PRI but not the preface (RFC 9113 §3.4 reserves it; node:http answers it).
    expect(classify(Buffer.from('PRI / HTTP/1.1\r\n'))).toBe('http1');
    expect(classify(Buffer.from('PRI * HTTP/2.0\r\n\r\nXX'))).toBe('http1');
  });
});

describe('headers across an HTTP/2 hop', () => {
  it('drops connection-specific fields and what Connection names, keeps TE: trailers only', () => {
    const out = h2ResponseHeaders({':status': '200', connection: 'x-hop', 'x-hop': '1', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', upgrade: 'h2c', 'proxy-connection': 'x', te: 'gzip', 'x-end': 'kept'} as never);
    expect(out).toEqual({':status': '200', 'x-end': 'kept'});
    const req = h2RequestHeaders({':method': 'GET', ':path': '/', ':authority': 'a.example', te: 'trailers, gzip'} as never, '::ffff:10.1.2.3');
    expect(req.te).toBe('trailers');
    expect(req['x-forwarded-for']).toBe('10.1.2.3');
    expect(req['x-forwarded-host']).toBe('a.example');
  });

  it('appends to the client X-Forwarded-For and keeps its X-Forwarded-Host', () => {
    const req = h2RequestHeaders({':method': 'GET', ':path': '/', ':authority': 'a', 'x-forwarded-for': '1.1.1.1', 'x-forwarded-host': 'orig'} as never, '10.0.0.9');
    expect(req['x-forwarded-for']).toBe('1.1.1.1,10.0.0.9');
    expect(req['x-forwarded-host']).toBe('orig');
  });

  it('h2 -> HTTP/1.1: no pseudo-headers, Host from :authority', () => {
    const out = h1RequestHeaders({':method': 'POST', ':path': '/x', ':scheme': 'http', ':authority': 'shop.example:8080', cookie: 'a=1; b=2'} as never, '10.0.0.1');
    expect(Object.keys(out).some((k) => k.startsWith(':'))).toBe(false);
    expect(out.host).toBe('shop.example:8080');
    expect(out.cookie).toBe('a=1; b=2');
  });

  it('HTTP/1.1 -> h2: Host becomes :authority, Expect and hop-by-hop fields go', () => {
    const out = h1ToH2RequestHeaders('PUT', '/p?q=1', {host: 'api.example', expect: '100-continue', connection: 'keep-alive', 'content-type': 'text/plain'}, '127.0.0.1:3000', '10.0.0.1');
    expect(out).toMatchObject({':method': 'PUT', ':path': '/p?q=1', ':scheme': 'http', ':authority': 'api.example', 'content-type': 'text/plain'});
    expect(out.host).toBeUndefined();
    expect(out.expect).toBeUndefined();
    expect(out.connection).toBeUndefined();
  });

  it('an HTTP/1.1 response head as an HTTP/2 block: lower-case names, repeated fields kept, hop-by-hop gone', () => {
    const out = h1ToH2ResponseHeaders(200, ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Connection', 'keep-alive, X-Drop', 'X-Drop', 'y', 'Transfer-Encoding', 'chunked']);
    expect(out).toEqual({':status': 200, 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2']});
  });
});

describe('gRPC', () => {
  it('recognises gRPC content types, not gRPC-Web or look-alikes', () => {
    for (const ct of ['application/grpc', 'application/grpc+proto', 'application/grpc+json', 'application/grpc;charset=utf-8']) expect(isGrpcContentType(ct)).toBe(true);
    for (const ct of ['application/grpc-web', 'application/grpc-web-text', 'application/json', undefined, 'application/grpcx']) expect(isGrpcContentType(ct)).toBe(false);
  });

  it('classes grpc-status values for the metric', () => {
    expect(grpcStatusClass('0')).toBe('ok');
    expect(grpcStatusClass('1')).toBe('cancelled');
    expect(grpcStatusClass('4')).toBe('deadline_exceeded');
    expect(grpcStatusClass('8')).toBe('resource_exhausted');
    expect(grpcStatusClass('14')).toBe('unavailable');
    expect(grpcStatusClass('5')).toBe('client_error');
    expect(grpcStatusClass('13')).toBe('server_error');
    expect(grpcStatusClass(undefined)).toBe('missing');
    expect(grpcStatusClass('x')).toBe('missing');
  });

  it('percent-encodes grpc-message and builds a trailers-only block', () => {
    expect(encodeGrpcMessage('50% done, ünïcode\n')).toBe('50%25 done, %C3%BCn%C3%AFcode%0A');
    expect(grpcTrailersOnly(14, 'gone')).toEqual({':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'gone'});
  });

  it('health checks and probe user agents are not traffic; other RPCs are', () => {
    const isProbe = createH2ProbeMatcher(['/healthz']);
    expect(isProbe({':path': '/grpc.health.v1.Health/Check'} as never)).toBe(true);
    expect(isProbe({':path': '/grpc.health.v1.Health/Watch'} as never)).toBe(true);
    expect(isProbe({':path': '/pkg.Svc/Call', 'user-agent': 'kube-probe/1.33'} as never)).toBe(true);
    expect(isProbe({':path': '/healthz?x=1'} as never)).toBe(true);
    expect(isProbe({':path': '/pkg.Svc/Call', 'user-agent': 'grpc-node-js/1.14'} as never)).toBe(false);
  });
});

describe('LAMEDUCK_UPSTREAM', () => {
  it('h2c:// selects HTTP/2 with prior knowledge; http:// stays HTTP/1.1', () => {
    const h2 = parseConfig({LAMEDUCK_UPSTREAM: 'h2c://127.0.0.1:50051'});
    expect(h2.upstreamProtocol).toBe('h2c');
    expect(h2.upstream.host).toBe('127.0.0.1:50051');
    expect(h2.upstream.origin).toBe('http://127.0.0.1:50051');
    expect(parseConfig({LAMEDUCK_UPSTREAM: 'h2c://[::1]:9000'}).upstream.host).toBe('[::1]:9000');
    expect(parseConfig({LAMEDUCK_UPSTREAM: 'http://127.0.0.1:3000'}).upstreamProtocol).toBe('http1');
  });

  it('refuses other schemes and paths, naming the variable', () => {
    for (const bad of ['https://127.0.0.1:443', 'h2://127.0.0.1:1', 'h2c://127.0.0.1:1/path', 'grpc://x:1']) {
      let error: unknown;
      try {
        parseConfig({LAMEDUCK_UPSTREAM: bad});
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain('LAMEDUCK_UPSTREAM');
    }
  });
});
