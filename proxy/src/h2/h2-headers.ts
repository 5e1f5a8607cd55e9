/**
 * Header lists across an HTTP/2 hop. HTTP/2 has no connection-specific fields: a message carrying `Connection`,
 * `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding` or `Upgrade`, or `TE` other than `trailers`, is malformed
 * (RFC 9113 §8.2.2), and node:http2 refuses to send one. So they go in both directions — from an HTTP/1.1 app's
 * response too, with every field its `Connection` names (RFC 9110 §7.6.1). Pseudo-header fields are rebuilt per hop.
 * X-Forwarded-For/-Proto/-Host are written as on the HTTP/1.1 path (forwarded-headers.ts).
 */
import type {IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http2';
import {connectionOptions, TE_TRAILERS} from '../hop-by-hop.js';
import {forwardedFor} from '../forwarded-headers.js';

const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'] as const;

function removeConnectionSpecific(h: Record<string, unknown>): void {
  const named = h.connection;
  if (named !== undefined) {
    for (const option of connectionOptions(named as string | string[])) {
      // Never the framing or the target (hop-by-hop.ts explains why), never a pseudo-header.
      if (option !== 'content-length' && option !== 'host' && option[0] !== ':') delete h[option];
    }
  }
  for (const name of CONNECTION_SPECIFIC) if (h[name] !== undefined) delete h[name];
  const te = h.te;
  if (te !== undefined) {
    if (TE_TRAILERS.test(Array.isArray(te) ? te.join(',') : String(te))) h.te = 'trailers';
    else delete h.te;
  }
}

function append(existing: unknown, value: string): string {
  if (existing === undefined || existing === '') return value;
  return `${Array.isArray(existing) ? existing.join(',') : String(existing)},${value}`;
}

/**
 * The request header block to send to an HTTP/2 app: the client's fields (pseudo-headers included, as received)
 * minus the connection-specific ones, plus X-Forwarded-*. Edits and returns `headers` itself: node hands each
 * stream a fresh object of its own (a null-prototype dictionary, slow to copy), and the proxy is its only reader.
 */
export function h2RequestHeaders(headers: IncomingHttpHeaders, remoteAddress: string | undefined): OutgoingHttpHeaders {
  const out = headers as Record<string, unknown>;
  removeConnectionSpecific(out);
  addForwarded(out, headers[':authority'] ?? headers.host, remoteAddress);
  return out as OutgoingHttpHeaders;
}

function addForwarded(out: Record<string, unknown>, authority: string | undefined, remoteAddress: string | undefined): void {
  out['x-forwarded-for'] = append(out['x-forwarded-for'], forwardedFor(remoteAddress));
  out['x-forwarded-proto'] = append(out['x-forwarded-proto'], 'http');
  if (out['x-forwarded-host'] === undefined && authority !== undefined) out['x-forwarded-host'] = authority;
}

/**
 * The same request for an HTTP/1.1 app (node:http): no pseudo-headers; `:authority` becomes Host (RFC 9113
 * §8.3.1); node:http2 has already joined repeated Cookie fields with "; " (§8.2.3).
 */
export function h1RequestHeaders(headers: IncomingHttpHeaders, remoteAddress: string | undefined): Record<string, string | string[]> {
  const out: Record<string, unknown> = {};
  for (const name in headers) if (name[0] !== ':') out[name] = headers[name];
  removeConnectionSpecific(out);
  const authority = headers[':authority'] ?? headers.host;
  if (authority !== undefined) out.host = authority;
  addForwarded(out, authority, remoteAddress);
  return out as Record<string, string | string[]>;
}

/**
 * An HTTP/2 app's response header block for the client: `:status` and the end-to-end fields. Edits and returns
 * `headers` itself, as h2RequestHeaders does.
 */
export function h2ResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  removeConnectionSpecific(headers as Record<string, unknown>);
  return headers as OutgoingHttpHeaders;
}

/** An HTTP/1.1 app's response head (node:http rawHeaders) as an HTTP/2 header block. */
export function h1ToH2ResponseHeaders(status: number, raw: readonly string[]): OutgoingHttpHeaders {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const existing = out[name];
    if (existing === undefined) out[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[name] = [existing as string, value];
  }
  removeConnectionSpecific(out);
  // HTTP/2 carries no reason phrase and frames bodies itself; Content-Length stays (it must match the DATA sent).
  out[':status'] = status;
  return out as OutgoingHttpHeaders;
}

/** Trailer fields as received (pseudo-headers cannot appear in trailers; connection-specific ones are dropped). */
export function trailerHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: Record<string, unknown> = {};
  for (const name in headers) if (name[0] !== ':') out[name] = headers[name];
  removeConnectionSpecific(out);
  return out as OutgoingHttpHeaders;
}

/**
 * An HTTP/1.1 request's fields (node:http's lower-cased `req.headers`, hop-by-hop already removed) as an HTTP/2
 * header block for an h2c app: Host becomes `:authority` (RFC 9113 §8.3.1), `Expect` goes (node:http has answered
 * `100 Continue`), plus X-Forwarded-*.
 */
export function h1ToH2RequestHeaders(
  method: string,
  path: string,
  headers: import('node:http').IncomingHttpHeaders,
  authority: string,
  remoteAddress: string | undefined,
): OutgoingHttpHeaders {
  const out: Record<string, unknown> = {};
  for (const name in headers) {
    if (name === 'host' || name === 'expect' || name === 'http2-settings') continue;
    out[name] = headers[name];
  }
  removeConnectionSpecific(out);
  addForwarded(out, headers.host, remoteAddress);
  out[':method'] = method;
  out[':path'] = path;
  out[':scheme'] = 'http';
  out[':authority'] = headers.host || authority;
  return out as OutgoingHttpHeaders;
}
