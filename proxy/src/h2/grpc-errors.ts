/**
 * gRPC over HTTP/2 (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): a call's outcome is the
 * `grpc-status` trailer, not the HTTP status. A gRPC client that meets a bare 502 maps it to UNAVAILABLE with a
 * message about a "malformed response" at best, so every error lameduck itself makes for a gRPC request is a gRPC
 * response: HTTP 200, `content-type: application/grpc`, and `grpc-status` + `grpc-message` in a trailers-only
 * response (one HEADERS frame with END_STREAM). Status codes: https://grpc.github.io/grpc/core/md_doc_statuscodes.html
 */
import type {IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http2';

export const GRPC_STATUS = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
});
export type GrpcStatus = (typeof GRPC_STATUS)[keyof typeof GRPC_STATUS];

/** The `grpc_status` label of lameduck_grpc_responses_total: the codes a drain is about by name, the rest by class. */
export const GRPC_STATUS_CLASSES = ['ok', 'cancelled', 'deadline_exceeded', 'resource_exhausted', 'unavailable', 'client_error', 'server_error', 'missing'] as const;
export type GrpcStatusClass = (typeof GRPC_STATUS_CLASSES)[number];

/** Codes that say the caller asked for something wrong (the app answered as it should). */
const CLIENT_CODES = new Set<number>([3, 5, 6, 7, 9, 11, 16]);

/** `grpc-status` as received (a string, maybe absent or garbage) -> its metric class. */
export function grpcStatusClass(value: unknown): GrpcStatusClass {
  if (value === undefined || value === null || value === '') return 'missing';
  const code = Number(value);
  if (!Number.isInteger(code)) return 'missing';
  switch (code) {
    case GRPC_STATUS.OK:
      return 'ok';
    case GRPC_STATUS.CANCELLED:
      return 'cancelled';
    case GRPC_STATUS.DEADLINE_EXCEEDED:
      return 'deadline_exceeded';
    case GRPC_STATUS.RESOURCE_EXHAUSTED:
      return 'resource_exhausted';
    case GRPC_STATUS.UNAVAILABLE:
      return 'unavailable';
    default:
      return CLIENT_CODES.has(code) ? 'client_error' : 'server_error';
  }
}

/** `application/grpc`, `application/grpc+proto`, `application/grpc+json`, ... (not `application/grpc-web`: HTTP/1.1 framing). */
export function isGrpcContentType(value: string | string[] | undefined): boolean {
  if (typeof value !== 'string' || !value.startsWith('application/grpc')) return false;
  const next = value.charCodeAt(16);
  // End, `+codec` or `;params`.
  return Number.isNaN(next) || next === 0x2b || next === 0x3b;
}

export function isGrpcRequest(headers: IncomingHttpHeaders): boolean {
  return isGrpcContentType(headers['content-type']);
}

/**
 * grpc-message is percent-encoded (PROTOCOL-HTTP2.md "Responses"): everything outside printable ASCII and `%`.
 */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The header block of a trailers-only response: send with `endStream: true`. */
export function grpcTrailersOnly(status: GrpcStatus, message: string): OutgoingHttpHeaders {
  return {':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(status), 'grpc-message': encodeGrpcMessage(message)};
}

/** Trailers that end a response whose headers were already sent. */
export function grpcTrailers(status: GrpcStatus, message: string): OutgoingHttpHeaders {
  return {'grpc-status': String(status), 'grpc-message': encodeGrpcMessage(message)};
}

/** What lameduck answers a gRPC request for each failure it makes itself (HTTP/1.1 would get 502/503/504). */
export const GRPC_FAILURES = Object.freeze({
  refused: {status: GRPC_STATUS.UNAVAILABLE, message: 'lameduck: upstream refused the connection'},
  reset: {status: GRPC_STATUS.UNAVAILABLE, message: 'lameduck: upstream closed the connection'},
  timeout: {status: GRPC_STATUS.DEADLINE_EXCEEDED, message: 'lameduck: upstream did not answer in time'},
  bad_response: {status: GRPC_STATUS.UNAVAILABLE, message: 'lameduck: upstream sent a malformed response'},
  other: {status: GRPC_STATUS.UNAVAILABLE, message: 'lameduck: upstream unavailable'},
  overloaded: {status: GRPC_STATUS.RESOURCE_EXHAUSTED, message: 'lameduck: too many streams waiting for the upstream'},
  deadline: {status: GRPC_STATUS.UNAVAILABLE, message: 'lameduck: drain deadline reached, retry on another endpoint'},
  closing: {status: GRPC_STATUS.UNAVAILABLE, message: 'lameduck: shutting down, retry on another endpoint'},
  h1Upstream: {status: GRPC_STATUS.UNIMPLEMENTED, message: 'lameduck: the upstream speaks HTTP/1.1; gRPC needs LAMEDUCK_UPSTREAM=h2c://host:port'},
} as const satisfies Record<string, {status: GrpcStatus; message: string}>);
