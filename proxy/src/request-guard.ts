/**
 * Checks on a parsed request that node's parser (llhttp, strict mode) leaves to us, made before anything is sent
 * upstream. llhttp already rejects CL+TE, duplicate Content-Length, a chunked coding that is not last, bad chunk
 * framing and invalid header bytes; these cover the two gaps a proxy must close itself:
 *
 * - node:http keeps only the first `server.maxHeadersCount` fields in `req.headers` but frames the body by all of
 *   them, so a `Transfer-Encoding` past the limit would be dropped from the forwarded request while the body was
 *   parsed as chunked: the upstream would then read the body as a new request (smuggling). A request that reaches the
 *   limit is refused with 431 instead.
 * - llhttp emits the request before it rejects a Transfer-Encoding whose last coding is not `chunked` (e.g.
 *   `identity`, `xchunked`); RFC 9112 §6.3 says the length cannot be determined then, so it is a 400 here, before
 *   the upstream sees any of it.
 */
import type {IncomingMessage} from 'node:http';

/** node:http's `server.maxHeadersCount`; a request with this many fields or more is refused. */
export const MAX_HEADERS_COUNT = 256;

export interface Refusal {
  readonly status: 400 | 431;
  readonly body: Buffer;
}

const TOO_MANY_HEADERS: Refusal = Object.freeze({status: 431, body: Buffer.from('431 Request Header Fields Too Large: too many header fields\n')});
const BAD_FRAMING: Refusal = Object.freeze({status: 400, body: Buffer.from('400 Bad Request: unsupported Transfer-Encoding\n')});
const CHUNKED_LAST = /(?:^|,)[ \t]*chunked[ \t]*$/i;

export function checkRequest(req: IncomingMessage): Refusal | undefined {
  if (req.rawHeaders.length >= MAX_HEADERS_COUNT * 2) return TOO_MANY_HEADERS;
  const te = req.headers['transfer-encoding'];
  if (te !== undefined && !CHUNKED_LAST.test(te)) return BAD_FRAMING;
  return undefined;
}

/** The request carries a body (llhttp has validated the framing headers by now). */
export function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}
