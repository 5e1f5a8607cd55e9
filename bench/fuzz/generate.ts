/**
 * The fuzz campaign's request bytes: from a seed, deterministic. A case is one client connection's bytes, in
 * segments: a segment is sent once the responses to the earlier segments have arrived (a keep-alive sequence); the
 * requests inside one segment are pipelined.
 *
 * Families: well-formed requests (methods, target forms, fields, bodies framed by Content-Length or chunked, with
 * extensions and trailers, Expect, HTTP/1.0 keep-alive), keep-alive sequences and pipelines of them, and mutations of
 * one request in such a sequence — framing conflicts (CL.TE, TE.CL, repeated or malformed Content-Length, odd
 * Transfer-Encoding values), bad chunk sizes and extensions, obs-fold and invalid field bytes, huge values, bad
 * versions and request lines, missing, repeated or invalid Host, requests pipelined after `Connection: close`, and
 * byte-level damage (bit flips, CR/LF duplicated, removed or made bare, bytes inserted, deleted, repeated, truncation).
 * The campaign also sends every case split into pieces (delivery.ts).
 */
import {caseSeed, createPrng, type Prng} from './prng.js';

export const FAMILIES = ['valid', 'keepalive', 'pipelined', 'framing', 'chunked', 'fields', 'huge', 'version', 'host', 'after-close', 'bytes'] as const;
export type Family = (typeof FAMILIES)[number];

export interface FuzzCase {
  /** `<seed>:<index>`: regenerates this case alone (`generateCase(seed, index)`). */
  readonly id: string;
  readonly family: Family;
  /** What was done, for the report. */
  readonly label: string;
  readonly segments: readonly Buffer[];
}

interface ChunkSpec {
  size: string;
  ext: string;
  data: Buffer;
  /** What follows the data (CRLF when well-formed). */
  after: string;
}

interface RequestSpec {
  leading: string;
  method: string;
  target: string;
  version: string;
  /** The request line as sent when set (mutations of its shape). */
  requestLine?: string;
  fields: [string, string][];
  body: {kind: 'none'} | {kind: 'raw'; data: Buffer} | {kind: 'chunked'; chunks: ChunkSpec[]; last: string; trailers: [string, string][]};
  lineEnd: string;
}

const WEIGHTS: readonly (readonly [number, Family])[] = [
  [14, 'valid'],
  [9, 'keepalive'],
  [9, 'pipelined'],
  [12, 'framing'],
  [10, 'chunked'],
  [10, 'fields'],
  [4, 'huge'],
  [6, 'version'],
  [5, 'host'],
  [3, 'after-close'],
  [18, 'bytes'],
];

const METHODS: readonly (readonly [number, string])[] = [
  [30, 'GET'],
  [20, 'POST'],
  [8, 'PUT'],
  [6, 'DELETE'],
  [8, 'HEAD'],
  [5, 'OPTIONS'],
  [6, 'PATCH'],
  [1, 'PROPFIND'],
  [1, 'PURGE'],
  [1, 'M-SEARCH'],
];
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'PROPFIND']);
const PATH_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&\'()*+,;=:@/';
const VALUE_CHARS = ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~';
const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const HOSTS = ['app.example', 'app.example:8080', '127.0.0.1', '127.0.0.1:80', '[::1]:8080', 'a-b.c_d.example', ''];
/** A request inside a body: if any framing is misread, this is what the upstream would see as a second request. */
const BAIT = 'GET /smuggled HTTP/1.1\r\nHost: app.example\r\n\r\n';

function randomPath(rng: Prng): string {
  const segs = rng.int(0, 4);
  let p = '';
  for (let i = 0; i < segs; i++) p += '/' + rng.bytes(rng.int(1, 12), PATH_CHARS.slice(0, 66)).toString('latin1');
  if (p === '') p = '/';
  if (rng.chance(0.3)) p += '?' + rng.bytes(rng.int(0, 20), PATH_CHARS + '?').toString('latin1');
  if (rng.chance(0.1)) p += `%${rng.pick(['20', '2F', '2e', '00', 'C3%A9'])}`;
  return p;
}

function randomTarget(rng: Prng, method: string): string {
  if (method === 'OPTIONS' && rng.chance(0.3)) return '*';
  const path = randomPath(rng);
  if (rng.chance(0.08)) return `http://${rng.pick(['app.example', 'app.example:8080', '127.0.0.1'])}${rng.chance(0.2) ? '' : path}`;
  return path;
}

function casing(rng: Prng, name: string): string {
  const r = rng.int(0, 5);
  if (r === 0) return name.toLowerCase();
  if (r === 1) return name.toUpperCase();
  return name;
}

function randomBody(rng: Prng): Buffer {
  const size = rng.weighted<[number, number]>([
    [8, [0, 0]],
    [40, [1, 64]],
    [40, [65, 2048]],
    [4, [2049, 70_000]],
  ]);
  const n = rng.int(size[0], size[1]);
  if (rng.chance(0.2)) return Buffer.from((BAIT + 'x'.repeat(n)).slice(0, Math.max(n, BAIT.length)), 'latin1');
  return rng.chance(0.5) ? rng.bytes(n, VALUE_CHARS) : rng.bytes(n);
}

function chunksOf(rng: Prng, data: Buffer): ChunkSpec[] {
  const chunks: ChunkSpec[] = [];
  let at = 0;
  while (at < data.length) {
    const n = Math.min(data.length - at, rng.int(1, rng.chance(0.5) ? 16 : 4096));
    const size = n.toString(16);
    chunks.push({
      size: rng.chance(0.2) ? size.toUpperCase() : rng.chance(0.1) ? '00' + size : size,
      // Not ` ;a=1`: BWS before the `;` is RFC 9112-valid but llhttp refuses it (a mutation below sends it).
      ext: rng.chance(0.1) ? rng.pick([';a', ';a=b', ';name="quoted value"', ';a;b=2']) : '',
      data: data.subarray(at, at + n),
      after: '\r\n',
    });
    at += n;
  }
  return chunks;
}

interface Options {
  /** HTTP/1.0 without keep-alive or `Connection: close`: must be the last request on its connection. */
  last: boolean;
}

function validRequest(rng: Prng, o: Options): RequestSpec {
  const method = rng.weighted(METHODS);
  const version = rng.chance(0.1) ? 'HTTP/1.0' : 'HTTP/1.1';
  const fields: [string, string][] = [];
  if (version === 'HTTP/1.1' || rng.chance(0.5)) fields.push([casing(rng, 'Host'), rng.pick(HOSTS)]);
  const extra = rng.int(0, 6);
  for (let i = 0; i < extra; i++) {
    const r = rng.int(0, 9);
    if (r === 0) fields.push(['User-Agent', 'fuzz/1.0']);
    else if (r === 1) fields.push(['Accept', '*/*']);
    else if (r === 2) fields.push(['Cookie', `a=${rng.int(0, 1e6)}; b=c`]);
    else if (r === 3) fields.push(['X-Forwarded-For', '203.0.113.7']);
    else if (r === 4) fields.push(['TE', 'trailers']);
    else if (r === 5) fields.push(['Connection', 'X-Hop']), fields.push(['X-Hop', 'gone']);
    else fields.push([`X-Fuzz-${rng.bytes(rng.int(1, 8), TOKEN_CHARS).toString('latin1')}`, rng.pick(['', ' ', '\t']) + rng.bytes(rng.int(0, 40), VALUE_CHARS).toString('latin1').trim() + rng.pick(['', ' ', '\t'])]);
  }
  let body: RequestSpec['body'] = {kind: 'none'};
  if (rng.chance(WITH_BODY.has(method) ? 0.85 : 0.1)) {
    const data = randomBody(rng);
    if (version === 'HTTP/1.1' && rng.chance(0.4)) {
      fields.push([casing(rng, 'Transfer-Encoding'), 'chunked']);
      const trailers: [string, string][] = rng.chance(0.15) ? [['X-Trailer', 'done']] : [];
      body = {kind: 'chunked', chunks: chunksOf(rng, data), last: rng.chance(0.1) ? '000' : '0', trailers};
    } else {
      fields.push([casing(rng, 'Content-Length'), String(data.length)]);
      body = {kind: 'raw', data};
    }
    if (rng.chance(0.1) && version === 'HTTP/1.1') fields.push(['Expect', '100-continue']);
  }
  if (o.last && rng.chance(0.15)) fields.push(['Connection', 'close']);
  else if (version === 'HTTP/1.0' && !o.last) fields.push(['Connection', 'keep-alive']);
  // Shuffle the fields a little: framing fields are not always last.
  if (rng.chance(0.5) && fields.length > 1) {
    const i = rng.int(0, fields.length - 1);
    const j = rng.int(0, fields.length - 1);
    [fields[i], fields[j]] = [fields[j]!, fields[i]!];
  }
  return {leading: rng.chance(0.03) ? '\r\n' : '', method, target: randomTarget(rng, method), version, fields, body, lineEnd: '\r\n'};
}

export function serialize(r: RequestSpec): Buffer {
  const e = r.lineEnd;
  let head = r.leading + (r.requestLine ?? `${r.method} ${r.target} ${r.version}`) + e;
  for (const [n, v] of r.fields) head += `${n}:${v.startsWith(' ') || v.startsWith('\t') || v === '' ? '' : ' '}${v}${e}`;
  head += e;
  const parts: Buffer[] = [Buffer.from(head, 'latin1')];
  if (r.body.kind === 'raw') parts.push(r.body.data);
  else if (r.body.kind === 'chunked') {
    for (const c of r.body.chunks) parts.push(Buffer.from(`${c.size}${c.ext}${e}`, 'latin1'), c.data, Buffer.from(c.after, 'latin1'));
    let tail = `${r.body.last}${e}`;
    for (const [n, v] of r.body.trailers) tail += `${n}: ${v}${e}`;
    parts.push(Buffer.from(tail + e, 'latin1'));
  }
  return Buffer.concat(parts);
}

/** Ensures a request has a body of the given kind (for framing mutations). */
function withBody(rng: Prng, r: RequestSpec, kind: 'raw' | 'chunked'): Buffer {
  if (r.method === 'GET' || r.method === 'HEAD') r.method = 'POST';
  if (r.version === 'HTTP/1.0') r.version = 'HTTP/1.1';
  if (!r.fields.some(([n]) => n.toLowerCase() === 'host')) r.fields.unshift(['Host', 'app.example']);
  r.fields = r.fields.filter(([n]) => !['content-length', 'transfer-encoding', 'expect'].includes(n.toLowerCase()));
  const data = r.body.kind === 'raw' ? r.body.data : r.body.kind === 'chunked' ? Buffer.concat(r.body.chunks.map((c) => c.data)) : Buffer.from(rng.chance(0.5) ? BAIT : 'hello world', 'latin1');
  const d = data.length > 0 ? data : Buffer.from('hello', 'latin1');
  if (kind === 'raw') {
    r.body = {kind: 'raw', data: d};
    r.fields.push(['Content-Length', String(d.length)]);
  } else {
    r.body = {kind: 'chunked', chunks: chunksOf(rng, d), last: '0', trailers: []};
    r.fields.push(['Transfer-Encoding', 'chunked']);
  }
  return d;
}

const setField = (r: RequestSpec, name: string, value: string): void => {
  r.fields = r.fields.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
  r.fields.push([name, value]);
};

function chunkedLength(r: RequestSpec): number {
  return r.body.kind === 'chunked' ? serialize({...r, leading: '', requestLine: 'X', fields: []}).length - 'X\r\n\r\n'.length : 0;
}

/** Mutations of one request; each returns its label. */
const MUTATORS: Record<Exclude<Family, 'valid' | 'keepalive' | 'pipelined' | 'bytes' | 'after-close'>, (rng: Prng, r: RequestSpec) => string> = {
  framing(rng, r) {
    const k = rng.int(0, 7);
    if (k === 0) {
      withBody(rng, r, 'chunked');
      r.fields = r.fields.filter(([n]) => n.toLowerCase() !== 'transfer-encoding');
      const cl = rng.pick([0, 4, chunkedLength(r)]);
      r.fields.splice(rng.int(0, r.fields.length), 0, ['Content-Length', String(cl)], ['Transfer-Encoding', 'chunked']);
      if (rng.chance(0.5)) r.fields.reverse();
      return `CL.TE: Content-Length ${cl} and Transfer-Encoding: chunked`;
    }
    if (k === 1) {
      const d = withBody(rng, r, 'raw');
      const te = rng.pick(['chunked', ' chunked', 'CHUNKED', 'chunked ', '\tchunked', 'chunked, identity', 'identity, chunked', 'xchunked', 'chunked;q=1', 'identity', 'gzip, chunked', 'chunked, chunked', 'chunked,', ', chunked', 'chunk', 'chunked\x0b']);
      r.fields.push(['Transfer-Encoding', te]);
      return `Content-Length ${d.length} and Transfer-Encoding ${JSON.stringify(te)}`;
    }
    if (k === 2) {
      withBody(rng, r, 'chunked');
      const te = rng.pick(['chunked, identity', 'identity, chunked', 'xchunked', 'identity', 'gzip, chunked', 'chunked, chunked', 'CHUNKED', 'chunked ,', 'deflate,chunked', 'chunked;a=b', 'chunked\x00']);
      setField(r, 'Transfer-Encoding', te);
      return `Transfer-Encoding ${JSON.stringify(te)}`;
    }
    if (k === 3) {
      withBody(rng, r, 'chunked');
      const second = rng.pick(['chunked', 'identity', 'gzip']);
      r.fields.push(['Transfer-Encoding', second]);
      return `two Transfer-Encoding fields (chunked, ${second})`;
    }
    if (k === 4) {
      const d = withBody(rng, r, 'raw');
      const n = d.length;
      const v = rng.pick([`+${n}`, `-${n}`, `${n}, ${n}`, `0${n}`, `${n}.0`, `0x${n.toString(16)}`, `${n} ${n}`, '', `${n}a`, '99999999999999999999', `\t${n}`]);
      setField(r, 'Content-Length', v);
      return `Content-Length ${JSON.stringify(v)}`;
    }
    if (k === 5) {
      const d = withBody(rng, r, 'raw');
      const other = rng.chance(0.5) ? d.length : d.length + rng.int(1, 5);
      r.fields.push(['Content-Length', String(other)]);
      return `repeated Content-Length (${d.length}, ${other})`;
    }
    if (k === 6) {
      const d = withBody(rng, r, 'raw');
      const declared = Math.max(0, d.length + rng.pick([-d.length, -1, 1, 10]));
      setField(r, 'Content-Length', String(declared));
      return `Content-Length ${declared} for a ${d.length}-byte body`;
    }
    // Connection naming the framing: must not strip it (hop-by-hop.ts).
    withBody(rng, r, rng.chance(0.5) ? 'raw' : 'chunked');
    const named = rng.pick(['content-length', 'transfer-encoding', 'Content-Length, Transfer-Encoding', 'host']);
    r.fields.push(['Connection', named]);
    return `Connection: ${named}`;
  },
  chunked(rng, r) {
    withBody(rng, r, 'chunked');
    if (r.body.kind !== 'chunked') return 'no body';
    const body = r.body;
    const c = body.chunks[rng.int(0, body.chunks.length - 1)]!;
    const k = rng.int(0, 9);
    if (k === 0) return (c.size = rng.pick(['zz', '-1', '0x5', ' ' + c.size, c.size + ' ', '+' + c.size, '', 'ffffffffffffffffff', '1'.repeat(20)])), `chunk size ${JSON.stringify(c.size)}`;
    if (k === 1) {
      const n = parseInt(c.size, 16) + rng.pick([-1, 1, 5]);
      c.size = Math.max(0, n).toString(16);
      return `chunk size ${c.size} for ${c.data.length} bytes`;
    }
    if (k === 2) return (c.after = rng.pick(['', '\n', '\r', 'XX\r\n', '\r\r\n'])), `chunk data followed by ${JSON.stringify(c.after)}`;
    if (k === 3) return (c.ext = rng.pick([';', '; ', ';a=', ';a="unterminated', ';a=b c', ';' + 'e'.repeat(rng.int(5000, 20000)), '\t;a', ' ;a=1', ' ', ';a=\x01', ';"q"'])), `chunk extension ${JSON.stringify(c.ext.slice(0, 40))}`;
    if (k === 4) return (body.last = rng.pick(['', '0 ', '00000000000000000000', '0;ext', 'x', '0\r\n0'])), `last chunk ${JSON.stringify(body.last)}`;
    if (k === 5) return body.trailers.push([rng.pick(['Content-Length', 'Transfer-Encoding', 'X Bad', 'Host']), rng.pick(['5', 'chunked', 'v'])]), `trailer ${JSON.stringify(body.trailers.at(-1))}`;
    if (k === 6) return (body.trailers = [[' folded', 'x']]), 'folded trailer';
    if (k === 7) return body.chunks.splice(body.chunks.indexOf(c) + 1, 0, {size: '0', ext: '', data: Buffer.alloc(0), after: ''}), 'a zero-size chunk in the middle';
    if (k === 8) return (c.data = Buffer.concat([c.data, Buffer.from('\r\n' + BAIT, 'latin1')])), 'request bytes inside chunk data beyond its size';
    return (body.last = '0\r\n\r\n' + BAIT.trimEnd()), 'a request right after the last chunk, without its final CRLF';
  },
  fields(rng, r) {
    const k = rng.int(0, 8);
    const i = rng.int(0, r.fields.length);
    if (k === 0) return r.fields.splice(i, 0, ['X-Folded', 'a\r\n b']), 'obs-fold';
    if (k === 1) return r.fields.splice(i, 0, ['X-Folded', 'a\r\n\tTransfer-Encoding: chunked']), 'obs-fold hiding Transfer-Encoding';
    if (k === 2) {
      const b = rng.pick([0x00, 0x01, 0x08, 0x0b, 0x0c, 0x7f, 0x0d, 0x0a, 0x80, 0xff]);
      r.fields.splice(i, 0, ['X-Bad', `a${String.fromCharCode(b)}b`]);
      return `byte 0x${b.toString(16)} in a field value`;
    }
    if (k === 3) {
      const bad = rng.pick(['X Bad', 'X-Bad ', 'X\x00Bad', 'X-B(ad)', 'X"', '', 'X/Y', 'ÿ', 'X@Y']);
      r.fields.splice(i, 0, [bad, 'v']);
      return `field name ${JSON.stringify(bad)}`;
    }
    if (k === 4) {
      withBody(rng, r, rng.chance(0.5) ? 'raw' : 'chunked');
      const j = r.fields.findIndex(([n]) => ['content-length', 'transfer-encoding'].includes(n.toLowerCase()));
      const f = r.fields[j]!;
      r.fields[j] = [f[0] + rng.pick([' ', '\t']), f[1]];
      return `whitespace before the colon of ${f[0]}`;
    }
    if (k === 5) return r.fields.splice(i, 0, ['X-No-Colon\r\nX-A', 'b'].map(String) as [string, string]), 'field line without a colon';
    if (k === 6) return (r.lineEnd = rng.pick(['\n', '\r'])), `line ends ${JSON.stringify(r.lineEnd)}`;
    if (k === 7) return r.fields.splice(i, 0, ['X-Bare', `a${rng.pick(['\n', '\r'])}Transfer-Encoding: chunked`]), 'a bare CR or LF inside a value';
    return r.fields.splice(i, 0, ['X-Obs', 'caf\xe9 \x80\xff']), 'obs-text in a value';
  },
  huge(rng, r) {
    const k = rng.int(0, 4);
    if (k === 0) {
      const n = rng.pick([8_000, 15_000, 17_000, 40_000, 70_000]);
      r.fields.push(['X-Huge', 'v'.repeat(n)]);
      return `a ${n}-byte field value`;
    }
    if (k === 1) {
      const n = rng.pick([100, 250, 255, 256, 300]);
      for (let j = 0; j < n; j++) r.fields.push([`X-F${j}`, 'v']);
      return `${n} more fields`;
    }
    if (k === 2) {
      const n = rng.pick([8_000, 17_000, 70_000]);
      r.target = '/' + 'a'.repeat(n);
      return `a ${n}-byte target`;
    }
    if (k === 3) {
      withBody(rng, r, 'raw');
      const n = rng.pick([100_000, 1_000_000]);
      r.body = {kind: 'raw', data: Buffer.alloc(n, 0x61)};
      setField(r, 'Content-Length', String(n));
      return `a ${n}-byte body`;
    }
    const n = rng.pick([1_000, 20_000]);
    r.method = 'M'.repeat(n);
    return `a ${n}-byte method`;
  },
  version(rng, r) {
    const k = rng.int(0, 2);
    if (k === 0) {
      const v = rng.pick(['HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1', 'HTTP/11', 'http/1.1', 'HTTP/3.0', 'HTTP/1.1 ', 'HTTP/9.9', 'HTTP/1.01', 'HTTP 1.1', 'HTTP/1.1\x00']);
      r.version = v;
      return `version ${JSON.stringify(v)}`;
    }
    if (k === 1) {
      const shape = rng.pick(['double space', 'tab', 'leading space', 'no version', 'lower-case method', 'trailing space']);
      const t = r.target;
      r.requestLine = {
        'double space': `${r.method}  ${t} ${r.version}`,
        tab: `${r.method}\t${t}\t${r.version}`,
        'leading space': ` ${r.method} ${t} ${r.version}`,
        'no version': `${r.method} ${t}`,
        'lower-case method': `${r.method.toLowerCase()} ${t} ${r.version}`,
        'trailing space': `${r.method} ${t} ${r.version} `,
      }[shape];
      return `request line: ${shape}`;
    }
    const m = rng.pick(['G@T', 'GET\x00', 'CONNECT', 'TRACE', '']);
    r.method = m;
    if (m === 'CONNECT') r.target = 'app.example:443';
    return `method ${JSON.stringify(m)}`;
  },
  host(rng, r) {
    r.version = 'HTTP/1.1';
    const k = rng.int(0, 3);
    if (k === 0) return (r.fields = r.fields.filter(([n]) => n.toLowerCase() !== 'host')), 'no Host';
    if (k === 1) {
      const other = rng.pick(['app.example', 'evil.example']);
      if (!r.fields.some(([n]) => n.toLowerCase() === 'host')) r.fields.unshift(['Host', 'app.example']);
      r.fields.push(['Host', other]);
      return `repeated Host (second ${other})`;
    }
    if (k === 2) {
      const v = rng.pick(['a b', 'a/b', 'a@b', '[::1', 'app.example:80:80', 'app.example:port', 'a\\b', 'a?b', 'a#b']);
      setField(r, 'Host', v);
      return `invalid Host ${JSON.stringify(v)}`;
    }
    r.target = `http://${rng.pick(['other.example', 'app.example'])}/abs`;
    return 'absolute-form target with a different Host';
  },
};

const BYTE_MUTATIONS = ['flip', 'replace', 'dup-crlf', 'drop-crlf', 'bare-lf', 'insert', 'delete', 'repeat', 'truncate'] as const;

function mutateBytes(rng: Prng, b: Buffer): {bytes: Buffer; label: string} {
  const kind = rng.pick(BYTE_MUTATIONS);
  const pos = rng.int(0, Math.max(0, b.length - 1));
  const crlfs: number[] = [];
  for (let i = 0; i < b.length; i++) if (b[i] === 0x0d || b[i] === 0x0a) crlfs.push(i);
  const at = crlfs.length > 0 ? rng.pick(crlfs) : pos;
  switch (kind) {
    case 'flip': {
      const out = Buffer.from(b);
      const bit = rng.int(0, 7);
      out[pos] = out[pos]! ^ (1 << bit);
      return {bytes: out, label: `bit ${bit} of byte ${pos} flipped`};
    }
    case 'replace': {
      const out = Buffer.from(b);
      const v = rng.pick([0x00, 0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x2c, 0x3b, 0x7f, 0xff, rng.int(0, 255)]);
      out[pos] = v;
      return {bytes: out, label: `byte ${pos} replaced by 0x${v.toString(16)}`};
    }
    case 'dup-crlf':
      return {bytes: Buffer.concat([b.subarray(0, at + 1), b.subarray(at, at + 1), b.subarray(at + 1)]), label: `CR/LF at ${at} doubled`};
    case 'drop-crlf':
      return {bytes: Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]), label: `CR/LF at ${at} removed`};
    case 'bare-lf': {
      const s = b.toString('latin1');
      const lines = [...s.matchAll(/\r\n/g)].map((m) => m.index);
      if (lines.length === 0) return {bytes: b, label: 'no CRLF to change'};
      const i = rng.pick(lines);
      const repl = rng.pick(['\n', '\r', '\n\r', ' \r\n']);
      return {bytes: Buffer.from(s.slice(0, i) + repl + s.slice(i + 2), 'latin1'), label: `CRLF at ${i} replaced by ${JSON.stringify(repl)}`};
    }
    case 'insert': {
      const ins = rng.chance(0.5) ? rng.bytes(rng.int(1, 4)) : Buffer.from(rng.pick(['\r\n', ' ', ':', '0\r\n\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 3\r\n', BAIT]), 'latin1');
      return {bytes: Buffer.concat([b.subarray(0, pos), ins, b.subarray(pos)]), label: `${JSON.stringify(ins.toString('latin1').slice(0, 40))} inserted at ${pos}`};
    }
    case 'delete': {
      const n = rng.int(1, 8);
      return {bytes: Buffer.concat([b.subarray(0, pos), b.subarray(pos + n)]), label: `${n} bytes deleted at ${pos}`};
    }
    case 'repeat': {
      const n = rng.int(1, 32);
      return {bytes: Buffer.concat([b.subarray(0, pos + n), b.subarray(pos, pos + n), b.subarray(pos + n)]), label: `${n} bytes at ${pos} repeated`};
    }
    case 'truncate':
      return {bytes: b.subarray(0, pos), label: `truncated to ${pos} bytes`};
  }
}

export interface GenerateOptions {
  /** Only these families (default all). */
  readonly families?: readonly Family[];
  /**
   * Whether a mutated request may be pipelined with others (default true). false: the requests of a mutated case go
   * one at a time (each after the answer to the one before), the mutated one last, and byte damage hits it alone.
   */
  readonly pipelineMutations?: boolean;
}

/** Generates case `index` of the campaign seeded with `seed`. */
export function generateCase(seed: number, index: number, options: GenerateOptions = {}): FuzzCase {
  const {families, pipelineMutations = true} = options;
  const rng = createPrng(caseSeed(seed, index));
  const allowed = families === undefined ? WEIGHTS : WEIGHTS.filter(([, f]) => families.includes(f));
  const family = rng.weighted(allowed);
  const id = `${seed}:${index}`;
  const count = family === 'valid' ? 1 : family === 'keepalive' || family === 'pipelined' || family === 'after-close' ? rng.int(2, 4) : rng.int(1, 3);
  const specs = Array.from({length: count}, (_, i) => validRequest(rng, {last: i === count - 1}));
  let label = `${count} request${count > 1 ? 's' : ''}`;
  // Without pipelined mutations, the mutated request is the last one: no request is waiting behind it.
  const target = pipelineMutations ? rng.int(0, count - 1) : count - 1;
  let sendApart = family === 'keepalive' || (family !== 'pipelined' && rng.chance(0.3));
  if (family === 'after-close') {
    const r = specs[target === count - 1 ? 0 : target]!;
    r.fields = r.fields.filter(([n]) => n.toLowerCase() !== 'connection');
    r.fields.push(['Connection', 'close']);
    sendApart = false;
    label += `, request ${specs.indexOf(r) + 1} has Connection: close, pipelined`;
  } else if (family in MUTATORS) {
    label += `, request ${target + 1}: ${MUTATORS[family as keyof typeof MUTATORS](rng, specs[target]!)}`;
  }
  if (!pipelineMutations && family !== 'valid' && family !== 'keepalive' && family !== 'pipelined') sendApart = true;
  let segments = specs.map(serialize);
  if (family === 'bytes') {
    if (pipelineMutations) {
      const m = mutateBytes(rng, Buffer.concat(segments));
      label += `, ${m.label}`;
      segments = [m.bytes];
      sendApart = false;
    } else {
      const m = mutateBytes(rng, segments[target]!);
      label += `, request ${target + 1}: ${m.label}`;
      segments[target] = m.bytes;
    }
  }
  if (!sendApart) segments = [Buffer.concat(segments)];
  else label += ', one at a time';
  return {id, family, label, segments};
}
