/**
 * A strict HTTP/1.1 message parser (RFC 9112), the fuzz campaign's reference for what a byte stream means: what the
 * client's bytes say (how many requests, where each ends), what the raw upstream received from lameduck, and what
 * lameduck answered. It is written from the RFC grammar, not from llhttp, so that a disagreement between the two is
 * visible instead of inherited.
 *
 * Where the RFC lets a recipient choose, this parser takes the strict side (reject): bare LF or CR line ends, obs-fold,
 * whitespace before a colon, both Content-Length and Transfer-Encoding, a repeated or list-valued Content-Length, a
 * Transfer-Encoding whose last coding is not `chunked` (or with `chunked` twice), Transfer-Encoding in HTTP/1.0, an
 * HTTP/1.1 request without exactly one valid Host (RFC 9112 §3.2), versions other than 1.0 and 1.1. The leniencies
 * kept are those the RFC allows and llhttp takes, which change no framing: empty lines (CRLF or a bare LF) before a
 * request line are skipped (RFC 9112 §2.2), and runs of SP separate the request line's parts (RFC 9112 §3).
 *
 * Bytes are read as latin1: one char per octet, so offsets in strings are offsets in the buffer.
 */

export interface Field {
  readonly name: string;
  readonly value: string;
}

export interface ParsedRequest {
  readonly method: string;
  readonly target: string;
  /** `1.0` or `1.1`. */
  readonly version: string;
  readonly fields: readonly Field[];
  readonly trailers: readonly Field[];
  /** The body as the message frames it (de-chunked). */
  readonly body: Buffer;
  readonly framing: 'none' | 'length' | 'chunked';
  /** The connection may carry another request after this one (RFC 9112 §9.3). */
  readonly persistent: boolean;
  /** Offsets of the message in the parsed buffer, [start, end). */
  readonly start: number;
  readonly end: number;
}

export interface ParsedResponse {
  readonly status: number;
  readonly reason: string;
  readonly fields: readonly Field[];
  readonly body: Buffer;
  /** The response carries `Connection: close`, or is framed by the connection's end. */
  readonly close: boolean;
  readonly start: number;
  readonly end: number;
}

export type StreamEnd =
  /** Every byte was consumed, ending at a message boundary. */
  | {readonly kind: 'clean'}
  /** The bytes end inside a message. */
  | {readonly kind: 'incomplete'; readonly at: number}
  /** The bytes at `at` break the grammar. */
  | {readonly kind: 'error'; readonly at: number; readonly reason: string}
  /** A message closed the connection (Connection: close, HTTP/1.0); `rest` bytes followed it, unprocessed. */
  | {readonly kind: 'closed'; readonly at: number; readonly rest: number};

type Step<T> = {readonly kind: 'ok'; readonly value: T; readonly next: number} | {readonly kind: 'incomplete'} | {readonly kind: 'error'; readonly at: number; readonly reason: string};

const incomplete = {kind: 'incomplete'} as const;
const fail = (at: number, reason: string): {kind: 'error'; at: number; reason: string} => ({kind: 'error', at, reason});

// tchar (RFC 9110 §5.6.2)
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  return true;
}

/** field-vchar, SP and HTAB (RFC 9110 §5.5): VCHAR and obs-text. */
function isFieldValueChar(c: number): boolean {
  return c === 0x20 || c === 0x09 || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

const HEX = /^[0-9a-fA-F]+$/;
const DIGITS = /^[0-9]+$/;
/** uri-host [ ":" port ] (RFC 3986 §3.2.2): reg-name or IPv4 or an IP-literal; an empty value is allowed (RFC 9112 §3.2). */
const HOST_VALUE = /^(?:(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*|\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\])(?::[0-9]*)?$/;

/** Reads a line ending in CRLF from `from`; a bare CR or LF is an error. */
function line(s: string, from: number): Step<string> {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0d) {
      if (i + 1 >= s.length) return incomplete;
      if (s.charCodeAt(i + 1) !== 0x0a) return fail(i, 'bare CR');
      return {kind: 'ok', value: s.slice(from, i), next: i + 2};
    }
    if (c === 0x0a) return fail(i, 'bare LF');
  }
  return incomplete;
}

/** Field lines up to and including the empty line (RFC 9112 §5). */
function fieldSection(s: string, from: number): Step<Field[]> {
  const fields: Field[] = [];
  let at = from;
  for (;;) {
    const l = line(s, at);
    if (l.kind !== 'ok') return l;
    if (l.value === '') return {kind: 'ok', value: fields, next: l.next};
    const first = l.value.charCodeAt(0);
    if (first === 0x20 || first === 0x09) return fail(at, 'obs-fold (a field line starting with whitespace)');
    const colon = l.value.indexOf(':');
    if (colon < 0) return fail(at, 'field line without a colon');
    const name = l.value.slice(0, colon);
    if (!isToken(name)) return fail(at, `invalid field name ${JSON.stringify(name)}`);
    const raw = l.value.slice(colon + 1);
    for (let i = 0; i < raw.length; i++) {
      if (!isFieldValueChar(raw.charCodeAt(i))) return fail(at + colon + 1 + i, `invalid byte 0x${raw.charCodeAt(i).toString(16)} in field ${name}`);
    }
    fields.push({name, value: raw.replace(/^[ \t]+|[ \t]+$/g, '')});
    at = l.next;
  }
}

export function fieldValues(fields: readonly Field[], name: string): string[] {
  const lower = name.toLowerCase();
  return fields.filter((f) => f.name.toLowerCase() === lower).map((f) => f.value);
}

/** The elements of a comma-separated list (RFC 9110 §5.6.1), lower-cased, empty ones dropped. */
export function listElements(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((e) => e.trim().toLowerCase()).filter((e) => e !== '');
}

type Framing = {kind: 'none'} | {kind: 'length'; length: number} | {kind: 'chunked'} | {kind: 'close'} | {kind: 'error'; reason: string};

/** RFC 9112 §6.3 for a request (no body framed by the connection's end). */
function requestFraming(version: string, fields: readonly Field[]): Framing {
  const te = fieldValues(fields, 'transfer-encoding');
  const cl = fieldValues(fields, 'content-length');
  if (te.length > 0) {
    if (version === '1.0') return {kind: 'error', reason: 'Transfer-Encoding in an HTTP/1.0 request'};
    if (cl.length > 0) return {kind: 'error', reason: 'both Content-Length and Transfer-Encoding'};
    const codings = listElements(te).map((c) => c.split(';')[0]!.trim());
    if (codings.length === 0) return {kind: 'error', reason: 'empty Transfer-Encoding'};
    if (!codings.every(isToken)) return {kind: 'error', reason: 'invalid transfer coding'};
    if (codings[codings.length - 1] !== 'chunked') return {kind: 'error', reason: 'final transfer coding is not chunked'};
    if (codings.filter((c) => c === 'chunked').length > 1) return {kind: 'error', reason: 'chunked applied twice'};
    return {kind: 'chunked'};
  }
  if (cl.length > 1) return {kind: 'error', reason: 'repeated Content-Length'};
  if (cl.length === 1) {
    if (!DIGITS.test(cl[0]!)) return {kind: 'error', reason: `invalid Content-Length ${JSON.stringify(cl[0])}`};
    const length = Number(cl[0]);
    if (!Number.isSafeInteger(length)) return {kind: 'error', reason: 'Content-Length too large'};
    return {kind: 'length', length};
  }
  return {kind: 'none'};
}

/**
 * chunk-ext (RFC 9112 §7.1.1): *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ). An empty ext-val (`;a=`) is
 * taken, as llhttp takes it: it cannot move the end of the chunk-size line, so it changes no framing.
 */
const CHUNK_EXT = /^(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]*|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)*$/;

/** A chunked body (RFC 9112 §7.1) from `from`: the data and the trailer fields. */
function chunkedBody(s: string, buf: Buffer, from: number): Step<{body: Buffer; trailers: Field[]}> {
  const parts: Buffer[] = [];
  let at = from;
  for (;;) {
    const l = line(s, at);
    if (l.kind !== 'ok') return l;
    const m = /^([^;\t ]*)(.*)$/.exec(l.value)!;
    const size = m[1]!;
    if (!HEX.test(size)) return fail(at, `invalid chunk size ${JSON.stringify(size.slice(0, 40))}`);
    if (size.replace(/^0+/, '').length > 12) return fail(at, 'chunk size too large');
    if (!CHUNK_EXT.test(m[2]!)) return fail(at + size.length, 'invalid chunk extension');
    const n = parseInt(size, 16);
    at = l.next;
    if (n === 0) {
      const trailers = fieldSection(s, at);
      if (trailers.kind !== 'ok') return trailers;
      return {kind: 'ok', value: {body: Buffer.concat(parts), trailers: trailers.value}, next: trailers.next};
    }
    if (s.length > at + n && s.charCodeAt(at + n) !== 0x0d) return fail(at + n, 'chunk data not followed by CRLF');
    if (s.length > at + n + 1 && s.charCodeAt(at + n + 1) !== 0x0a) return fail(at + n + 1, 'chunk data not followed by CRLF');
    if (s.length < at + n + 2) return incomplete;
    parts.push(buf.subarray(at, at + n));
    at += n + 2;
  }
}

/**
 * Empty lines before a request line are skipped (RFC 9112 §2.2), a bare LF among them too: RFC 9112 §2.2 lets a
 * recipient take a single LF for a line end, and llhttp does so here.
 */
function skipEmptyLines(s: string, from: number): number {
  let at = from;
  for (;;) {
    if (s.startsWith('\r\n', at)) at += 2;
    else if (s.charCodeAt(at) === 0x0a) at += 1;
    else return at;
  }
}

/** One request from `from` (leading empty lines skipped). */
export function parseRequest(buf: Buffer, from = 0, s = buf.toString('latin1')): Step<ParsedRequest> {
  let at = skipEmptyLines(s, from);
  if (at >= s.length || (at === s.length - 1 && s.charCodeAt(at) === 0x0d)) return incomplete;
  const start = at;
  const rl = line(s, at);
  if (rl.kind !== 'ok') return rl;
  // Single SPs per the grammar; runs of SP are the whitespace-delimited parsing RFC 9112 §3 allows (llhttp does it).
  const m = /^([^ ]+) +([^ ]+) +HTTP\/(\d)\.(\d)$/.exec(rl.value);
  if (!m) {
    // `GET /path` without a version is an HTTP/0.9 simple request, which HTTP/1.1 servers do not take.
    if (/^[^ ]+ +[^ ]+$/.test(rl.value)) return fail(at, `HTTP/0.9 request line (no version) ${JSON.stringify(rl.value.slice(0, 60))}`);
    return fail(at, `invalid request line ${JSON.stringify(rl.value.slice(0, 60))}`);
  }
  const [, method, target, major, minor] = m as unknown as [string, string, string, string, string];
  if (!isToken(method)) return fail(at, `invalid method ${JSON.stringify(method)}`);
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return fail(at + method.length + 1 + i, `invalid byte 0x${c.toString(16)} in the request target`);
  }
  const version = `${major}.${minor}`;
  if (version !== '1.1' && version !== '1.0') return fail(at, `unsupported version HTTP/${version}`);
  const fs = fieldSection(s, rl.next);
  if (fs.kind !== 'ok') return fs;
  const fields = fs.value;
  if (version === '1.1') {
    const hosts = fieldValues(fields, 'host');
    if (hosts.length !== 1) return fail(start, hosts.length === 0 ? 'HTTP/1.1 request without Host' : 'repeated Host');
    if (!HOST_VALUE.test(hosts[0]!)) return fail(start, `invalid Host ${JSON.stringify(hosts[0])}`);
  }
  const framing = requestFraming(version, fields);
  if (framing.kind === 'error') return fail(start, framing.reason);
  const connection = listElements(fieldValues(fields, 'connection'));
  const persistent = !connection.includes('close') && (version === '1.1' || connection.includes('keep-alive'));
  const done = (body: Buffer, trailers: Field[], next: number, kind: ParsedRequest['framing']): Step<ParsedRequest> => ({
    kind: 'ok',
    value: {method, target, version, fields, trailers, body, framing: kind, persistent, start, end: next},
    next,
  });
  if (framing.kind === 'none' || framing.kind === 'close') return done(Buffer.alloc(0), [], fs.next, 'none');
  if (framing.kind === 'length') {
    if (s.length < fs.next + framing.length) return incomplete;
    return done(buf.subarray(fs.next, fs.next + framing.length), [], fs.next + framing.length, 'length');
  }
  const body = chunkedBody(s, buf, fs.next);
  if (body.kind !== 'ok') return body;
  return done(body.value.body, body.value.trailers, body.next, 'chunked');
}

/** Every request in a client's byte stream, up to the first error, the end, or a request that closes the connection. */
export function parseRequestStream(buf: Buffer): {requests: ParsedRequest[]; end: StreamEnd} {
  const s = buf.toString('latin1');
  const requests: ParsedRequest[] = [];
  let at = 0;
  for (;;) {
    const probe = skipEmptyLines(s, at);
    if (probe >= s.length) return {requests, end: at === s.length ? {kind: 'clean'} : {kind: 'incomplete', at}};
    const r = parseRequest(buf, at, s);
    if (r.kind === 'incomplete') return {requests, end: {kind: 'incomplete', at}};
    if (r.kind === 'error') return {requests, end: {kind: 'error', at: r.at, reason: r.reason}};
    requests.push(r.value);
    at = r.next;
    if (!r.value.persistent) return {requests, end: {kind: 'closed', at, rest: s.length - at}};
  }
}

/** RFC 9112 §6.3 for a response to `method`; `close`: framed by the connection's end. */
function responseFraming(method: string, status: number, fields: readonly Field[]): Framing {
  if (method === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304) return {kind: 'none'};
  const te = fieldValues(fields, 'transfer-encoding');
  const cl = fieldValues(fields, 'content-length');
  if (te.length > 0) {
    if (cl.length > 0) return {kind: 'error', reason: 'both Content-Length and Transfer-Encoding'};
    const codings = listElements(te);
    return codings[codings.length - 1] === 'chunked' ? {kind: 'chunked'} : {kind: 'close'};
  }
  if (cl.length > 0) {
    if (new Set(cl).size !== 1 || !DIGITS.test(cl[0]!)) return {kind: 'error', reason: `invalid Content-Length ${JSON.stringify(cl.join(', '))}`};
    return {kind: 'length', length: Number(cl[0])};
  }
  return {kind: 'close'};
}

/**
 * The final responses in a server's byte stream; `methods[i]` is the method of the i-th request (HEAD responses
 * have no body). Interim (1xx) responses are checked and skipped. `eof`: the server closed after these bytes.
 */
export function parseResponseStream(buf: Buffer, methods: readonly string[], eof: boolean): {responses: ParsedResponse[]; end: StreamEnd} {
  const s = buf.toString('latin1');
  const responses: ParsedResponse[] = [];
  let at = 0;
  while (at < s.length) {
    const start = at;
    const sl = line(s, at);
    if (sl.kind === 'incomplete') return {responses, end: {kind: 'incomplete', at}};
    if (sl.kind === 'error') return {responses, end: {kind: 'error', at: sl.at, reason: sl.reason}};
    const m = /^HTTP\/1\.1 ([1-5][0-9][0-9]) ([\t \x21-\x7e\x80-\xff]*)$/.exec(sl.value);
    if (!m) return {responses, end: {kind: 'error', at, reason: `invalid status line ${JSON.stringify(sl.value.slice(0, 60))}`}};
    const status = Number(m[1]);
    const fs = fieldSection(s, sl.next);
    if (fs.kind === 'incomplete') return {responses, end: {kind: 'incomplete', at}};
    if (fs.kind === 'error') return {responses, end: {kind: 'error', at: fs.at, reason: fs.reason}};
    if (status < 200) {
      if (status === 101) return {responses, end: {kind: 'error', at, reason: '101 Switching Protocols to a request that asked for no upgrade'}};
      at = fs.next;
      continue;
    }
    const method = methods[responses.length] ?? 'GET';
    const framing = responseFraming(method, status, fs.value);
    const close = listElements(fieldValues(fs.value, 'connection')).includes('close') || framing.kind === 'close';
    const push = (body: Buffer, end: number): void => {
      responses.push({status, reason: m[2]!, fields: fs.value, body, close, start, end});
    };
    if (framing.kind === 'error') return {responses, end: {kind: 'error', at, reason: framing.reason}};
    if (framing.kind === 'none') {
      push(Buffer.alloc(0), fs.next);
      at = fs.next;
    } else if (framing.kind === 'length') {
      if (s.length < fs.next + framing.length) return {responses, end: {kind: 'incomplete', at}};
      push(buf.subarray(fs.next, fs.next + framing.length), fs.next + framing.length);
      at = fs.next + framing.length;
    } else if (framing.kind === 'chunked') {
      const b = chunkedBody(s, buf, fs.next);
      if (b.kind === 'incomplete') return {responses, end: {kind: 'incomplete', at}};
      if (b.kind === 'error') return {responses, end: {kind: 'error', at: b.at, reason: b.reason}};
      push(b.value.body, b.next);
      at = b.next;
    } else {
      if (!eof) return {responses, end: {kind: 'incomplete', at}};
      push(buf.subarray(fs.next), s.length);
      at = s.length;
    }
    if (close) return {responses, end: at === s.length ? {kind: 'clean'} : {kind: 'closed', at, rest: s.length - at}};
  }
  return {responses, end: {kind: 'clean'}};
}
