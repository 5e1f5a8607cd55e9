/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so a proxy removes them in both directions —
 * `Connection` and every header it names, `Keep-Alive`, `Proxy-Connection`, `TE` (except `trailers`, which an
 * intermediary may forward), `Transfer-Encoding` (each side's node:http frames the body itself) and `Upgrade` (kept
 * only on an upgrade request, with `Connection: Upgrade`).
 *
 * A `Connection` option can never remove the message framing or the target: a client sending
 * `Connection: content-length` must not make the proxy forward a body without the framing the upstream needs to find
 * its end (that is request smuggling), so `Host`, `Content-Length` and `Transfer-Encoding` are protected, and so are
 * the X-Forwarded-* fields lameduck sets.
 */
import type {IncomingHttpHeaders} from 'node:http';

// X-Forwarded-*: end-to-end fields a proxy in front added and lameduck extends; `Connection: X-Forwarded-For` must not
// make lameduck drop them (the classic hop-by-hop abuse to hide a client's address from the app).
const PROTECTED = new Set(['host', 'content-length', 'transfer-encoding', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port']);

/** Lower-cased, trimmed option names of a Connection header value, without the empty ones. */
export function connectionOptions(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = typeof value === 'string' ? value : value.join(',');
  const out: string[] = [];
  for (const part of joined.split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') out.push(name);
  }
  return out;
}

/** `keep-alive` or `close` alone, what almost every peer sends: nothing to parse, no header named. */
function isPlainConnection(value: string | readonly string[]): boolean {
  if (typeof value !== 'string' || (value.length !== 10 && value.length !== 5)) return false;
  const lower = value.toLowerCase();
  return lower === 'keep-alive' || lower === 'close';
}

export const TE_TRAILERS = /(?:^|,)\s*trailers\s*(?:;|,|$)/i;

/**
 * Removes the hop-by-hop headers of a client request in place, before it is copied to the upstream request.
 * Also drops `Expect`: node:http has already answered `100 Continue` to the client, so the upstream has nothing left
 * to agree to. `Transfer-Encoding` stays: node's client re-frames the body from it (removing it from a GET with a
 * chunked body would send the body unframed).
 */
export function stripRequestHopByHop(headers: IncomingHttpHeaders, upgrade: boolean): void {
  const connection = headers.connection;
  if (connection !== undefined) {
    if (!isPlainConnection(connection)) {
      for (const name of connectionOptions(connection)) {
        if (PROTECTED.has(name) || (upgrade && name === 'upgrade')) continue;
        delete headers[name];
      }
    }
    delete headers.connection;
  }
  if (headers['keep-alive'] !== undefined) delete headers['keep-alive'];
  if (headers['proxy-connection'] !== undefined) delete headers['proxy-connection'];
  const te = headers.te;
  if (te !== undefined) {
    if (TE_TRAILERS.test(typeof te === 'string' ? te : te.join(','))) headers.te = 'trailers';
    else delete headers.te;
  }
  if (headers.expect !== undefined) delete headers.expect;
  if (upgrade) headers.connection = 'Upgrade';
  else if (headers.upgrade !== undefined) delete headers.upgrade;
}

/**
 * The lower-cased fields a raw header list's `Connection` options name (never Host or the body framing; `close` and
 * `keep-alive` name no field), or undefined when there are none — what almost every peer sends.
 */
export function namedByConnection(raw: readonly string[]): string[] | undefined {
  let named: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 10 && !isPlainConnection(raw[i + 1]!) && name.toLowerCase() === 'connection') {
      for (const option of connectionOptions(raw[i + 1])) {
        if (option === 'close' || option === 'keep-alive' || PROTECTED.has(option)) continue;
        (named ??= []).push(option);
      }
    }
  }
  return named;
}

/** True when the lower-cased `name` is always hop-by-hop in a response. */
function isResponseHopByHop(name: string, keepTrailer: boolean): boolean {
  // Switch on the length first: most headers are rejected without lower-casing them.
  switch (name.length) {
    case 2:
      return name.toLowerCase() === 'te';
    case 7: {
      const lower = name.toLowerCase();
      return lower === 'upgrade' || (!keepTrailer && lower === 'trailer');
    }
    case 10: {
      const lower = name.toLowerCase();
      return lower === 'connection' || lower === 'keep-alive';
    }
    case 16:
      return name.toLowerCase() === 'proxy-connection';
    case 17:
      return name.toLowerCase() === 'transfer-encoding';
    default:
      return false;
  }
}

/**
 * The end-to-end headers of an upstream response as a flat `[name, value, ...]` list for `res.writeHead`, keeping
 * the upstream's case, order and repeated fields (Set-Cookie). The upstream's `rawHeaders` is not modified: the
 * keep-alive agent still reads its `Keep-Alive: timeout=` hint from it.
 *
 * @param keepTrailer whether a `Trailer` declaration can be honoured (the response to the client will be chunked).
 * @param close append `Connection: close` (drain): node:http then closes the client connection after the response.
 */
export function responseHeaders(raw: readonly string[], keepTrailer: boolean, close: boolean): string[] {
  const named = namedByConnection(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (isResponseHopByHop(name, keepTrailer)) continue;
    if (named !== undefined && named.includes(name.toLowerCase())) continue;
    out.push(name, raw[i + 1]!);
  }
  if (close) out.push('Connection', 'close');
  return out;
}
