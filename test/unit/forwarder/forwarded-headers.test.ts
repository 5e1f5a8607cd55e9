import {describe, expect, it} from '@jest/globals';
import {forwardedFor, hostPort, upstreamRequestHeaders} from '../../../proxy/src/forwarded-headers.js';

const base = {method: 'GET', host: 'shop.example', remoteAddress: '10.0.0.7', upstreamAuthority: '127.0.0.1:8080'};

/** The list as pairs, for readable expectations. */
function pairs(list: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i]!, list[i + 1]!]);
  return out;
}

describe('the header list sent to the app', () => {
  it("keeps the client's fields in case and order, repeated ones too, and appends X-Forwarded-*", () => {
    const raw = ['Host', 'shop.example', 'X-Trace', 'a', 'Set-Thing', '1', 'set-thing', '2', 'Content-Length', '3'];
    expect(pairs(upstreamRequestHeaders({...base, raw}))).toEqual([
      ['Host', 'shop.example'],
      ['X-Trace', 'a'],
      ['Set-Thing', '1'],
      ['set-thing', '2'],
      ['Content-Length', '3'],
      ['x-forwarded-for', '10.0.0.7'],
      ['x-forwarded-port', '80'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'shop.example'],
    ]);
  });

  it('removes hop-by-hop fields and those Connection names, never Host or Content-Length', () => {
    const raw = [
      'Host', 'shop.example',
      'Connection', 'keep-alive, X-Secret, content-length, transfer-encoding, host',
      'X-Secret', '1',
      'Keep-Alive', '300',
      'Proxy-Connection', 'keep-alive',
      'TE', 'trailers, gzip',
      'Upgrade', 'h2c',
      'Expect', '100-continue',
      'Transfer-Encoding', 'chunked',
      'X-Keep', 'yes',
    ];
    const names = pairs(upstreamRequestHeaders({...base, raw})).map(([n, v]) => `${n}: ${v}`);
    // Transfer-Encoding too: the upstream client frames the body itself (chunked without a Content-Length).
    expect(names.slice(0, 3)).toEqual(['Host: shop.example', 'X-Keep: yes', 'te: trailers']);
  });

  it('drops TE without trailers, and a TE that Connection names', () => {
    expect(upstreamRequestHeaders({...base, raw: ['Host', 'shop.example', 'TE', 'gzip']})).not.toContain('te');
    expect(upstreamRequestHeaders({...base, raw: ['Host', 'shop.example', 'Connection', 'TE', 'TE', 'trailers']})).not.toContain('te');
  });

  it('sends one Host: the parsed one (absolute-form target), a repeated Host is not forwarded', () => {
    const list = upstreamRequestHeaders({...base, host: 'from-uri.example', raw: ['Host', 'ignored.example', 'X-A', '1', 'host', 'second.example']});
    expect(pairs(list).filter(([n]) => n.toLowerCase() === 'host')).toEqual([['Host', 'from-uri.example']]);
    expect(list[1]).toBe('from-uri.example');
  });

  it("gives an HTTP/1.0 request without Host the upstream's authority, and no X-Forwarded-Host (the client named none)", () => {
    const list = pairs(upstreamRequestHeaders({...base, host: undefined, raw: ['X-A', '1']}));
    expect(list).toContainEqual(['host', '127.0.0.1:8080']);
    expect(list.map(([n]) => n)).not.toContain('x-forwarded-host');
  });

  it('frames a POST, PUT or PATCH without a body with Content-Length: 0, never chunked', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'PROPFIND']) {
      expect(pairs(upstreamRequestHeaders({...base, method, raw: ['Host', 'shop.example']}))).toContainEqual(['content-length', '0']);
    }
    // Methods node does not chunk by default, and requests that carry their own framing, are left as sent.
    for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS']) {
      expect(upstreamRequestHeaders({...base, method, raw: ['Host', 'shop.example']})).not.toContain('content-length');
    }
    expect(pairs(upstreamRequestHeaders({...base, method: 'POST', raw: ['Host', 'shop.example', 'Content-Length', '3']})).filter(([n]) => n.toLowerCase() === 'content-length')).toEqual([['Content-Length', '3']]);
    expect(upstreamRequestHeaders({...base, method: 'POST', raw: ['Host', 'shop.example', 'Transfer-Encoding', 'chunked']})).not.toContain('content-length');
  });

  it("appends to the client's X-Forwarded-For (repeated fields joined), keeps its single X-Forwarded-Proto/-Port and its X-Forwarded-Host", () => {
    const raw = [
      'Host', 'shop.example:8443',
      'X-Forwarded-For', '203.0.113.9',
      'x-forwarded-for', '198.51.100.2',
      'X-Forwarded-Proto', 'https',
      'X-Forwarded-Port', '443',
      'X-Forwarded-Host', 'public.example',
    ];
    const list = pairs(upstreamRequestHeaders({...base, host: 'shop.example:8443', raw}));
    expect(list).toEqual([
      ['Host', 'shop.example:8443'],
      ['x-forwarded-for', '203.0.113.9, 198.51.100.2,10.0.0.7'],
      ['x-forwarded-port', '443'],
      ['x-forwarded-proto', 'https'],
      ['x-forwarded-host', 'public.example'],
    ]);
  });

  it('a Connection option cannot remove X-Forwarded-For (lameduck extends it)', () => {
    const raw = ['Host', 'shop.example', 'Connection', 'x-forwarded-for', 'X-Forwarded-For', '6.6.6.6'];
    expect(pairs(upstreamRequestHeaders({...base, raw}))).toContainEqual(['x-forwarded-for', '6.6.6.6,10.0.0.7']);
  });

  it('sets X-Forwarded-Proto/-Port to single values: ours unless the client sent exactly one well-formed value', () => {
    const xf = (raw: string[]) => pairs(upstreamRequestHeaders({...base, listenPort: 8080, raw: ['Host', 'shop.example:9999', ...raw]})).filter(([n]) => /^x-forwarded-(proto|port)$/.test(n));
    expect(xf([])).toEqual([['x-forwarded-port', '8080'], ['x-forwarded-proto', 'http']]);
    expect(xf(['X-Forwarded-Proto', 'https', 'X-Forwarded-Port', '443'])).toEqual([['x-forwarded-port', '443'], ['x-forwarded-proto', 'https']]);
    expect(xf(['X-Forwarded-Proto', 'https, http', 'X-Forwarded-Port', '443,80'])).toEqual([['x-forwarded-port', '8080'], ['x-forwarded-proto', 'http']]);
    expect(xf(['X-Forwarded-Proto', 'https', 'X-Forwarded-Proto', 'http'])).toEqual([['x-forwarded-port', '8080'], ['x-forwarded-proto', 'http']]);
    expect(xf(['X-Forwarded-Proto', 'gopher', 'X-Forwarded-Port', 'x'])).toEqual([['x-forwarded-port', '8080'], ['x-forwarded-proto', 'http']]);
  });

  it('writes IPv4 clients of the dual-stack listener in plain IPv4, IPv6 clients as they are', () => {
    expect(forwardedFor('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(forwardedFor('2001:db8::1')).toBe('2001:db8::1');
    expect(forwardedFor(undefined)).toBe('');
  });

  it('reads the port the client addressed from Host, IPv6 literals included', () => {
    expect(hostPort('shop.example:8443')).toBe('8443');
    expect(hostPort('[::1]:8080')).toBe('8080');
    expect(hostPort('[::1]')).toBe('80');
    expect(hostPort('shop.example')).toBe('80');
    expect(hostPort('shop.example:http')).toBe('80');
    expect(hostPort(undefined)).toBe('80');
  });
});
