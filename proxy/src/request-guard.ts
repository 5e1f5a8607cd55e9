/**
 * Checks on a parsed request that node's parser (llhttp, strict mode) leaves to us, made before anything is sent
 * upstream. llhttp already rejects CL+TE, duplicate Content-Length, a chunked coding that is not last, bad chunk
 * framing and invalid header bytes; these close the gaps a proxy must close itself:
 *
 * - node:http keeps only the first `server.maxHeadersCount` fields in `req.headers` but frames the body by all of
 *   them, so a `Transfer-Encoding` past the limit would be dropped from the forwarded request while the body was
 *   parsed as chunked: the upstream would then read the body as a new request (smuggling). A request that reaches the
 *   limit is refused with 431 instead.
 * - llhttp emits the request before it rejects a Transfer-Encoding whose last coding is not `chunked` (e.g.
 *   `identity`, `xchunked`); RFC 9112 §6.3 says the length cannot be determined then: 400. A coding before `chunked`
 *   (`gzip, chunked`) is one the proxy does not implement and would otherwise drop silently: 501 (RFC 9112 §6.1).
 * - llhttp accepts any `HTTP/x.y` with one digit each, and a request line without a version (HTTP/0.9 style):
 *   only HTTP/1.x is forwarded; `HTTP/2.0` gets 505 (RFC 9110 §15.6.6), HTTP/0.9 a 400.
 * - node keeps the first of several `Host` fields and does not check its syntax: more than one, or one that is not
 *   `host[:port]` (RFC 9112 §3.2, RFC 3986 §3.2.2), is a 400, before it reaches the app or X-Forwarded-Host.
 * - TRACE echoes the request back, Cookie and Authorization included (cross-site tracing): refused with 405, as
 *   nginx does, rather than forwarded.
 */
import type {IncomingMessage} from 'node:http';

/** node:http's `server.maxHeadersCount`; a request with this many fields or more is refused. */
export const MAX_HEADERS_COUNT = 256;

export interface Refusal {
  readonly status: 400 | 405 | 431 | 501 | 505;
  readonly body: Buffer;
  /** Extra response fields (405's Allow). */
  readonly headers?: readonly string[];
}

const refusal = (status: Refusal['status'], title: string, message: string, headers?: readonly string[]): Refusal =>
  Object.freeze({status, body: Buffer.from(`${status} ${title}: ${message}\n`), headers});

export const REFUSALS = Object.freeze({
  tooManyHeaders: refusal(431, 'Request Header Fields Too Large', 'too many header fields'),
  badFraming: refusal(400, 'Bad Request', 'unsupported Transfer-Encoding'),
  unknownCoding: refusal(501, 'Not Implemented', 'only the chunked transfer coding is supported'),
  badVersion: refusal(400, 'Bad Request', 'malformed request line'),
  versionNotSupported: refusal(505, 'HTTP Version Not Supported', 'only HTTP/1.x is supported'),
  badHost: refusal(400, 'Bad Request', 'exactly one valid Host header field is required'),
  trace: refusal(405, 'Method Not Allowed', 'TRACE is not allowed', ['Allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS']),
});

const CHUNKED_LAST = /(?:^|,)[ \t]*chunked[ \t]*$/i;
const CHUNKED_ONLY = /^[ \t]*chunked[ \t]*$/i;
/** uri-host [":" port]: an IP-literal in brackets, or reg-name / IPv4 characters (RFC 3986 §3.2.2), possibly empty. */
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

export function checkRequest(req: IncomingMessage): Refusal | undefined {
  const raw = req.rawHeaders;
  if (raw.length >= MAX_HEADERS_COUNT * 2) return REFUSALS.tooManyHeaders;
  if (req.httpVersionMajor !== 1) return req.httpVersionMajor === 0 ? REFUSALS.badVersion : REFUSALS.versionNotSupported;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host' && (++hosts > 1 || !VALID_HOST.test(raw[i + 1]!))) return REFUSALS.badHost;
  }
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400.
  if (hosts === 0 && req.httpVersionMinor >= 1) return REFUSALS.badHost;
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) {
    if (!CHUNKED_LAST.test(te)) return REFUSALS.badFraming;
    if (!CHUNKED_ONLY.test(te)) return REFUSALS.unknownCoding;
  }
  if (req.method === 'TRACE') return REFUSALS.trace;
  return undefined;
}

/** The request carries a body (llhttp has validated the framing headers by now). */
export function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}
