/**
 * Request-target forms (RFC 9112 §3.2). Origin-form (`/path?query`) is forwarded as it is. Absolute-form
 * (`http://host/path`) is legal and every server must accept it (§3.2.2): it is rewritten in place to origin-form,
 * and `Host` is replaced by the target's authority, as the recipient must ignore the received Host then. Asterisk-form
 * (`OPTIONS *`) asks about the server as a whole: the proxy answers it itself (see forwarder/request.ts), since the upstream
 * path join would turn `*` into `/*`, a different request. Anything else is a 400.
 */
import type {IncomingMessage} from 'node:http';

export type RequestTarget = 'origin' | 'asterisk' | 'invalid';

// scheme "://" authority (no userinfo: RFC 9110 §4.2.4 forbids it in http(s) URIs) then path and query.
const ABSOLUTE_FORM = /^https?:\/\/([^/?#@\s]+)((?:[/?][^#]*)?)$/i;

export function normalizeRequestTarget(req: IncomingMessage): RequestTarget {
  const url = req.url ?? '';
  if (url.charCodeAt(0) === 0x2f /* '/' */) return 'origin';
  if (url === '*') return req.method === 'OPTIONS' ? 'asterisk' : 'invalid';
  const m = ABSOLUTE_FORM.exec(url);
  if (!m) return 'invalid';
  const rest = m[2]!;
  // Keep the path bytes as sent (no URL normalisation of dot segments or backslashes: the app decides).
  req.url = rest === '' ? '/' : rest.charCodeAt(0) === 0x3f /* '?' */ ? `/${rest}` : rest;
  req.headers.host = m[1]!;
  return 'origin';
}
