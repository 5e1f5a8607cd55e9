/**
 * The fuzz campaign's invariants, judged on what one client connection sent and got back and what the raw upstream
 * received meanwhile. The strict parser (strict-http1.ts) says what the client's bytes mean; the upstream's
 * `X-Fuzz-Seq` says which upstream request each relayed response answers.
 *
 * - lameduck is alive and its /healthz answers after the case; the connection ended (the server closed it, or closed
 *   it after the client's FIN) within the deadline;
 * - what came back is well-formed HTTP/1.1 responses, possibly cut short by a close, nothing after a response that
 *   closes the connection, at most one response beyond the client's complete requests (the refusal of a malformed
 *   one), and that one lameduck's own 4xx;
 * - the framing agrees: the i-th response relayed from the upstream answers an upstream request equal to the
 *   client's i-th request (method, target as request-target.ts rewrites it, body); every upstream request is one of the
 *   client's requests, at most once, never one the client got a 4xx/5xx for, never one sent after a response that
 *   closed the connection, never one after a `Connection: close` request; the upstream never sees bytes it cannot
 *   parse, never a field the client did not send (beyond those a proxy adds), never a request left half-sent on a
 *   connection that stays open; no 500/502/504 while the upstream answered everything.
 */
import {fieldValues, parseRequestStream, parseResponseStream, type ParsedRequest, type ParsedResponse} from './strict-http1.js';
import {SEQ_HEADER, type UpstreamError, type UpstreamRequest} from './raw-upstream.js';

export interface Observation {
  /** Every byte the client sent, in order. */
  readonly sent: Buffer;
  /** Every byte lameduck sent back on that connection. */
  readonly received: Buffer;
  /** How the connection ended: the server closed it (on its own or after the client's FIN), or it did not end. */
  readonly ended: 'closed' | 'hang';
  readonly upstream: {
    readonly requests: readonly UpstreamRequest[];
    readonly errors: readonly UpstreamError[];
    readonly leftPending: readonly {conn: number; pending: Buffer}[];
    /** Requests that reached the upstream after the previous run's checks and before this run's first byte. */
    readonly beforeStart?: readonly UpstreamRequest[];
  };
  /** lameduck still counted requests in flight this long after the connection ended (a leak), if it did. */
  readonly inFlightAfterMs?: number;
  readonly alive: boolean;
  readonly healthy: boolean;
  /** The previous run on the same lameduck: an upstream request of its arriving now was forwarded after it ended. */
  readonly previous?: {readonly sent: Buffer; readonly label: string};
}

export const VIOLATION_KINDS = [
  'crash',
  'health',
  'hang',
  'malformed-response',
  'bytes-after-close',
  'extra-response',
  'desync',
  'stale-response',
  'smuggled',
  'duplicate',
  'forwarded-but-refused',
  'forwarded-after-close',
  'forwarded-late',
  'upstream-malformed',
  'upstream-left-mid-request',
  'field-injected',
  'server-error',
] as const;
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

export interface Violation {
  readonly kind: ViolationKind;
  readonly detail: string;
}

/** Fields a proxy may add to a forwarded request (forwarded-headers.ts, and the framing undici writes). */
const ADDED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'te', 'x-forwarded-for', 'x-forwarded-port', 'x-forwarded-proto', 'x-forwarded-host']);
/**
 * Answers that blame the upstream (or lameduck itself); the raw upstream answers every request it can parse, so one of
 * these without an upstream error is lameduck's fault. 501 and 505 are lameduck refusing the request, not failing it.
 */
const GATEWAY_FAILURES = new Set([500, 502, 504]);
const ABSOLUTE_FORM = /^https?:\/\/([^/?#@\s]+)((?:[/?][^#]*)?)$/i;

/** The target the upstream should see for a client request (request-target.ts), or undefined: never forwarded. */
export function expectedTarget(r: ParsedRequest): string | undefined {
  if (r.method === 'CONNECT') return undefined;
  if (r.target.startsWith('/')) return r.target;
  const m = ABSOLUTE_FORM.exec(r.target);
  if (!m) return undefined;
  const rest = m[2]!;
  return rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
}

export function sameRequest(u: ParsedRequest, r: ParsedRequest): boolean {
  return u.method === r.method && u.target === expectedTarget(r) && u.body.equals(r.body);
}

const describe = (r: ParsedRequest): string => `${r.method} ${r.target.length > 60 ? r.target.slice(0, 60) + '…' : r.target} (${r.body.length}-byte body)`;

function seqOf(res: ParsedResponse): number | undefined {
  const v = fieldValues(res.fields, SEQ_HEADER);
  return v.length === 1 && /^\d+$/.test(v[0]!) ? Number(v[0]) : undefined;
}

/** Every request in a stream, those after one that closes the connection included. */
function allRequests(sent: Buffer): ParsedRequest[] {
  const out: ParsedRequest[] = [];
  let rest = sent;
  for (let i = 0; i < 100 && rest.length > 0; i++) {
    const r = parseRequestStream(rest);
    out.push(...r.requests);
    if (r.end.kind !== 'closed') break;
    rest = rest.subarray(r.end.at);
  }
  return out;
}

export function checkCase(o: Observation): Violation[] {
  const out: Violation[] = [];
  const add = (kind: ViolationKind, detail: string): void => void out.push({kind, detail});
  if (!o.alive) add('crash', 'lameduck exited');
  else if (!o.healthy) add('health', '/healthz did not answer 200');
  if (o.ended === 'hang') add('hang', 'the connection was still open at the deadline after the client stopped sending');

  const ref = parseRequestStream(o.sent);
  const requests = ref.requests;
  // Requests pipelined after one that closes the connection: the server must not process them (RFC 9112 §9.6).
  const afterClose = ref.end.kind === 'closed' ? parseRequestStream(o.sent.subarray(ref.end.at)).requests : [];
  const refEnd = ref.end.kind === 'error' ? `a malformed request (${ref.end.reason}) at byte ${ref.end.at}` : ref.end.kind === 'incomplete' ? `an incomplete request at byte ${ref.end.at}` : ref.end.kind === 'closed' ? `a request that closes the connection, then ${ref.end.rest} bytes` : 'nothing more';

  const got = parseResponseStream(o.received, requests.map((r) => r.method), true);
  const responses = got.responses;
  if (got.end.kind === 'error') add('malformed-response', `after ${responses.length} response(s): ${got.end.reason} at byte ${got.end.at} of the response stream`);
  if (got.end.kind === 'closed') add('bytes-after-close', `${got.end.rest} bytes after response ${responses.length}, which closes the connection`);

  const previous = o.previous === undefined ? [] : allRequests(o.previous.sent);
  const bySeq = new Map(o.upstream.requests.map((u) => [u.seq, u]));
  /** upstream seq -> the client request index it was matched to. */
  const matched = new Map<number, number>();
  const closedAt = responses.findIndex((r) => r.close);

  responses.forEach((res, i) => {
    const seq = seqOf(res);
    if (i >= requests.length) {
      if (seq !== undefined) {
        const u = bySeq.get(seq);
        add('extra-response', `response ${i + 1} was relayed from the upstream (${u ? describe(u.request) : `seq ${seq}`}), but the client sent ${requests.length} complete request(s), then ${refEnd}`);
      } else if (i > requests.length || (ref.end.kind !== 'error' && ref.end.kind !== 'incomplete')) {
        add('extra-response', `response ${i + 1} (${res.status}) answers no request: the client sent ${requests.length} complete request(s), then ${refEnd}`);
      } else if (GATEWAY_FAILURES.has(res.status) && o.upstream.errors.length === 0) {
        // lameduck's own answer to the malformed or unfinished request (400, 408, 413, 431, or an early answer such
        // as OPTIONS * before its body): fine, unless it blames an upstream that answered everything.
        add('server-error', `response ${i + 1} is ${res.status} ${res.reason} to ${refEnd}, although the upstream answered every request`);
      }
      return;
    }
    if (seq === undefined) {
      if (GATEWAY_FAILURES.has(res.status) && o.upstream.errors.length === 0) add('server-error', `response ${i + 1} is ${res.status} ${res.reason} to ${describe(requests[i]!)} although the upstream answered every request`);
      return;
    }
    const u = bySeq.get(seq);
    if (!u) {
      add('stale-response', `response ${i + 1} carries upstream seq ${seq}, which the upstream did not receive during this case`);
      return;
    }
    if (!sameRequest(u.request, requests[i]!)) {
      add('desync', `response ${i + 1} answers upstream request ${describe(u.request)}, but the client's request ${i + 1} is ${describe(requests[i]!)}`);
    }
    matched.set(seq, i);
  });

  const taken = new Set(matched.values());
  for (const u of o.upstream.requests) {
    let i = matched.get(u.seq);
    if (i === undefined) {
      i = requests.findIndex((r, j) => !taken.has(j) && sameRequest(u.request, r));
      if (i < 0) {
        if (requests.some((r) => sameRequest(u.request, r))) add('duplicate', `the upstream received ${describe(u.request)} more than once`);
        else if (afterClose.some((r) => sameRequest(u.request, r))) add('forwarded-after-close', `the upstream received ${describe(u.request)}, pipelined after a request with Connection: close`);
        else if (previous.some((r) => sameRequest(u.request, r))) add('forwarded-late', `the upstream received ${describe(u.request)} from the previous connection (${o.previous!.label}) after that connection had ended`);
        else add('smuggled', `the upstream received ${describe(u.request)}, which the client never sent as a request (the client sent ${requests.length} complete request(s), then ${refEnd})`);
        continue;
      }
      taken.add(i);
      const res = responses[i];
      if (res !== undefined && seqOf(res) === undefined && res.status >= 400) {
        add('forwarded-but-refused', `the client got ${res.status} for its request ${i + 1}, ${describe(requests[i]!)}, which the upstream received complete`);
      }
    }
    if (closedAt >= 0 && i > closedAt) add('forwarded-after-close', `the upstream received request ${i + 1} (${describe(u.request)}) after response ${closedAt + 1} closed the connection`);
    const sentNames = new Set([...requests[i]!.fields, ...requests[i]!.trailers].map((f) => f.name.toLowerCase()));
    const injected = [...u.request.fields, ...u.request.trailers].map((f) => f.name.toLowerCase()).filter((n) => !sentNames.has(n) && !ADDED.has(n));
    if (injected.length > 0) add('field-injected', `the upstream request ${describe(u.request)} has field(s) the client did not send: ${injected.join(', ')}`);
  }
  for (const u of o.upstream.beforeStart ?? []) {
    if (previous.some((r) => sameRequest(u.request, r))) add('forwarded-late', `the upstream received ${describe(u.request)} from the previous connection (${o.previous!.label}) after that connection had ended and lameduck counted nothing in flight`);
    else add('smuggled', `between two cases the upstream received ${describe(u.request)}, which no client sent`);
  }
  if (o.inFlightAfterMs !== undefined) add('hang', `lameduck still counted requests in flight ${o.inFlightAfterMs} ms after the connection ended`);
  for (const e of o.upstream.errors) add('upstream-malformed', `upstream connection ${e.conn}: ${e.reason}; bytes ${JSON.stringify(e.bytes.toString('latin1').slice(0, 200))}`);
  for (const p of o.upstream.leftPending) add('upstream-left-mid-request', `upstream connection ${p.conn} holds ${p.pending.length} bytes of an unfinished request and stays open`);
  return out;
}
