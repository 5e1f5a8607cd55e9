/**
 * The header list of a request as it is sent to the app: the client's fields minus the hop-by-hop ones, plus
 * X-Forwarded-For/-Port/-Proto/-Host. Built in one pass over `req.rawHeaders` as a flat `[name, value, ...]` list
 * that the upstream client sends as is (no per-field `setHeader`, the client's case and order, repeated fields kept: what
 * nginx and HAProxy forward).
 *
 * - Hop-by-hop (RFC 9110 §7.6.1, rules in hop-by-hop.ts): `Connection` and every field it names (never Host,
 *   Content-Length or Transfer-Encoding), `Keep-Alive`, `Proxy-Connection`, `Upgrade`, `TE` except `trailers`.
 *   `Expect` goes too: node:http has already answered `100 Continue`, the app has nothing left to agree to.
 *   `Transfer-Encoding` goes as well: the upstream client (undici, upstream-pool.ts) frames a body itself, chunked when
 *   it has no Content-Length, and refuses a Transfer-Encoding field.
 * - `Host` once, with the value node parsed (an absolute-form target has replaced it, request-target.ts; an empty Host
 *   stays empty, RFC 9112 §3.2); a repeated Host is dropped, and an HTTP/1.0 request without one gets the upstream's
 *   authority.
 * - A request without a body whose method usually carries one (POST, PUT, PATCH, ...: every method outside the list
 *   below) gets an explicit `Content-Length: 0`, so an app that reads bodies by Content-Length never waits for one
 *   (with node's client, the chunked empty body it sent instead was taken for the start of a new request).
 * - X-Forwarded-For: the client's value (a list: a proxy in front has added its hop), then `,` and the client's address.
 *   A `Connection` option cannot remove it (hop-by-hop.ts protects the X-Forwarded-* fields): it is end-to-end, and
 *   lameduck sets it.
 * - X-Forwarded-Proto/-Port are single values, never lists (apps read them as one token: `https,http` is neither):
 *   the client's when it sent exactly one well-formed value (a TLS-terminating ingress in front says `https`/`443`,
 *   and the app must see that, or its HTTPS redirects loop), else ours: `http` and the port lameduck listens on (not
 *   the port named in Host, which the client chose).
 * - X-Forwarded-Host: the client's, else its Host, else none (never the upstream's own address).
 *   An IPv4 client of the dual-stack listener is written in plain IPv4 (`::ffff:10.1.2.3` → `10.1.2.3`), as nginx and
 *   Envoy write it.
 */
import {namedByConnection, TE_TRAILERS} from './hop-by-hop.js';

const MAPPED_IPV4 = '::ffff:';

/** Methods sent without any body framing when they have no body (node:http's `useChunkedEncodingByDefault` list). */
const UNFRAMED_BY_DEFAULT = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/** The client address as X-Forwarded-For carries it. */
export function forwardedFor(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return '';
  return remoteAddress.startsWith(MAPPED_IPV4) && remoteAddress.includes('.') ? remoteAddress.slice(MAPPED_IPV4.length) : remoteAddress;
}

const PROTO = /^https?$/i;
const PORT = /^\d{1,5}$/;

/** X-Forwarded-Proto to send: the client's single well-formed value, else `http`. */
export function forwardedProto(client: string | readonly string[] | undefined): string {
  return typeof client === 'string' && PROTO.test(client) ? client : 'http';
}

/** X-Forwarded-Port to send: the client's single well-formed value, else the port lameduck accepted the connection on. */
export function forwardedPort(client: string | readonly string[] | undefined, listenPort: number | undefined): string {
  return typeof client === 'string' && PORT.test(client) ? client : String(listenPort ?? 80);
}

/** The port a client addressed, from its Host (`[::1]:8080`, `shop.example:8443`); 80 when it names none (plain HTTP). */
export function hostPort(host: string | undefined): string {
  if (host === undefined) return '80';
  const colon = host.lastIndexOf(':');
  if (colon < 0 || colon < host.lastIndexOf(']')) return '80';
  const port = host.slice(colon + 1);
  return /^\d{1,5}$/.test(port) ? port : '80';
}

function append(existing: string | undefined, value: string): string {
  return existing === undefined || existing === '' ? value : `${existing},${value}`;
}

/** Joins a repeated field as node:http does for these (RFC 9110 §5.3: a list). */
function join(existing: string | undefined, value: string): string {
  return existing === undefined ? value : `${existing}, ${value}`;
}

export interface ForwardedRequest {
  readonly method: string | undefined;
  /** The request's raw fields (`req.rawHeaders`). */
  readonly raw: readonly string[];
  /** The Host to send (`req.headers.host` after request-target.ts), undefined when the client sent none. */
  readonly host: string | undefined;
  /** The client's address (`req.socket.remoteAddress`). */
  readonly remoteAddress: string | undefined;
  /** The upstream's authority, used as Host when the client sent none. */
  readonly upstreamAuthority: string;
  /** The port lameduck accepted the connection on (`req.socket.localPort`): X-Forwarded-Port unless a proxy in front set one. */
  readonly listenPort?: number;
}

export function upstreamRequestHeaders(r: ForwardedRequest): string[] {
  const raw = r.raw;
  const named = namedByConnection(raw);
  /** A client's TE value, unless its own Connection header removed that field. */
  const claim = (lower: string, previous: string | undefined, value: string): string | undefined =>
    named !== undefined && named.includes(lower) ? previous : join(previous, value);
  const out: string[] = [];
  let hostSent = false;
  let framed = false;
  let te: string | undefined;
  let xff: string | undefined;
  let xfPort: string | undefined;
  let xfPorts = 0;
  let xfProto: string | undefined;
  let xfProtos = 0;
  let xfHost: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    // Switch on the length first: most fields are kept without lower-casing their name.
    switch (name.length) {
      case 2:
        if (name.toLowerCase() === 'te') {
          te = claim('te', te, value);
          continue;
        }
        break;
      case 4:
        if (name.toLowerCase() === 'host') {
          if (!hostSent && r.host !== undefined) out.push(name, r.host);
          hostSent = true;
          continue;
        }
        break;
      case 6:
        if (name.toLowerCase() === 'expect') continue;
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') continue;
        break;
      case 10: {
        const lower = name.toLowerCase();
        if (lower === 'connection' || lower === 'keep-alive') continue;
        break;
      }
      case 14:
        if (!framed && name.toLowerCase() === 'content-length') framed = true;
        break;
      case 15:
        if (name.toLowerCase() === 'x-forwarded-for') {
          xff = join(xff, value);
          continue;
        }
        break;
      case 16: {
        const lower = name.toLowerCase();
        if (lower === 'proxy-connection') continue;
        if (lower === 'x-forwarded-port') {
          xfPort = value;
          xfPorts++;
          continue;
        }
        if (lower === 'x-forwarded-host') {
          xfHost = join(xfHost, value);
          continue;
        }
        break;
      }
      case 17: {
        const lower = name.toLowerCase();
        if (lower === 'x-forwarded-proto') {
          xfProto = value;
          xfProtos++;
          continue;
        }
        if (lower === 'transfer-encoding') {
          // The upstream client frames the body itself (chunked when there is no Content-Length).
          framed = true;
          continue;
        }
        break;
      }
      default:
        break;
    }
    if (named !== undefined && named.includes(name.toLowerCase())) continue;
    out.push(name, value);
  }
  if (te !== undefined && TE_TRAILERS.test(te)) out.push('te', 'trailers');
  if (r.host === undefined) out.push('host', r.upstreamAuthority);
  else if (!hostSent) out.push('host', r.host);
  if (!framed && !UNFRAMED_BY_DEFAULT.has(r.method ?? 'GET')) out.push('content-length', '0');
  out.push(
    'x-forwarded-for',
    append(xff, forwardedFor(r.remoteAddress)),
    'x-forwarded-port',
    xfPorts === 1 && PORT.test(xfPort!) ? xfPort! : r.listenPort !== undefined ? String(r.listenPort) : hostPort(r.host),
    'x-forwarded-proto',
    forwardedProto(xfProtos === 1 ? xfProto : undefined),
  );
  const xfh = xfHost || r.host;
  if (xfh !== undefined) out.push('x-forwarded-host', xfh);
  return out;
}
